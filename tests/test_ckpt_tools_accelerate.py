"""Accelerate `save_state` folders, written and loaded back by Accelerate itself: nothing in
them counts epochs, so the preview and the edit are in the scheduler's own steps."""

from __future__ import annotations

import warnings

import pytest
import torch
from accelerate import Accelerator

from runwatch.ckpt_tools import EditRequest, inspect_checkpoint, plan_edit, write_edit
from runwatch.ckpt_tools.tree import Hints
from runwatch.errors import RunwatchError


def _run(steps: int, save_to=None, load_from=None) -> list[float]:
    """Prepare model, optimizer and CosineAnnealingLR(T_max=24), optionally load_state, step;
    the LR of each step."""
    torch.manual_seed(0)
    accelerator = Accelerator(cpu=True)
    model = torch.nn.Linear(4, 3)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=24)
    model, opt, sched = accelerator.prepare(model, opt, sched)
    if load_from is not None:
        accelerator.load_state(str(load_from))
    lrs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(steps):
            lrs.append(opt.param_groups[0]["lr"])
            accelerator.backward(model(torch.randn(8, 4)).sum())
            opt.step()
            sched.step()
            opt.zero_grad()
    if save_to is not None:
        accelerator.save_state(str(save_to))
    return lrs


def test_save_state_folder_is_previewed_and_edited_in_scheduler_steps(tmp_path):
    full = _run(24)
    _run(12, save_to=tmp_path / "state")
    info = inspect_checkpoint(tmp_path / "state")
    assert info.layout == "accelerate" and info.epochs_done is None
    assert info.unit == "scheduler step" and "--steps-per-epoch" in info.stepping
    assert info.next_steps == pytest.approx(full[12:12 + len(info.next_steps)], rel=1e-12)
    with pytest.raises(RunwatchError, match="--epochs is in epochs"):
        plan_edit(tmp_path / "state", EditRequest(epochs=8))
    plan = plan_edit(tmp_path / "state", EditRequest(total_steps=30, lr=0.2))
    out = write_edit(plan, tmp_path / "edited")
    resumed = _run(18, load_from=out)
    assert len(plan.steps_after) == 10  # a table's worth of steps
    assert resumed[:10] == pytest.approx(plan.steps_after, rel=1e-12)
    settled = inspect_checkpoint(tmp_path / "state", Hints(steps_per_epoch=4))
    assert settled.epochs_done == 3 and settled.next_epoch == 4
