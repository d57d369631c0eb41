"""`python -m runwatch.ckpt_tools ACTION ...`: `runwatch ckpt ACTION ...` without loading the
other parts' modules (faster start)."""

import sys

from runwatch.cli import part_main

sys.exit(part_main("runwatch.ckpt_tools.cli", "ckpt", "python -m runwatch.ckpt_tools"))
