"""The schedule maths must equal torch's schedulers, epoch by epoch."""

import json
import math
from dataclasses import replace

import pytest
import torch
from schedule_cases import SPECS

from runwatch.errors import RunwatchError
from runwatch.schedule import (
    ScheduleSpec,
    continue_schedule,
    find_jumps,
    lr_at,
    lr_at_step,
    lr_plan,
    main_schedule_state,
    spec_from_dict,
    spec_to_dict,
)


def torch_lrs(spec: ScheduleSpec, per: int = 1) -> list[float]:
    """LRs torch produces for the same spec (offset 0), stepping once per epoch, or with
    `per` > 1 once per step of `per`-step epochs: T_0, T_max, milestones, warmup times `per`."""
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=spec.base_lr)
    w = spec.warmup_epochs * per
    if spec.name == "cosine_restarts":
        main = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
            opt, T_0=spec.t0 * per, T_mult=spec.t_mult, eta_min=spec.eta_min)
    elif spec.name == "cosine":
        main = torch.optim.lr_scheduler.CosineAnnealingLR(
            opt, T_max=spec.epochs * per - w, eta_min=spec.eta_min)
    elif spec.name == "step":
        main = torch.optim.lr_scheduler.MultiStepLR(
            opt, milestones=[m * per - w for m in spec.milestones], gamma=spec.gamma)
    else:
        main = torch.optim.lr_scheduler.ConstantLR(opt, factor=1.0, total_iters=0)
    if w:
        warm = torch.optim.lr_scheduler.LinearLR(
            opt, start_factor=spec.warmup_start_factor, total_iters=w)
        sched = torch.optim.lr_scheduler.SequentialLR(opt, [warm, main], milestones=[w])
    else:
        sched = main
    out = []
    for _ in range(spec.epochs * per):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out



@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.name}-w{s.warmup_epochs}")
def test_lr_plan_matches_torch(spec):
    ours = lr_plan(spec)
    theirs = torch_lrs(spec)
    assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.name}-w{s.warmup_epochs}")
def test_per_step_schedule_matches_torch_stepped_every_step(spec):
    per = 7
    spec = replace(spec, steps_per_epoch=per)
    theirs = torch_lrs(spec, per)
    ours = [lr_at_step(spec, k) for k in range(1, spec.epochs * per + 1)]
    assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-12)
    # The per-epoch plan of a per-step schedule: each epoch's first step.
    assert lr_plan(spec) == pytest.approx(theirs[::per], rel=1e-9, abs=1e-12)
    # It moves within an epoch (unless constant), which a per-epoch schedule never does.
    if spec.name in ("cosine", "cosine_restarts"):
        assert theirs[1] != theirs[0]


def test_per_step_schedule_with_an_offset_and_its_scheduler_state():
    spec = ScheduleSpec("cosine_restarts", 0.1, 20, t0=4, eta_min=0.0, steps_per_epoch=5)
    moved = continue_schedule(spec, 6, lr_at(spec, 6), "restart")  # offset 6 epochs
    assert lr_at_step(moved, 6 * 5 + 1) == pytest.approx(0.1)
    assert lr_at_step(moved, 6 * 5 + 2) == pytest.approx(lr_at_step(spec, 2))
    assert lr_at(moved, 8) == lr_at_step(moved, 7 * 5 + 1) == pytest.approx(lr_at(spec, 2))
    # After 5 epochs of 5 steps the warm-restart scheduler has stepped 25 times (period 20).
    assert main_schedule_state(spec, 5) == {"in_warmup": False, "last_epoch": 25,
                                            "T_cur": 5, "T_i": 20}
    with pytest.raises(RunwatchError, match="steps_per_epoch"):
        ScheduleSpec("cosine", 0.1, 10, steps_per_epoch=0)
    assert spec_from_dict({"name": "cosine", "base_lr": 0.1, "epochs": 10}).steps_per_epoch == 1


def test_seed_run_values_from_domain_notes():
    seed = ScheduleSpec("cosine_restarts", 0.05, 100, t0=30, eta_min=1e-5)
    assert lr_at(seed, 29) == pytest.approx(0.000556, abs=5e-7)
    assert lr_at(seed, 30) == pytest.approx(0.000147, abs=5e-7)
    assert lr_at(seed, 31) == pytest.approx(0.05)
    jumps = find_jumps(lr_plan(seed), 1)
    assert [j.epoch for j in jumps] == [31, 61, 91]
    assert jumps[0].ratio == pytest.approx(0.05 / lr_at(seed, 30))
    assert main_schedule_state(seed, 30) == {"in_warmup": False, "last_epoch": 30,
                                             "T_cur": 0, "T_i": 30}


def test_continuity_modes_on_the_seed_run():
    t100 = ScheduleSpec("cosine_restarts", 0.05, 100, t0=100, eta_min=1e-5)
    last = lr_at(ScheduleSpec("cosine_restarts", 0.05, 100, t0=30, eta_min=1e-5), 30)
    keep = continue_schedule(t100, 30, last, "keep-phase")
    assert lr_at(keep, 31) == pytest.approx(0.0397, abs=1e-4)  # the 270x jump of DOMAIN.md
    assert lr_at(keep, 31) / last > 200
    anneal = continue_schedule(t100, 30, last, "anneal-from-current")
    assert lr_at(anneal, 31) == pytest.approx(last)
    annealed = lr_plan(anneal, 31)
    assert all(b <= a for a, b in zip(annealed, annealed[1:], strict=False))
    match = continue_schedule(t100, 30, last, "match-lr")
    assert lr_at(match, 31) / last < 1.5
    restart = continue_schedule(t100, 30, last, "restart")
    assert lr_at(restart, 31) == pytest.approx(0.05)


def test_out_of_range_values_name_the_field():
    with pytest.raises(RunwatchError, match="t0"):
        ScheduleSpec("cosine_restarts", 0.05, 100, t0=0)
    with pytest.raises(RunwatchError, match="lr"):
        ScheduleSpec("cosine", -1.0, 100)
    with pytest.raises(RunwatchError, match="unknown schedule"):
        ScheduleSpec("linear", 0.1, 10)
    with pytest.raises(RunwatchError, match="no epochs left"):
        continue_schedule(ScheduleSpec("cosine", 0.1, 10), 10, 0.01, "restart")
    assert math.isfinite(lr_at(ScheduleSpec("cosine", 0.1, 10), 10))


def test_spec_from_dict_round_trips_a_stored_spec_and_ignores_unknown_keys():
    spec = ScheduleSpec("step", 0.1, 200, milestones=(60, 120), gamma=0.2)
    stored = spec_to_dict(spec)
    assert stored["milestones"] == [60, 120]  # a list: JSON and a weights-only load keep it
    assert json.loads(json.dumps(stored)) == stored
    assert spec_from_dict({**stored, "written_by": "a newer runwatch"}) == spec


def test_spec_from_dict_refuses_a_malformed_stored_schedule_in_one_line():
    with pytest.raises(RunwatchError, match="not a valid schedule"):
        spec_from_dict({"name": "cosine", "epochs": 10})  # no base_lr
    with pytest.raises(RunwatchError, match="not a valid schedule"):
        spec_from_dict({"name": "cosine", "base_lr": "0.1", "epochs": 10})


def test_match_lr_never_runs_a_cosine_past_its_end():
    # From epoch 6 of 24 at 0.00344: starting the 24-epoch cosine where its LR is 0.00344 would
    # end it at epoch 10 and climb back to 0.0186 by epoch 24 (seen in `ckpt edit --schedule
    # cosine --continuity match-lr`). The cosine must anneal to the planned end instead.
    cosine = ScheduleSpec("cosine", base_lr=0.05, epochs=24, eta_min=1e-4)
    cont = continue_schedule(cosine, 6, 0.00344267, "match-lr")
    lrs = lr_plan(cont, 7, 24)
    assert all(b <= a for a, b in zip(lrs, lrs[1:], strict=False))  # never rises
    assert lrs[-1] < 0.001
