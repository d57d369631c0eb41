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
from runwatch.errors import RunwatchError

# Most specific first: a file is read by the first layout whose detect() accepts it.
LAYOUTS: tuple[Layout, ...] = (Runwatch(), HfTrainer(), Accelerate(), Lightning(), Timm(),
                               Torchvision(), HandWritten(), StateDict())


def detect(loaded: LoadedCheckpoint, hints: Hints | None = None) -> CheckpointView:
    """The view of `loaded` by the first layout that recognises it; a hint that layout does
    not use is refused (silently ignored, it would look as if it had been followed)."""
    hints = hints or Hints()
    for layout in LAYOUTS:
        if layout.detect(loaded):
            for name, value in hints.given().items():
                if name not in layout.uses_hints:
                    flag = "--" + name.replace("_", "-")
                    raise RunwatchError(f"{flag} {value}: a {layout.name} checkpoint does not "
                                        f"use it (its layout finds this itself): leave "
                                        f"{flag} out")
            return layout.read(loaded, hints)
    raise AssertionError("StateDict accepts everything")


__all__ = ["LAYOUTS", "CheckpointView", "Layout", "args_get", "detect"]
