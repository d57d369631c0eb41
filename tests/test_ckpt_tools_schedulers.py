"""The torch-free scheduler models step exactly as torch's classes do, from their state dicts."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch.optim.lr_scheduler import (
    ChainedScheduler,
    ConstantLR,
    CosineAnnealingLR,
    CosineAnnealingWarmRestarts,
    CyclicLR,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    MultiStepLR,
    OneCycleLR,
    PolynomialLR,
    ReduceLROnPlateau,
    SequentialLR,
    StepLR,
)

from runwatch.ckpt_tools.schedulers import parse_scheduler, scheduler_type, simulate
from runwatch.ckpt_tools.tree import parse_optimizer
from runwatch.errors import RunwatchError

BUILDERS = {
    "cawr": lambda o: CosineAnnealingWarmRestarts(o, T_0=5, T_mult=2, eta_min=1e-4),
    "cosine": lambda o: CosineAnnealingLR(o, T_max=7, eta_min=1e-3),
    "step": lambda o: StepLR(o, step_size=3, gamma=0.5),
    "multistep": lambda o: MultiStepLR(o, milestones=[4, 9, 9], gamma=0.1),
    "exponential": lambda o: ExponentialLR(o, gamma=0.8),
    "polynomial": lambda o: PolynomialLR(o, total_iters=8, power=2.0),
    "constant": lambda o: ConstantLR(o, factor=0.25, total_iters=4),
    "linear": lambda o: LinearLR(o, start_factor=0.1, total_iters=6),
    "onecycle": lambda o: OneCycleLR(o, max_lr=0.5, total_steps=30),
    "onecycle_linear_3phase": lambda o: OneCycleLR(o, max_lr=[0.5, 0.05], total_steps=40,
                                                   anneal_strategy="linear", three_phase=True,
                                                   pct_start=0.25),
    "onecycle_no_momentum": lambda o: OneCycleLR(o, max_lr=0.5, epochs=4, steps_per_epoch=5,
                                                 cycle_momentum=False),
    "cyclic": lambda o: CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=3,
                                 step_size_down=5),
    "cyclic_triangular2": lambda o: CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=2,
                                             mode="triangular2"),
    "cyclic_exp_range": lambda o: CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=2,
                                           mode="exp_range", gamma=0.9,
                                           cycle_momentum=False),
    "warmup_cawr": lambda o: SequentialLR(o, [LinearLR(o, start_factor=0.1, total_iters=3),
                                              CosineAnnealingWarmRestarts(o, T_0=4)],
                                          milestones=[3]),
    "warmup_cosine": lambda o: SequentialLR(o, [LinearLR(o, start_factor=0.2, total_iters=2),
                                                CosineAnnealingLR(o, T_max=6, eta_min=1e-3)],
                                            milestones=[2]),
    "constant_warmup_step": lambda o: SequentialLR(o, [ConstantLR(o, factor=0.01,
                                                                  total_iters=3),
                                                       StepLR(o, step_size=2, gamma=0.5)],
                                                   milestones=[3]),
    "warmup_exponential": lambda o: SequentialLR(o, [LinearLR(o, start_factor=0.01,
                                                              total_iters=2),
                                                     ExponentialLR(o, gamma=0.9)],
                                                 milestones=[2]),
    "three_stages": lambda o: SequentialLR(o, [ConstantLR(o, factor=0.5, total_iters=2),
                                               PolynomialLR(o, total_iters=4),
                                               MultiStepLR(o, milestones=[1, 3])],
                                           milestones=[2, 6]),
    "chained": lambda o: ChainedScheduler([ConstantLR(o, factor=0.5, total_iters=3),
                                           ExponentialLR(o, gamma=0.9)]),
}
STEPS = 12


def _optimizer(adam: bool = False) -> torch.optim.Optimizer:
    params = [torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2))]
    groups = [{"params": params[:1]}, {"params": params[1:], "lr": 0.01}]
    if adam:
        return torch.optim.Adam(groups, lr=0.1)
    return torch.optim.SGD(groups, lr=0.1, momentum=0.9)


def _step(opt: torch.optim.Optimizer, sched: object, n: int) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(n):
            opt.step()
            sched.step()


def _groups(opt: torch.optim.Optimizer) -> list[dict]:
    return [g.schedule_fields() for g in parse_optimizer(opt.state_dict(), ("opt",)).groups]


# OneCycleLR and CyclicLR also cycle the momentum: with Adam, its betas.
CASES = [(name, False) for name in sorted(BUILDERS)] + [
    (name, True) for name in sorted(BUILDERS) if name.startswith(("onecycle", "cyclic"))]


@pytest.mark.parametrize("name,adam", CASES)
@pytest.mark.parametrize("done", [0, 2, 3, 6, 13])
def test_simulated_lrs_match_torch_after_resume(name, adam, done):
    opt = _optimizer(adam)
    sched = BUILDERS[name](opt)
    _step(opt, sched, done)
    sched_state = parse_scheduler(sched.state_dict(), ("s",))
    groups = _groups(opt)
    want = []
    for _ in range(STEPS):
        want.append([g["lr"] for g in opt.param_groups])
        if name.startswith("onecycle") and sched.last_epoch + 1 >= sched.total_steps:
            break
        _step(opt, sched, 1)
    got = simulate(sched_state, groups, STEPS)
    assert len(got) == len(want)
    assert [x for row in got for x in row] == pytest.approx(
        [x for row in want for x in row], rel=1e-12, abs=1e-15)


def test_scheduler_types_are_recognised_from_fields():
    expected = {"cawr": "CosineAnnealingWarmRestarts", "cosine": "CosineAnnealingLR",
                "step": "StepLR", "multistep": "MultiStepLR", "exponential": "ExponentialLR",
                "polynomial": "PolynomialLR", "constant": "ConstantLR", "linear": "LinearLR",
                "onecycle": "OneCycleLR", "cyclic": "CyclicLR", "warmup_cawr": "SequentialLR",
                "chained": "ChainedScheduler"}
    for name, kind in expected.items():
        assert scheduler_type(BUILDERS[name](_optimizer()).state_dict()) == kind
    assert scheduler_type(ReduceLROnPlateau(_optimizer()).state_dict()) == "ReduceLROnPlateau"


def test_lambda_lr_is_named_and_read_only():
    state = LambdaLR(_optimizer(), lambda e: 0.9**e).state_dict()
    sched = parse_scheduler(state, ("lr_scheduler",))
    assert sched.kind == "LambdaLR or MultiplicativeLR"
    with pytest.raises(RunwatchError, match="formula is not stored"):
        simulate(sched, [{"lr": 0.1}, {"lr": 0.01}], 3)


def test_an_unknown_scheduler_is_named_as_such_not_by_its_fields():
    sched = parse_scheduler({"last_epoch": 3, "base_lrs": [0.1], "_my_private": 1}, ("s",))
    with pytest.raises(RunwatchError, match="custom LRScheduler subclass") as err:
        simulate(sched, [{"lr": 0.1}], 3)
    assert "_my_private" not in str(err.value)


def test_chainable_cosine_follows_the_optimizer_lr_not_base_lrs():
    """Editing only base_lrs of a CosineAnnealingLR changes nothing (DOMAIN.md)."""
    opt = _optimizer()
    sched = CosineAnnealingLR(opt, T_max=10)
    _step(opt, sched, 4)
    state = sched.state_dict()
    groups = _groups(opt)
    edited = dict(state, base_lrs=[1.0, 0.1])
    assert simulate(parse_scheduler(edited, ("s",)), groups, 5) == \
        simulate(parse_scheduler(state, ("s",)), groups, 5)


@pytest.mark.parametrize("field,value,words", [
    ("T_max", 0, "T_max = 0"), ("T_max", "24", "lr_scheduler.T_max is a str"),
    ("base_lrs", [None], r"lr_scheduler.base_lrs\[0\] is a NoneType"),
    ("last_epoch", 2.5, "not a whole number"), ("eta_min", float("nan"), "not a number"),
])
def test_a_field_of_the_wrong_type_is_one_line_naming_its_path(field, value, words):
    state = CosineAnnealingLR(_optimizer(), T_max=10).state_dict()
    state[field] = value
    with pytest.raises(RunwatchError, match=words):
        parse_scheduler(state, ("lr_scheduler",))
