"""torch LR schedulers built from a ScheduleSpec, giving exactly `trainer.schedule.lr_at`.

The scheduler is stepped once per epoch, after the epoch, or, for a per-step spec
(`steps_per_epoch` > 1), after every optimizer step and built from `step_scaled(spec)`. Built
as the seed run's kind of trainer builds them (the mapping `tests/test_schedule.py` checks):
CosineAnnealingWarmRestarts / CosineAnnealingLR(T_max=epochs - warmup) /
MultiStepLR(milestones - warmup) / ConstantLR(factor=1), inside SequentialLR after a LinearLR
when the spec has warmup. A spec's `offset` is not part of the scheduler: it is where the
scheduler stands, so `position_scheduler` steps a fresh one `scheduler_steps(...)` times.
"""

from __future__ import annotations

import warnings

import torch
from torch.optim.lr_scheduler import (
    ConstantLR,
    CosineAnnealingLR,
    CosineAnnealingWarmRestarts,
    LinearLR,
    LRScheduler,
    MultiStepLR,
    SequentialLR,
)

from runwatch.schedule import ScheduleSpec, scheduler_steps, step_scaled


def build_scheduler(optimizer: torch.optim.Optimizer, spec: ScheduleSpec) -> LRScheduler:
    """A fresh scheduler for `spec` whose first epoch runs at `lr_at(spec, 1 + offset)` (and,
    per step, whose steps run at `lr_at_step`).

    Sets every param group's `lr` and `initial_lr` to `spec.base_lr` first, so a scheduler
    built on a loaded optimizer starts from the spec, not from the optimizer's old values.
    """
    spec = step_scaled(spec)  # the spec itself when stepped per epoch
    for group in optimizer.param_groups:
        group["lr"] = spec.base_lr
        group["initial_lr"] = spec.base_lr
    w = spec.warmup_epochs
    if spec.name == "cosine_restarts":
        main: LRScheduler = CosineAnnealingWarmRestarts(
            optimizer, T_0=spec.t0, T_mult=spec.t_mult, eta_min=spec.eta_min)
    elif spec.name == "cosine":
        main = CosineAnnealingLR(optimizer, T_max=spec.epochs - w, eta_min=spec.eta_min)
    elif spec.name == "step":
        main = MultiStepLR(optimizer, milestones=[m - w for m in spec.milestones],
                           gamma=spec.gamma)
    else:
        main = ConstantLR(optimizer, factor=1.0, total_iters=0)
    if not w:
        return main
    warm = LinearLR(optimizer, start_factor=spec.warmup_start_factor, total_iters=w)
    return SequentialLR(optimizer, [warm, main], milestones=[w])


def position_scheduler(
    optimizer: torch.optim.Optimizer, spec: ScheduleSpec, epochs_done: int,
    step_in_epoch: int = 0,
) -> LRScheduler:
    """A scheduler for `spec` standing after `epochs_done` epochs (per step: and after
    `step_in_epoch` steps of the next): the next epoch runs at `lr_at(spec, epochs_done + 1)`.

    Steps a fresh scheduler as a run from the schedule's start would have (torch's chainable
    forms depend on that path), leaving the optimizer's other state (momentum) untouched.
    """
    scheduler = build_scheduler(optimizer, spec)
    with warnings.catch_warnings():
        # "lr_scheduler.step() before optimizer.step()": intended, no training happens here.
        warnings.simplefilter("ignore", UserWarning)
        for _ in range(scheduler_steps(spec, epochs_done, step_in_epoch)):
            scheduler.step()
    return scheduler


def current_lr(optimizer: torch.optim.Optimizer) -> float:
    """The LR the next optimizer step uses (all groups share it)."""
    return float(optimizer.param_groups[0]["lr"])
