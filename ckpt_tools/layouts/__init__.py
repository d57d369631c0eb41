"""The checkpoint layouts, one adapter module per trainer family, tried in this order.

Adding a trainer is adding a module with a `Layout` subclass and its entry here; nothing else
in ckpt_tools knows layouts by name.
"""

from __future__ import annotations

from runwatch.ckpt_tools.layouts.accelerate import Accelerate
from runwatch.ckpt_tools.layouts.base import CheckpointView, Layout, args_get
from runwatch.ckpt_tools.layouts.handwritten import HandWritten
from runwatch.ckpt_tools.layouts.hf_trainer import HfTrainer
from runwatch.ckpt_tools.layouts.lightning import Lightning
from runwatch.ckpt_tools.layouts.runwatch import Runwatch
from runwatch.ckpt_tools.layouts.state_dict import StateDict
from runwatch.ckpt_tools.layouts.timm import Timm
from runwatch.ckpt_tools.layouts.torchvision import Torchvision
from runwatch.ckpt_tools.load import LoadedCheckpoint
from runwatch.ckpt_tools.tree import Hints

# Most specific first: a file is read by the first layout whose detect() accepts it.
LAYOUTS: tuple[Layout, ...] = (Runwatch(), HfTrainer(), Accelerate(), Lightning(), Timm(),
                               Torchvision(), HandWritten(), StateDict())


def detect(loaded: LoadedCheckpoint, hints: Hints | None = None) -> CheckpointView:
    """The view of `loaded` by the first layout that recognises it."""
    for layout in LAYOUTS:
        if layout.detect(loaded):
            return layout.read(loaded, hints or Hints())
    raise AssertionError("StateDict accepts everything")


__all__ = ["LAYOUTS", "CheckpointView", "Layout", "args_get", "detect"]
