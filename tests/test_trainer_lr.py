"""The trainer's real torch schedulers give exactly the LRs of trainer.schedule."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from schedule_cases import SPECS
from trainer_tiny import tiny_config

from runwatch.schedule import ScheduleSpec, continue_schedule, lr_at, lr_at_step, lr_plan
from runwatch.trainer.lr import build_scheduler, current_lr, position_scheduler
from runwatch.trainer.model import build_optimizer, tiny_cnn


def trainer_optimizer(spec: ScheduleSpec) -> torch.optim.SGD:
    """The optimizer the trainer builds (two param groups: decay / no decay), at another LR:
    the scheduler, not the optimizer, decides the LR."""
    return build_optimizer(tiny_cnn(4), tiny_config(optim={"lr": 7.0}).optim)


def lrs_of(optimizer, scheduler, epochs: int) -> list[float]:
    out = []
    for _ in range(epochs):
        assert len({g["lr"] for g in optimizer.param_groups}) == 1
        out.append(current_lr(optimizer))
        optimizer.step()
        scheduler.step()
    return out


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.name}-w{s.warmup_epochs}")
def test_trainer_scheduler_gives_the_planned_lrs(spec):
    optimizer = trainer_optimizer(spec)
    assert lrs_of(optimizer, build_scheduler(optimizer, spec), spec.epochs) == \
        pytest.approx(lr_plan(spec), rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.name}-w{s.warmup_epochs}")
def test_a_scheduler_placed_mid_run_continues_the_plan(spec):
    done = spec.epochs // 3
    optimizer = trainer_optimizer(spec)
    optimizer.param_groups[0]["lr"] = 123.0  # whatever a loaded optimizer had
    scheduler = position_scheduler(optimizer, spec, done)
    assert lrs_of(optimizer, scheduler, spec.epochs - done) == \
        pytest.approx(lr_plan(spec, done + 1), rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.name}-w{s.warmup_epochs}")
def test_a_per_step_scheduler_gives_every_steps_lr_and_can_be_placed_mid_epoch(spec):
    spec = dataclasses.replace(spec, steps_per_epoch=3)
    total = spec.epochs * 3
    want = [lr_at_step(spec, k) for k in range(1, total + 1)]
    optimizer = trainer_optimizer(spec)
    assert lrs_of(optimizer, build_scheduler(optimizer, spec), total) == \
        pytest.approx(want, rel=1e-12, abs=1e-15)
    done, in_epoch = spec.epochs // 3, 2  # a signal 2 steps into epoch done + 1
    optimizer = trainer_optimizer(spec)
    scheduler = position_scheduler(optimizer, spec, done, in_epoch)
    taken = done * 3 + in_epoch
    assert lrs_of(optimizer, scheduler, total - taken) == \
        pytest.approx(want[taken:], rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("mode", ["keep-phase", "match-lr", "anneal-from-current", "restart"])
def test_continued_schedules_with_an_offset(mode):
    seed = ScheduleSpec("cosine_restarts", 0.05, 100, t0=30, eta_min=1e-5)
    new = continue_schedule(ScheduleSpec("cosine_restarts", 0.05, 100, t0=100, eta_min=1e-5),
                            30, lr_at(seed, 30), mode)
    optimizer = trainer_optimizer(new)
    scheduler = position_scheduler(optimizer, new, 30)
    assert lrs_of(optimizer, scheduler, 70) == pytest.approx(lr_plan(new, 31), rel=1e-9)
