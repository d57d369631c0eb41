"""A mirror of torchvision's classification reference, as far as schedules and checkpoints go.

torchvision's `references/classification/train.py` (pytorch/vision) is a script, not a
package: it cannot be installed, and its code is not copied here. This module mirrors, line
for line in behaviour, the three parts of it the checkpoint tools depend on:
- the scheduler it builds from its arguments (`--lr-scheduler steplr|cosineannealinglr|
  exponentiallr`, `--lr-step-size`, `--lr-gamma`, `--lr-min`, `--lr-warmup-epochs`,
  `--lr-warmup-method linear|constant`, `--lr-warmup-decay`): `build_scheduler`;
- the checkpoint dict it saves after every epoch (`model`, `optimizer`, `lr_scheduler`,
  `epoch` = the epoch's index, `args`): `train`;
- its resume: build the scheduler from the (new) arguments, load the checkpoint with
  `weights_only=True`, load the optimizer and scheduler states, `start_epoch = epoch + 1`, one
  `lr_scheduler.step()` after each epoch: `train(..., resume=PATH)`.
Its argument defaults are the script's (`--lr-step-size 30`, `--lr-gamma 0.1`, `--lr-min 0.0`,
`--lr-warmup-method constant`, `--lr-warmup-decay 0.01`).
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import torch
from ckpt_builders import tiny_model, train_epoch

DEFAULTS = dict(lr=0.1, momentum=0.9, weight_decay=1e-4, epochs=12, lr_scheduler="steplr",
                lr_step_size=30, lr_gamma=0.1, lr_min=0.0, lr_warmup_epochs=0,
                lr_warmup_method="constant", lr_warmup_decay=0.01, output_dir="out")


def reference_args(**changes: object) -> argparse.Namespace:
    return argparse.Namespace(**(DEFAULTS | changes))


def build_scheduler(optimizer: torch.optim.Optimizer, args: argparse.Namespace):
    """train.py's scheduler construction (its `main`)."""
    args.lr_scheduler = args.lr_scheduler.lower()
    if args.lr_scheduler == "steplr":
        main_lr_scheduler = torch.optim.lr_scheduler.StepLR(
            optimizer, step_size=args.lr_step_size, gamma=args.lr_gamma)
    elif args.lr_scheduler == "cosineannealinglr":
        main_lr_scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=args.epochs - args.lr_warmup_epochs, eta_min=args.lr_min)
    elif args.lr_scheduler == "exponentiallr":
        main_lr_scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=args.lr_gamma)
    else:
        raise RuntimeError(f"Invalid lr scheduler '{args.lr_scheduler}'")
    if args.lr_warmup_epochs > 0:
        if args.lr_warmup_method == "linear":
            warmup_lr_scheduler = torch.optim.lr_scheduler.LinearLR(
                optimizer, start_factor=args.lr_warmup_decay, total_iters=args.lr_warmup_epochs)
        elif args.lr_warmup_method == "constant":
            warmup_lr_scheduler = torch.optim.lr_scheduler.ConstantLR(
                optimizer, factor=args.lr_warmup_decay, total_iters=args.lr_warmup_epochs)
        else:
            raise RuntimeError(f"Invalid warmup lr method '{args.lr_warmup_method}'")
        return torch.optim.lr_scheduler.SequentialLR(
            optimizer, schedulers=[warmup_lr_scheduler, main_lr_scheduler],
            milestones=[args.lr_warmup_epochs])
    return main_lr_scheduler


def train(args: argparse.Namespace, output_dir: Path, stop_epoch: int | None = None,
          resume: Path | None = None) -> list[float]:
    """train.py's epoch loop from its start (or `--resume`) to `stop_epoch` (default
    `args.epochs`), saving `model_{epoch}.pth` after each epoch; the LR each epoch used."""
    model = tiny_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum,
                                weight_decay=args.weight_decay)
    lr_scheduler = build_scheduler(optimizer, args)
    start_epoch = 0
    if resume:
        # torch >= 2.6: the stored args Namespace must be allowed for a weights-only load.
        with torch.serialization.safe_globals([argparse.Namespace]):
            checkpoint = torch.load(resume, map_location="cpu", weights_only=True)
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        lr_scheduler.load_state_dict(checkpoint["lr_scheduler"])
        start_epoch = checkpoint["epoch"] + 1
    lrs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for epoch in range(start_epoch, args.epochs if stop_epoch is None else stop_epoch):
            lrs.append(train_epoch(model, optimizer))
            lr_scheduler.step()
            checkpoint = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                          "lr_scheduler": lr_scheduler.state_dict(), "epoch": epoch,
                          "args": args}
            torch.save(checkpoint, output_dir / f"model_{epoch}.pth")
    return lrs
