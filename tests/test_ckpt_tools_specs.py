"""Scheduler fields <-> ScheduleSpec, checked against torch."""

from __future__ import annotations

import pytest
import torch
from torch.optim.lr_scheduler import CosineAnnealingWarmRestarts

from runwatch.ckpt_tools.specs import last_lr_from_fields


@pytest.mark.parametrize("t_mult", [1, 2])
def test_last_lr_from_warm_restart_fields_is_the_lr_torch_used(t_mult):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    sched = CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=t_mult, eta_min=1e-3)
    assert last_lr_from_fields(sched.state_dict()) is None  # no epoch trained yet
    for _ in range(16):
        used = opt.param_groups[0]["lr"]
        opt.step()
        sched.step()
        assert last_lr_from_fields(sched.state_dict()) == pytest.approx(used, rel=1e-12)
