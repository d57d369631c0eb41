"""`python -m trainer --config ...`, also under `torchrun --nproc-per-node N -m trainer ...`."""

import sys

from trainer.cli import main

sys.exit(main())
