"""Real checkpoints for the ckpt_tools tests, written by torch the way each trainer writes them."""

from __future__ import annotations

import argparse
import os
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn
from torch.optim.lr_scheduler import CosineAnnealingWarmRestarts

SEED_LR, SEED_T0, SEED_ETA_MIN = 0.05, 30, 1e-5


def tiny_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))


def sgd(model: nn.Module, lr: float = SEED_LR) -> torch.optim.SGD:
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=1e-4)


def train_epoch(model: nn.Module, opt: torch.optim.Optimizer) -> float:
    """One optimizer step standing for an epoch; returns the LR it used."""
    lr = opt.param_groups[0]["lr"]
    x = torch.randn(8, 4)
    loss = nn.functional.cross_entropy(model(x), torch.randint(0, 3, (8,)))
    opt.zero_grad()
    loss.backward()
    opt.step()
    return lr


def run_epochs(model: nn.Module, opt: torch.optim.Optimizer, sched: object, n: int) -> list:
    """Train and step the scheduler once per epoch, as train.py does; the LRs used."""
    lrs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for _ in range(n):
            lrs.append(train_epoch(model, opt))
            sched.step()
    return lrs


def seed_scheduler(opt: torch.optim.Optimizer) -> CosineAnnealingWarmRestarts:
    return CosineAnnealingWarmRestarts(opt, T_0=SEED_T0, T_mult=1, eta_min=SEED_ETA_MIN)


def torchvision_args(**extra: object) -> argparse.Namespace:
    fields = dict(lr=SEED_LR, epochs=100, lr_scheduler="cosineannealingwarmrestarts",
                  lr_warmup_epochs=0, lr_min=SEED_ETA_MIN, output_dir="out")
    return argparse.Namespace(**(fields | extra))


def torchvision_checkpoint(path: Path, epochs_done: int,
                           make_scheduler: Callable = seed_scheduler,
                           args: argparse.Namespace | None = None) -> Path:
    """torchvision references/classification/train.py's checkpoint after `epochs_done` epochs
    (`epoch` is the 0-based index of the last epoch trained)."""
    model = tiny_model()
    opt = sgd(model)
    sched = make_scheduler(opt)
    run_epochs(model, opt, sched, epochs_done)
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                "lr_scheduler": sched.state_dict(), "epoch": epochs_done - 1,
                "args": args or torchvision_args()}, path)
    return path


def torchvision_resume(path: Path, make_scheduler: Callable, epochs: int) -> tuple[list, dict]:
    """Resume as train.py does (weights-only load, Namespace allowed); the LRs of `epochs`
    epochs and the loaded checkpoint."""
    model = tiny_model()
    opt = sgd(model)
    sched = make_scheduler(opt)
    with torch.serialization.safe_globals([argparse.Namespace]):
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(ckpt["model"])
    opt.load_state_dict(ckpt["optimizer"])
    sched.load_state_dict(ckpt["lr_scheduler"])
    return run_epochs(model, opt, sched, epochs), ckpt


class Payload:
    """Pickles as a call to os.system that would create a marker file."""

    def __init__(self, marker) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))
