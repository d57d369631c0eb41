"""`python -m runwatch.trainer --config ...`, also under `torchrun --nproc-per-node N -m
runwatch.trainer ...` (every rank runs it)."""

import sys

from runwatch.cli import part_main

sys.exit(part_main("runwatch.trainer.cli", "train", "python -m runwatch.trainer"))
