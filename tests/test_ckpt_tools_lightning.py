"""Real Lightning .ckpt files (ModelCheckpoint and `trainer.save_checkpoint` after fit), inspected,
edited, then resumed by Trainer.fit(ckpt_path=...): the LRs Lightning really uses must be the
preview's."""

from __future__ import annotations

import pytest
from lightning_runs import STEPS_PER_EPOCH, epoch_starts, fit
from torch.optim.lr_scheduler import (
    CosineAnnealingLR,
    CosineAnnealingWarmRestarts,
    LinearLR,
    OneCycleLR,
    SequentialLR,
)

from runwatch.ckpt_tools import EditRequest, inspect_checkpoint, plan_edit, write_edit
from runwatch.ckpt_tools.plan import TABLE_EPOCHS


def warm_restarts(opt):
    return CosineAnnealingWarmRestarts(opt, T_0=3, eta_min=1e-3)


def cosine_24(opt):
    return CosineAnnealingLR(opt, T_max=24)


@pytest.fixture(scope="module")
def per_epoch_run(tmp_path_factory):
    """CosineAnnealingWarmRestarts(T_0=3) stepped per epoch, 4 epochs, then save_checkpoint."""
    folder = tmp_path_factory.mktemp("lightning_epoch")
    lrs = fit(folder, warm_restarts, 4, save_after=folder / "after_fit.ckpt")
    return folder, epoch_starts(lrs)


@pytest.fixture(scope="module")
def per_step_run(tmp_path_factory):
    """CosineAnnealingLR(T_max=24) stepped every batch (4 an epoch), 3 epochs."""
    folder = tmp_path_factory.mktemp("lightning_step")
    return folder, fit(folder, cosine_24, 3, interval="step")


def test_model_checkpoint_edit_resumes_with_the_previewed_lrs(per_epoch_run, tmp_path):
    folder, first = per_epoch_run
    src = folder / "ck" / "epoch=2.ckpt"
    info = inspect_checkpoint(src)
    assert info.layout == "lightning" and info.epochs_done == 3
    assert info.scheduler_type == "CosineAnnealingWarmRestarts"
    assert info.last_lr == pytest.approx(first[2])
    assert info.next_lrs[0] == pytest.approx(0.1)  # the restart Lightning would run next

    plan = plan_edit(src, EditRequest(t0=12, continuity="match-lr"))
    assert plan.jump_ratio < 1.5
    out = write_edit(plan, tmp_path / "edited.ckpt")
    resumed = epoch_starts(fit(tmp_path / "resume", warm_restarts, 3 + TABLE_EPOCHS,
                               ckpt_path=out))
    assert resumed == pytest.approx(plan.lr_after, rel=1e-12)


def test_save_checkpoint_after_fit_counts_the_epochs_it_trained(per_epoch_run, tmp_path):
    # trainer.save_checkpoint after fit stores `epoch` 4 (epochs completed), a ModelCheckpoint
    # file the index of the epoch it ends: the loop's progress counters tell them apart.
    folder, first = per_epoch_run
    src = folder / "after_fit.ckpt"
    info = inspect_checkpoint(src)
    assert info.epochs_done == 4 and info.next_epoch == 5
    assert info.last_lr == pytest.approx(first[3])
    plan = plan_edit(src, EditRequest(t0=10, continuity="keep-phase"))
    assert plan.first_epoch == 5
    out = write_edit(plan, tmp_path / "edited.ckpt")
    resumed = epoch_starts(fit(tmp_path / "resume", warm_restarts, 4 + TABLE_EPOCHS,
                               ckpt_path=out))
    assert resumed == pytest.approx(plan.lr_after, rel=1e-12)


def test_inspect_of_an_edited_file_keeps_the_lr_the_last_epoch_ran_at(per_epoch_run, tmp_path):
    # The edited fields describe the new schedule; the last epoch ran at the old one's LR, and
    # a second edit judges its jump from that LR.
    folder, first = per_epoch_run
    out = write_edit(plan_edit(folder / "ck" / "epoch=2.ckpt", EditRequest(t0=10, epochs=8)),
                     tmp_path / "edited.ckpt")
    assert inspect_checkpoint(out).last_lr == pytest.approx(first[2], rel=1e-12)
    again = plan_edit(out, EditRequest(t0=20))
    assert again.last_lr == pytest.approx(first[2], rel=1e-12)


def test_a_scheduler_stepped_every_batch_is_previewed_and_edited_in_steps(per_step_run,
                                                                         tmp_path):
    # last_epoch (12) is the global step, not the 3 epochs done: previewing it as a per-epoch
    # scheduler gave 0.05, 0.0435, 0.0371 where Lightning runs 0.05, 0.025, 0.0067, and
    # --epochs 8 wrote T_max = 8 (in steps).
    folder, _ = per_step_run
    src = folder / "ck" / "epoch=2.ckpt"
    info = inspect_checkpoint(src)
    assert info.unit == "optimizer step" and info.epochs_done == 3
    assert info.next_lrs[:3] == pytest.approx([0.05, 0.025, 0.0066987298], rel=1e-8)
    resumed = fit(tmp_path / "resume", cosine_24, 6, interval="step", ckpt_path=src)
    assert info.next_lrs == pytest.approx(epoch_starts(resumed), rel=1e-12)
    plan = plan_edit(src, EditRequest(epochs=8))
    assert plan.changes["T_max"] == [24, 8 * STEPS_PER_EPOCH]
    out = write_edit(plan, tmp_path / "edited.ckpt")
    again = fit(tmp_path / "again", cosine_24, 8, interval="step", ckpt_path=out)
    assert again == pytest.approx(plan.steps_after, rel=1e-12)  # to the new end, no further
    assert epoch_starts(again) == pytest.approx(plan.lr_after, rel=1e-12)


def one_cycle(opt):
    return OneCycleLR(opt, max_lr=0.5, total_steps=6 * STEPS_PER_EPOCH)


def warmup_cosine(opt):
    return SequentialLR(opt, [LinearLR(opt, start_factor=0.1, total_iters=4),
                              CosineAnnealingLR(opt, T_max=20)], milestones=[4])


@pytest.mark.parametrize("make,epochs,request_", [
    (one_cycle, 6, EditRequest(lr=0.3, epochs=8)),
    (warmup_cosine, 6, EditRequest(epochs=8, warmup=2)),
], ids=["OneCycleLR", "SequentialLR"])
def test_per_step_schedulers_resume_with_the_preview(tmp_path, make, epochs, request_):
    full = fit(tmp_path / "run", make, epochs, interval="step")
    src = tmp_path / "run" / "ck" / "epoch=2.ckpt"
    info = inspect_checkpoint(src)
    assert info.unit == "optimizer step" and "global step" in info.stepping
    assert info.next_steps == pytest.approx(full[12:12 + len(info.next_steps)], rel=1e-12)
    assert info.next_lrs == pytest.approx(epoch_starts(full)[3:], rel=1e-12)

    plan = plan_edit(src, request_)
    assert plan.unit == "optimizer step" and plan.oracle.startswith("torch")
    out = write_edit(plan, tmp_path / "edited.ckpt")
    resumed = fit(tmp_path / "resume", make, request_.epochs, interval="step", ckpt_path=out)
    assert resumed == pytest.approx(plan.steps_after[:len(resumed)], rel=1e-12)
    assert epoch_starts(resumed) == pytest.approx(plan.lr_after, rel=1e-12)


@pytest.mark.parametrize("interval,make", [("step", cosine_24), ("epoch", warm_restarts)])
def test_files_saved_every_n_steps_mid_epoch_resume_with_the_preview(tmp_path, interval, make):
    # ModelCheckpoint(every_n_train_steps=3) saves inside on_train_batch_end, where the batch
    # is counted processed but not completed: steps 6 and 12 read as "5" and "6 per epoch"
    # (a wrong --epochs edit) and 9, 15, 18 were refused.
    full = fit(tmp_path / "run", make, 6, interval=interval, every_n_steps=3)
    for step in (6, 9, 12, 15):
        src = tmp_path / "run" / "ck" / f"step={step}.ckpt"
        info = inspect_checkpoint(src)
        assert info.epochs_done == step // STEPS_PER_EPOCH, step
        if interval == "step":
            assert info.stepping.endswith(f"{STEPS_PER_EPOCH} per epoch"), info.stepping
            assert info.next_steps == pytest.approx(full[step:step + len(info.next_steps)])
        else:  # the epoch the file stops in, then the next ones
            starts = epoch_starts(full)
            assert info.next_lrs[:2] == pytest.approx(starts[info.epochs_done:][:2])
    src = tmp_path / "run" / "ck" / "step=6.ckpt"  # 2 of epoch 2's 4 steps done
    plan = plan_edit(src, EditRequest(epochs=8) if interval == "step"
                     else EditRequest(t0=6, continuity="match-lr"))
    out = write_edit(plan, tmp_path / "edited.ckpt")
    resumed = fit(tmp_path / "resume", make, 8, interval=interval, ckpt_path=out)
    if interval == "step":
        assert plan.changes["T_max"] == [24, 8 * STEPS_PER_EPOCH]
        assert resumed == pytest.approx(plan.steps_after[:len(resumed)], rel=1e-12)
    else:  # the rest of epoch 2, then whole epochs
        per_epoch = [resumed[0], *resumed[2::STEPS_PER_EPOCH]]
        assert per_epoch == pytest.approx(plan.lr_after[:len(per_epoch)], rel=1e-12)


def test_files_saved_every_n_steps_under_gradient_accumulation_count_optimizer_steps(tmp_path):
    # 2 batches a step: 2 optimizer steps an epoch, whatever the batches say.
    per_batch = fit(tmp_path / "run", cosine_24, 6, interval="step", every_n_steps=3,
                    accumulate=2)
    steps = per_batch[::2]
    for step in (3, 6, 9):
        info = inspect_checkpoint(tmp_path / "run" / "ck" / f"step={step}.ckpt")
        assert info.stepping.endswith("2 per epoch"), info.stepping
        assert info.epochs_done == step // 2
        ahead = steps[step:]  # the fit stops at 6 epochs; the preview goes on to T_max
        assert len(ahead) >= 3 and info.next_steps[:len(ahead)] == pytest.approx(ahead)
