"""The planned LR of every epoch, from the user's own scheduler: a copy of it (and of its
optimizer, without the optimizer's state) is stepped over the planned epochs or steps, so the
plan is what the run will do, whatever the schedule (torch's, Hugging Face's, a LambdaLR).

Torch-free in itself: it only calls the scheduler it is given.
"""

from __future__ import annotations

import copy
import math
import warnings

MAX_PLAN_STEPS = 2_000_000  # ~10 s of stepping; a longer plan is left unknown


def copy_scheduler(scheduler: object) -> object:
    """A deep copy of `scheduler` whose optimizer copy shares the parameters and starts with
    an empty state (the momentum buffers of a large model are not copied)."""
    optimizer = scheduler.optimizer
    memo = {id(p): p for group in optimizer.param_groups for p in group["params"]}
    memo[id(optimizer.state)] = {}
    return copy.deepcopy(scheduler, memo)


def planned_lrs(scheduler: object, epochs: int, steps_per_epoch: int = 1, *,
                per_step: bool = False, done_epochs: int = 0) -> list[float] | None:
    """The LR of the first step of every epoch 1..`epochs` (NaN for the `done_epochs` before
    where the scheduler stands now). `per_step`: the scheduler is stepped after every optimizer
    step (`steps_per_epoch` a epoch), else once an epoch. None when it cannot be stepped ahead
    (ReduceLROnPlateau waits on a metric) or the plan would take over MAX_PLAN_STEPS steps."""
    ahead = epochs - done_epochs
    steps = steps_per_epoch if per_step else 1
    if ahead < 0 or steps < 1 or ahead * steps > MAX_PLAN_STEPS:
        return None
    try:
        twin = copy_scheduler(scheduler)
        group = twin.optimizer.param_groups[0]
        lrs = [math.nan] * done_epochs
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "scheduler.step() before optimizer.step()"
            for _ in range(ahead):
                lrs.append(float(group["lr"]))
                for _ in range(steps):
                    twin.step()
    except Exception:  # noqa: BLE001 - any scheduler of the user's: the plan is then unknown
        return None
    return lrs if all(math.isfinite(v) for v in lrs[done_epochs:]) else None


def constant_plan(lr: float, epochs: int) -> list[float]:
    """The plan without a scheduler: the optimizer's LR every epoch."""
    return [float(lr)] * epochs
