"""The torch-free scheduler models give the LRs real torch schedulers give, from state dicts."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch.optim.lr_scheduler import (
    ConstantLR,
    CosineAnnealingLR,
    CosineAnnealingWarmRestarts,
    LambdaLR,
    LinearLR,
    MultiStepLR,
    SequentialLR,
    StepLR,
)

from runwatch.ckpt_tools.schedulers import next_lrs, scheduler_type
from runwatch.errors import RunwatchError

BUILDERS = {
    "cawr": lambda o: CosineAnnealingWarmRestarts(o, T_0=5, T_mult=2, eta_min=1e-4),
    "cosine": lambda o: CosineAnnealingLR(o, T_max=7, eta_min=1e-3),
    "step": lambda o: StepLR(o, step_size=3, gamma=0.5),
    "multistep": lambda o: MultiStepLR(o, milestones=[4, 9, 9], gamma=0.1),
    "constant": lambda o: ConstantLR(o, factor=0.25, total_iters=4),
    "linear": lambda o: LinearLR(o, start_factor=0.1, total_iters=6),
    "warmup_cawr": lambda o: SequentialLR(o, [LinearLR(o, start_factor=0.1, total_iters=3),
                                              CosineAnnealingWarmRestarts(o, T_0=4)],
                                          milestones=[3]),
    "warmup_cosine": lambda o: SequentialLR(o, [LinearLR(o, start_factor=0.2, total_iters=2),
                                                CosineAnnealingLR(o, T_max=6, eta_min=1e-3)],
                                            milestones=[2]),
}


def _optimizer(lr: float = 0.1) -> torch.optim.SGD:
    params = [torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2))]
    return torch.optim.SGD([{"params": params[:1]}, {"params": params[1:], "lr": lr / 10}],
                           lr=lr, momentum=0.9)


def _step(opt: torch.optim.Optimizer, sched: object, n: int) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(n):
            opt.step()
            sched.step()


@pytest.mark.parametrize("name", sorted(BUILDERS))
@pytest.mark.parametrize("done", [0, 2, 3, 6, 13])
def test_next_lrs_match_torch_after_resume(name: str, done: int) -> None:
    opt = _optimizer()
    sched = BUILDERS[name](opt)
    _step(opt, sched, done)
    state = sched.state_dict()
    group_lrs = [g["lr"] for g in opt.param_groups]
    want = []
    for _ in range(12):
        want.append([g["lr"] for g in opt.param_groups])
        _step(opt, sched, 1)
    got = next_lrs(state, group_lrs, 12)
    flat = [lr for row in got for lr in row]
    assert flat == pytest.approx([lr for row in want for lr in row], rel=1e-12, abs=1e-15)


def test_scheduler_types_are_recognised_from_fields() -> None:
    for name, kind in [("cawr", "CosineAnnealingWarmRestarts"), ("cosine", "CosineAnnealingLR"),
                       ("step", "StepLR"), ("multistep", "MultiStepLR"),
                       ("constant", "ConstantLR"), ("linear", "LinearLR"),
                       ("warmup_cawr", "SequentialLR")]:
        assert scheduler_type(BUILDERS[name](_optimizer()).state_dict()) == kind


def test_lambda_lr_is_read_only() -> None:
    opt = _optimizer()
    state = LambdaLR(opt, lambda e: 0.9**e).state_dict()
    assert scheduler_type(state) == "LambdaLR"
    with pytest.raises(RunwatchError, match="formula is not stored"):
        next_lrs(state, [0.1, 0.01], 3)


def test_chainable_cosine_follows_the_optimizer_lr_not_base_lrs() -> None:
    """Editing only base_lrs of a CosineAnnealingLR changes nothing (DOMAIN.md)."""
    opt = _optimizer()
    sched = CosineAnnealingLR(opt, T_max=10)
    _step(opt, sched, 4)
    state = sched.state_dict()
    lrs = [g["lr"] for g in opt.param_groups]
    edited = dict(state, base_lrs=[1.0, 0.1])
    assert next_lrs(edited, lrs, 5) == next_lrs(state, lrs, 5)
