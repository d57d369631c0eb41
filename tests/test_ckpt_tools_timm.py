"""A real timm checkpoint (CheckpointSaver), edited, then resumed the way timm's train.py
resumes: resume_checkpoint, create_scheduler_v2(**scheduler_kwargs(args)), step(start_epoch)."""

from __future__ import annotations

import argparse
import os

import pytest
import torch
from ckpt_builders import tiny_model, train_epoch
from timm.models import resume_checkpoint
from timm.optim import create_optimizer_v2
from timm.scheduler import create_scheduler_v2, scheduler_kwargs
from timm.utils import CheckpointSaver

from runwatch.ckpt_tools import EditRequest, inspect_checkpoint, plan_edit, write_edit
from runwatch.ckpt_tools.plan import TABLE_EPOCHS
from runwatch.errors import RunwatchError


def _args(**changes: object) -> argparse.Namespace:
    base = dict(model="tiny", sched="cosine", epochs=12, lr=0.1, min_lr=1e-4, warmup_epochs=2,
                warmup_lr=1e-3, warmup_prefix=False, cooldown_epochs=0, lr_cycle_limit=1,
                lr_cycle_mul=1.0, lr_cycle_decay=0.5, lr_k_decay=1.0, lr_noise=None,
                sched_on_updates=False, seed=0, eval_metric="top1")
    return argparse.Namespace(**(base | changes))


def _train(args, start_epoch: int, stop_epoch: int, resume: str | None, saver_dir=None):
    """train.py's epoch loop; returns the LR each epoch trained with."""
    model = tiny_model()
    opt = create_optimizer_v2(model, "sgd", lr=args.lr, momentum=0.9, weight_decay=1e-4)
    if resume:
        with torch.serialization.safe_globals([argparse.Namespace]):
            start_epoch = resume_checkpoint(model, resume, optimizer=opt, log_info=False)
    sched, _ = create_scheduler_v2(opt, **scheduler_kwargs(args), updates_per_epoch=1)
    if start_epoch > 0:
        sched.step(start_epoch)
    saver = CheckpointSaver(model, opt, args=args, checkpoint_dir=str(saver_dir),
                            recovery_dir=str(saver_dir)) if saver_dir else None
    lrs = []
    for epoch in range(start_epoch, stop_epoch):
        lrs.append(train_epoch(model, opt))
        if saver:
            saver.save_checkpoint(epoch, metric=float(epoch))  # rising metric: newest is best
        sched.step(epoch + 1, None)
    return lrs


@pytest.fixture(scope="module")
def timm_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("timm")
    lrs = _train(_args(), 0, 4, None, saver_dir=folder)
    return folder, lrs


def test_inspect_models_timms_schedule(timm_run):
    folder, lrs = timm_run
    info = inspect_checkpoint(folder / "checkpoint-3.pth.tar")
    assert info.layout == "timm" and info.epochs_done == 4
    assert info.last_lr == pytest.approx(lrs[-1])
    rest = _train(_args(), 0, 12, None)[4:]
    assert info.next_lrs == pytest.approx(rest, rel=1e-12)  # to the planned 12 epochs, no more


def test_new_lr_without_the_edit_is_ignored_by_timm(timm_run):
    folder, _ = timm_run
    ignored = _train(_args(lr=0.02), 0, 6, str(folder / "checkpoint-3.pth.tar"))
    assert ignored == pytest.approx(_train(_args(), 0, 6, None)[4:], rel=1e-12)


def test_edited_lr_and_epochs_resume_with_the_previewed_lrs(timm_run, tmp_path):
    folder, _ = timm_run
    plan = plan_edit(folder / "checkpoint-3.pth.tar", EditRequest(lr=0.02, epochs=20))
    assert "--lr 0.02" in plan.resume_hint and "--epochs 20" in plan.resume_hint
    assert plan.oracle.startswith("timm")  # timm's own scheduler replayed the edit
    out = write_edit(plan, tmp_path / "edited.pth.tar")
    resumed = _train(_args(lr=0.02, epochs=20), 0, 4 + TABLE_EPOCHS, str(out))
    assert resumed == pytest.approx(plan.lr_after, rel=1e-12)


def test_a_finished_run_is_trained_longer_with_the_previewed_lrs(tmp_path):
    # All 3 planned epochs trained: inspect says to edit with --epochs N; that edit must plan
    # the new epochs and timm must resume at them.
    folder = tmp_path / "done"
    folder.mkdir()
    _train(_args(epochs=3, warmup_epochs=0), 0, 3, None, saver_dir=folder)
    done = folder / "checkpoint-2.pth.tar"
    assert inspect_checkpoint(done).next_lrs == []
    plan = plan_edit(done, EditRequest(epochs=6))
    assert plan.lr_before == [] and plan.first_epoch == 4 and len(plan.lr_after) == 3
    out = write_edit(plan, tmp_path / "longer.pth.tar")
    used = _train(_args(epochs=6, warmup_epochs=0), 0, 6, str(out))
    assert used == pytest.approx(plan.lr_after, rel=1e-12)


def test_model_best_hard_link_is_never_written_through(timm_run):
    folder, _ = timm_run
    best = folder / "model_best.pth.tar"
    target = next(p for p in folder.glob("checkpoint-*.pth.tar") if os.path.samefile(p, best))
    plan = plan_edit(best, EditRequest(lr=0.02))
    with pytest.raises(RunwatchError, match="hard link"):
        write_edit(plan, target)


def test_timm_refuses_what_its_command_line_would_override(timm_run):
    folder, _ = timm_run
    with pytest.raises(RunwatchError, match="command line"):
        plan_edit(folder / "checkpoint-3.pth.tar", EditRequest(t0=5))


def test_a_timm_scheduler_that_is_not_modelled_is_named_and_refused(tmp_path):
    folder = tmp_path / "step"
    folder.mkdir()
    _train(_args(sched="step", decay_epochs=2, decay_rate=0.5), 0, 2, None, saver_dir=folder)
    info = inspect_checkpoint(folder / "checkpoint-1.pth.tar")
    assert "timm scheduler 'step' is not supported" in info.lr_note
    with pytest.raises(RunwatchError, match="'step' is not supported"):
        plan_edit(folder / "checkpoint-1.pth.tar", EditRequest(lr=0.02))


def test_an_optimizer_without_initial_lr_takes_lr_and_initial_lr(timm_run, tmp_path):
    # A group no scheduler ever wrapped has no initial_lr; timm's scheduler then takes the
    # group's lr as its base (setdefault), so an edit that set only lr would resume with the
    # LR of the resume point as the peak. Both are set.
    folder, _ = timm_run
    ckpt = torch.load(folder / "checkpoint-3.pth.tar", weights_only=False)  # our own file
    for group in ckpt["optimizer"]["param_groups"]:
        group["lr"] = group.pop("initial_lr")  # as if saved before any scheduler ran
    torch.save(ckpt, tmp_path / "plain.pth.tar")
    plan = plan_edit(tmp_path / "plain.pth.tar", EditRequest(lr=0.02))
    out = write_edit(plan, tmp_path / "edited.pth.tar")
    groups = torch.load(out, weights_only=False)["optimizer"]["param_groups"]
    assert all(g["initial_lr"] == pytest.approx(0.02) for g in groups)
    resumed = _train(_args(lr=0.02), 0, 12, str(out))  # to the planned --epochs 12
    assert resumed == pytest.approx(plan.lr_after, rel=1e-12)
