"""Hand-written training loops, each saving the way one common hand-written checkpoint does.

- "tutorial": PyTorch's "saving and loading a general checkpoint" tutorial:
  `{epoch, model_state_dict, optimizer_state_dict, scheduler_state_dict, loss}`, `epoch` the
  index of the epoch just finished, resumed at `epoch + 1`;
- "classic": `{model, optimizer, scheduler, epoch, best_acc1}`, `epoch` the count of epochs
  finished, resumed at `epoch`;
- "short": `{net, opt, sched}` and no epoch counter at all;
- "nested": `{model, train: {optimizer, scheduler, epoch}}`, one level down, `epoch` a count.
Each loop steps its scheduler after every epoch, or after every optimizer step (`per_step`),
and resumes the way such loops do: build the optimizer and scheduler in code, then
load_state_dict the stored states.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from ckpt_builders import sgd, tiny_model, train_epoch

STEPS = 4  # optimizer steps per epoch of a per-step loop
LAYOUTS = ("tutorial", "classic", "short", "nested")


def _save(layout: str, path: Path, model, opt, sched, epoch_index: int) -> None:
    done = epoch_index + 1
    states = {"tutorial": lambda: {"epoch": epoch_index, "model_state_dict": model.state_dict(),
                                   "optimizer_state_dict": opt.state_dict(),
                                   "scheduler_state_dict": sched.state_dict(), "loss": 0.5},
              "classic": lambda: {"model": model.state_dict(), "optimizer": opt.state_dict(),
                                  "scheduler": sched.state_dict(), "epoch": done,
                                  "best_acc1": 50.0},
              "short": lambda: {"net": model.state_dict(), "opt": opt.state_dict(),
                                "sched": sched.state_dict()},
              "nested": lambda: {"model": model.state_dict(),
                                 "train": {"optimizer": opt.state_dict(),
                                           "scheduler": sched.state_dict(), "epoch": done}}}
    torch.save(states[layout](), path)


def _load(layout: str, path: Path, model, opt, sched) -> int | None:
    """Load the states; the epoch to resume at (None: the file does not say)."""
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    parts = {"tutorial": ("model_state_dict", "optimizer_state_dict", "scheduler_state_dict"),
             "classic": ("model", "optimizer", "scheduler"), "short": ("net", "opt", "sched")}
    if layout == "nested":
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["train"]["optimizer"])
        sched.load_state_dict(ckpt["train"]["scheduler"])
        return ckpt["train"]["epoch"]
    m, o, s = parts[layout]
    model.load_state_dict(ckpt[m])
    opt.load_state_dict(ckpt[o])
    sched.load_state_dict(ckpt[s])
    return {"tutorial": lambda: ckpt["epoch"] + 1, "classic": lambda: ckpt["epoch"],
            "short": lambda: None}[layout]()


def run(layout: str, make: Callable, epochs: int, folder: Path, per_step: bool = False,
        resume: Path | None = None, start: int | None = None,
        metric: Callable[[int], float] | None = None) -> list[float]:
    """Train to `epochs` (from `resume`, at the epoch the file says or `start`), saving
    `epoch-N.pt` after each epoch N (0-based); the LR of every optimizer step."""
    model = tiny_model()
    opt = sgd(model, lr=0.1)
    sched = make(opt)
    first = 0
    if resume is not None:
        said = _load(layout, resume, model, opt, sched)
        first = said if said is not None else start
    lrs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for epoch in range(first, epochs):
            for _ in range(STEPS if per_step else 1):
                lrs.append(train_epoch(model, opt))
                if per_step:
                    sched.step()
            if not per_step:
                sched.step(metric(epoch)) if metric else sched.step()
            _save(layout, folder / f"epoch-{epoch}.pt", model, opt, sched, epoch)
    return lrs
