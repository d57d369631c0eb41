"""Hand-written checkpoints, found by structure: every torch scheduler class, inspected and
edited, then resumed by the hand-written loop that saved it (tests/handwritten_loops.py)."""

from __future__ import annotations

import math

import pytest
import torch
from ckpt_builders import sgd, tiny_model
from handwritten_loops import STEPS, run
from torch.optim import lr_scheduler as L

from runwatch.ckpt_tools import EditRequest, inspect_checkpoint, plan_edit, write_edit
from runwatch.ckpt_tools.tree import Hints
from runwatch.errors import RunwatchError

EPOCHS, DONE = 12, 5


def _seq(o):
    return L.SequentialLR(o, [L.ConstantLR(o, factor=0.1, total_iters=3),
                              L.MultiStepLR(o, milestones=[4, 6], gamma=0.5)], milestones=[3])


# (id, layout, scheduler, stepped every optimizer step, the edit)
CASES = [
    ("StepLR", "tutorial", lambda o: L.StepLR(o, step_size=3, gamma=0.5), False,
     EditRequest(step_size=2, gamma=0.3)),
    ("MultiStepLR", "classic", lambda o: L.MultiStepLR(o, milestones=[4, 8], gamma=0.5), False,
     EditRequest(milestones=(7, 9), gamma=0.2)),
    ("ExponentialLR", "nested", lambda o: L.ExponentialLR(o, gamma=0.9), False,
     EditRequest(gamma=0.8, lr=0.05)),
    ("PolynomialLR", "short", lambda o: L.PolynomialLR(o, total_iters=12, power=2.0), False,
     EditRequest(epochs=16)),
    ("ConstantLR", "tutorial", lambda o: L.ConstantLR(o, factor=0.5, total_iters=8), False,
     EditRequest(lr=0.2)),
    ("LinearLR", "classic", lambda o: L.LinearLR(o, start_factor=1.0, end_factor=0.1,
                                                 total_iters=10), False, EditRequest(lr=0.05)),
    ("CosineAnnealingLR", "nested", lambda o: L.CosineAnnealingLR(o, T_max=12, eta_min=1e-3),
     False, EditRequest(epochs=16, eta_min=1e-4)),
    ("CosineAnnealingWarmRestarts", "tutorial",
     lambda o: L.CosineAnnealingWarmRestarts(o, T_0=4, T_mult=2), False,
     EditRequest(t0=6, t_mult=1, continuity="match-lr")),
    ("OneCycleLR", "classic", lambda o: L.OneCycleLR(o, max_lr=0.5, total_steps=EPOCHS * STEPS),
     True, EditRequest(lr=0.3, warmup_steps=6)),
    ("CyclicLR", "short", lambda o: L.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=3,
                                               step_size_down=5), True,
     EditRequest(lr=0.2, eta_min=0.005)),
    ("SequentialLR", "nested", _seq, False, EditRequest(warmup=2, continuity="restart")),
    ("ChainedScheduler", "classic", lambda o: L.ChainedScheduler(
        [L.ConstantLR(o, factor=0.5, total_iters=7), L.ExponentialLR(o, gamma=0.9)]), False,
     EditRequest(lr=0.05)),
]


def _epoch_starts(lrs: list[float], per_step: bool) -> list[float]:
    return lrs[::STEPS] if per_step else lrs


def _agree(run_lrs: list[float], preview: list[float]) -> bool:
    """The run's LRs are the preview's, over what both cover (a run ends at its `epochs`, a
    preview at its table's length or the schedule's end)."""
    n = min(len(run_lrs), len(preview))
    return n >= 3 and run_lrs[:n] == pytest.approx(preview[:n], rel=1e-12)


@pytest.mark.parametrize("layout,make,per_step,request_", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_hand_written_loops_resume_with_the_preview(tmp_path, layout, make, per_step, request_):
    full = run(layout, make, EPOCHS, tmp_path, per_step)
    src = tmp_path / f"epoch-{DONE - 1}.pt"
    # A file with no epoch counter says nothing of its epochs: the loop's steps per epoch do.
    hints = Hints(steps_per_epoch=STEPS if per_step else 1) if layout == "short" else Hints()
    info = inspect_checkpoint(src, hints)
    assert info.layout == "hand-written" and info.epochs_done == DONE
    assert any("found by its fields" in f for f in info.found)
    starts = _epoch_starts(full, per_step)
    assert _agree(starts[DONE:], info.next_lrs)
    assert info.last_lr == pytest.approx(full[DONE * (STEPS if per_step else 1) - 1], rel=1e-12)

    plan = plan_edit(src, request_, hints)
    assert plan.oracle.startswith("torch")
    out = write_edit(plan, tmp_path / "edited.pt")
    (tmp_path / "resumed").mkdir()
    epochs = request_.epochs or EPOCHS
    resumed = run(layout, make, epochs, tmp_path / "resumed", per_step, resume=out, start=DONE)
    assert _agree(_epoch_starts(resumed, per_step), plan.lr_after)
    assert _agree(resumed, plan.steps_after)


def test_tutorial_layout_is_read_by_structure_not_as_a_state_dict(tmp_path):
    # The tutorial's file was taken for a bare state_dict and crashed: KeyError: 'dtype'.
    run("tutorial", lambda o: L.StepLR(o, step_size=3), 4, tmp_path)
    info = inspect_checkpoint(tmp_path / "epoch-3.pt")
    assert info.layout == "hand-written" and info.model.tensors == 4
    assert "epoch = 3 is the index of the last epoch finished (4 done)" in " ".join(info.found)


def test_a_count_the_scheduler_fits_both_ways_is_asked_for_not_guessed(tmp_path):
    run("classic", lambda o: L.CosineAnnealingLR(o, T_max=40), 3, tmp_path, per_step=True)
    src = tmp_path / "epoch-2.pt"  # epoch = 3, last_epoch 12: 4 steps x 3, or 6 x 2?
    info = inspect_checkpoint(src)
    assert info.epochs_done is None and info.next_epoch is None
    assert "--steps-per-epoch" in info.stepping
    with pytest.raises(RunwatchError, match="--epochs is in epochs.*--total-steps"):
        plan_edit(src, EditRequest(epochs=8))
    plan = plan_edit(src, EditRequest(total_steps=32))  # the scheduler's own unit needs no more
    assert plan.changes["T_max"] == [40, 32]
    settled = inspect_checkpoint(src, Hints(steps_per_epoch=STEPS))
    assert settled.epochs_done == 3
    assert settled.next_lrs[0] == pytest.approx(0.1 * (1 + math.cos(math.pi * 12 / 40)) / 2)


def test_two_schedulers_or_two_epoch_counters_are_asked_for(tmp_path):
    model = tiny_model()
    opt = sgd(model)
    a, b = L.StepLR(opt, step_size=2), L.ExponentialLR(opt, gamma=0.9)
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "warm": a.state_dict(),
                "main": b.state_dict(), "epoch": 0, "start_epoch": 0}, tmp_path / "two.pt")
    with pytest.raises(RunwatchError, match="2 scheduler states found .*--scheduler-key"):
        inspect_checkpoint(tmp_path / "two.pt")
    info = inspect_checkpoint(tmp_path / "two.pt", Hints(scheduler_key="main"))
    assert info.scheduler_type == "ExponentialLR"
    assert any("--epoch-key" in f for f in info.found)
    keyed = inspect_checkpoint(tmp_path / "two.pt", Hints(scheduler_key="main",
                                                          epoch_key="start_epoch"))
    assert keyed.epochs_done is None or keyed.epochs_done >= 0


def test_without_a_scheduler_an_lr_edit_sets_lr_and_initial_lr(tmp_path):
    # No scheduler ever wrapped this optimizer: it has no initial_lr; a scheduler (timm's
    # included) built on resume starts from initial_lr, so both are set.
    model = tiny_model()
    opt = sgd(model, lr=0.1)
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3},
               tmp_path / "plain.pt")
    info = inspect_checkpoint(tmp_path / "plain.pt")
    assert "no scheduler state" in info.lr_note and "`edit --lr`" in info.lr_note
    out = write_edit(plan_edit(tmp_path / "plain.pt", EditRequest(lr=0.02)),
                     tmp_path / "edited.pt")
    groups = torch.load(out, weights_only=True)["optimizer"]["param_groups"]
    assert [(g["lr"], g["initial_lr"]) for g in groups] == [(0.02, 0.02)]
    with pytest.raises(RunwatchError, match="only that LR can be edited"):
        plan_edit(tmp_path / "plain.pt", EditRequest(epochs=10))


def test_reduce_lr_on_plateau_is_described_from_its_state(tmp_path):
    model = tiny_model()
    opt = sgd(model)
    sched = L.ReduceLROnPlateau(opt, factor=0.5, patience=3, cooldown=2)
    for loss in (1.0, 0.9, 0.95, 0.96):
        sched.step(loss)
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(), "epoch": 4}, tmp_path / "plateau.pt")
    info = inspect_checkpoint(tmp_path / "plateau.pt")
    assert info.scheduler_type == "ReduceLROnPlateau"
    assert "depend on the metric" in info.lr_note and "patience 3" in info.lr_note
    assert "2 epoch(s) without improvement" in info.lr_note and "after 2 more" in info.lr_note
    plan = plan_edit(tmp_path / "plateau.pt", EditRequest(lr=0.01))
    out = write_edit(plan, tmp_path / "edited.pt")
    resumed = run("classic", lambda o: L.ReduceLROnPlateau(o, factor=0.5, patience=3,
                                                           cooldown=2),
                  6, tmp_path, resume=out, metric=lambda epoch: 1.0 / (epoch + 1))
    assert resumed == pytest.approx([0.01, 0.01])  # improving: it stays where the edit put it
