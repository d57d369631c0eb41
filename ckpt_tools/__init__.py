"""Checkpoint surgery: read, preview, edit and rewind checkpoints without running their code.

The API the TUI and the CLI use (see docs/ckpt-tools.md). Importing this package is cheap:
torch is imported only to read legacy (non-zip) files.
"""

from runwatch.ckpt_tools.diff import CheckpointDiff, diff_checkpoints
from runwatch.ckpt_tools.edit import write_edit
from runwatch.ckpt_tools.inspect import CheckpointInfo, inspect_checkpoint
from runwatch.ckpt_tools.plan import EditPlan, EditRequest, plan_edit
from runwatch.ckpt_tools.rewind import (
    RewindPlan,
    RewindResult,
    apply_rewind,
    plan_rewind,
    train_command,
)
from runwatch.ckpt_tools.write import free_name

__all__ = [
    "CheckpointDiff", "CheckpointInfo", "EditPlan", "EditRequest", "RewindPlan", "RewindResult",
    "apply_rewind", "diff_checkpoints", "free_name", "inspect_checkpoint", "plan_edit",
    "plan_rewind", "train_command", "write_edit",
]
