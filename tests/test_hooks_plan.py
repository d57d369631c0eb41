"""The planned LR of every epoch from a user's own torch scheduler: a copy stepped ahead."""

from __future__ import annotations

import math

import pytest
import torch

from runwatch.hooks.plan import planned_lrs


def optimizer(lr: float = 0.1) -> torch.optim.Optimizer:
    param = torch.nn.Parameter(torch.zeros(256, 256))
    opt = torch.optim.SGD([param], lr=lr, momentum=0.9)
    param.grad = torch.ones_like(param)
    opt.step()  # a momentum buffer: state the copy must not take
    return opt


def used_lrs(scheduler, epochs: int, steps: int = 1) -> list[float]:
    """What the real scheduler gives at the first step of each epoch, stepped for real."""
    out = []
    for _ in range(epochs):
        out.append(scheduler.optimizer.param_groups[0]["lr"])
        for _ in range(steps):
            scheduler.optimizer.step()
            scheduler.step()
    return out


def warmup_cosine(opt: torch.optim.Optimizer, total: int) -> object:
    sched = torch.optim.lr_scheduler
    return sched.SequentialLR(opt, [sched.LinearLR(opt, 0.1, total_iters=3),
                                    sched.CosineAnnealingLR(opt, total - 3)], milestones=[3])


def test_a_per_epoch_plan_is_what_the_scheduler_then_does_and_it_stays_untouched():
    opt = optimizer()
    scheduler = warmup_cosine(opt, 20)
    before = scheduler.state_dict()
    plan = planned_lrs(scheduler, 20)
    assert scheduler.state_dict() == before and opt.param_groups[0]["lr"] == pytest.approx(0.01)
    assert len(opt.state) == 1  # the real optimizer keeps its momentum
    assert plan == pytest.approx(used_lrs(scheduler, 20))


def test_a_per_step_plan_reads_each_epochs_first_step_and_a_resume_pads_with_nan():
    def one_cycle() -> object:
        return torch.optim.lr_scheduler.OneCycleLR(optimizer(), max_lr=0.5, total_steps=60)

    scheduler = one_cycle()
    plan = planned_lrs(scheduler, 6, 10, per_step=True)
    assert plan == pytest.approx(used_lrs(one_cycle(), 6, 10))
    used_lrs(scheduler, 2, 10)  # two epochs trained: the plan from here on
    resumed = planned_lrs(scheduler, 6, 10, per_step=True, done_epochs=2)
    assert all(math.isnan(v) for v in resumed[:2]) and resumed[2:] == pytest.approx(plan[2:])


def test_plans_that_cannot_be_made_are_none():
    opt = optimizer()
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt)  # waits on a metric
    assert planned_lrs(plateau, 10) is None
    onecycle = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.5, total_steps=5)
    assert planned_lrs(onecycle, 10, 10, per_step=True) is None  # steps past its end raise
    assert planned_lrs(warmup_cosine(optimizer(), 20), 10**6, 10, per_step=True) is None
