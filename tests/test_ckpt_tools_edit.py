"""Edits of real torchvision-reference checkpoints, resumed by torch the way train.py resumes.

The preview (plan.lr_after) must be the LRs the resumed run really uses; momentum buffers and
weights must come through byte for byte; the input must never change.
"""

from __future__ import annotations

import argparse
import errno
import hashlib
import os
import zipfile

import pytest
import torch
from ckpt_builders import (
    seed_scheduler,
    torchvision_args,
    torchvision_checkpoint,
    torchvision_resume,
)
from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, SequentialLR

from runwatch.ckpt_tools import EditRequest, inspect_checkpoint, plan_edit, write_edit
from runwatch.ckpt_tools.load import load_checkpoint
from runwatch.ckpt_tools.plan import TABLE_EPOCHS
from runwatch.errors import RunwatchError
from runwatch.schedule import CONTINUITY_MODES


@pytest.fixture(scope="module")
def seed_ckpt(tmp_path_factory):
    """The seed run's situation: CosineAnnealingWarmRestarts(T_0=30) after 30 epochs."""
    return torchvision_checkpoint(tmp_path_factory.mktemp("seed") / "model_29.pth", 30)


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_t0_100_keep_phase_jumps_270x_as_domain_says(seed_ckpt):
    plan = plan_edit(seed_ckpt, EditRequest(t0=100))
    assert plan.first_epoch == 31
    assert plan.last_lr == pytest.approx(0.000147, abs=1e-6)
    assert plan.lr_after[0] == pytest.approx(0.0397, abs=1e-4)
    assert round(plan.jump_ratio) == 270
    assert plan.lr_before[0] == pytest.approx(0.05)  # the unedited restart
    assert any("270x" in w for w in plan.warnings)
    # The warning and the summary line print the same ratio (10.9x was "11x" in one of them).
    keep = plan_edit(seed_ckpt, EditRequest(t0=40, epochs=100))
    assert f"{keep.jump_ratio:.3g}x the" in keep.warnings[0]


def test_anneal_from_current_says_which_requested_changes_it_ignores(seed_ckpt):
    # It anneals from the current LR over the epochs left: a new --lr or --t0 changes nothing,
    # and a preview listing them as changes without a word would mislead.
    plan = plan_edit(seed_ckpt, EditRequest(t0=100, lr=0.1, epochs=100,
                                            continuity="anneal-from-current"))
    assert plan.lr_after[0] == pytest.approx(plan.last_lr)
    assert any(w.startswith("--t0, --lr have no effect with --continuity anneal-from-current")
               and "70 epochs left" in w for w in plan.warnings)
    plain = plan_edit(seed_ckpt, EditRequest(epochs=100, continuity="anneal-from-current"))
    assert not any("no effect" in w for w in plain.warnings)


def test_a_jump_warning_offers_only_modes_other_than_the_one_used(seed_ckpt):
    # match-lr with a 2-epoch period cannot match 0.000147: telling the user that match-lr
    # avoids the jump they got from match-lr would send them in a circle; and a restart's jump
    # is the one asked for, so no mode "avoids" it.
    matched = plan_edit(seed_ckpt, EditRequest(t0=2, continuity="match-lr"))
    first = [w for w in matched.warnings if "(the first resumed epoch)" in w]
    assert first and first[0].endswith("; --continuity anneal-from-current avoids it")
    restart = plan_edit(seed_ckpt, EditRequest(t0=100, continuity="restart"))
    [jump] = [w for w in restart.warnings if "first resumed epoch" in w]
    assert "the restart asked for" in jump and "--continuity" not in jump


@pytest.mark.parametrize("mode", CONTINUITY_MODES)
def test_each_mode_resumes_in_torch_with_the_previewed_lrs(seed_ckpt, tmp_path, mode):
    before = _digest(seed_ckpt)
    plan = plan_edit(seed_ckpt, EditRequest(t0=100, continuity=mode))
    out = write_edit(plan, tmp_path / "edited.pth")
    used, _ = torchvision_resume(out, seed_scheduler, TABLE_EPOCHS)
    assert used == pytest.approx(plan.lr_after, rel=1e-12)
    assert _digest(seed_ckpt) == before
    original = torch.load(seed_ckpt, weights_only=False)  # our own file, written by the test
    ckpt = torch.load(out, weights_only=False)
    for key, state in original["optimizer"]["state"].items():
        assert torch.equal(state["momentum_buffer"], ckpt["optimizer"]["state"][key][
            "momentum_buffer"])
    assert ckpt["args"] == original["args"]


def test_a_finished_run_is_trained_longer_with_the_previewed_lrs(tmp_path):
    # All 10 planned epochs trained: inspect says to preview `--epochs N`; that edit must plan
    # the new epochs (none were planned) from the LR the last epoch ran at, and resume at them.
    done = torchvision_checkpoint(tmp_path / "model_9.pth", 10, args=torchvision_args(epochs=10))
    assert inspect_checkpoint(done).next_lrs == []
    plan = plan_edit(done, EditRequest(epochs=15, continuity="anneal-from-current"))
    assert plan.lr_before == [] and plan.first_epoch == 11
    assert plan.lr_after[0] == pytest.approx(plan.last_lr) and len(plan.lr_after) == 5
    used, _ = torchvision_resume(write_edit(plan, tmp_path / "longer.pth"), seed_scheduler, 5)
    assert used == pytest.approx(plan.lr_after, rel=1e-12)
    with pytest.raises(RunwatchError, match="all 10 planned epochs are trained"):
        plan_edit(done, EditRequest(t0=20))  # no new epochs: still nothing to resume


def test_mode_shapes_at_the_resume_point(seed_ckpt):
    plans = {m: plan_edit(seed_ckpt, EditRequest(t0=100, continuity=m)) for m in CONTINUITY_MODES}
    assert plans["anneal-from-current"].jump_ratio == pytest.approx(1.0)
    assert plans["match-lr"].jump_ratio < 1.5
    assert plans["restart"].lr_after[0] == pytest.approx(0.05)
    # No jump warning (only the note that its --t0 has no effect).
    assert [w for w in plans["anneal-from-current"].warnings if "no effect" not in w] == []


def test_tensor_records_are_copied_byte_for_byte(seed_ckpt, tmp_path):
    out = write_edit(plan_edit(seed_ckpt, EditRequest(lr=0.02)), tmp_path / "e.pth")
    with zipfile.ZipFile(seed_ckpt) as a, zipfile.ZipFile(out) as b:
        data = [n for n in a.namelist() if "/data/" in n]
        assert data and all(a.read(n) == b.read(n) for n in data)
        assert a.namelist() == b.namelist()


def test_warmup_cosine_annealing_lr_edit_of_epochs(tmp_path):
    """torchvision's own schedule: LinearLR warmup then CosineAnnealingLR (chainable)."""
    def make(opt):
        return SequentialLR(opt, [LinearLR(opt, start_factor=0.1, total_iters=3),
                                  CosineAnnealingLR(opt, T_max=17, eta_min=0.0)], milestones=[3])

    src = torchvision_checkpoint(tmp_path / "model_9.pth", 10, make,
                                 torchvision_args(epochs=20, lr_warmup_epochs=3))
    plan = plan_edit(src, EditRequest(epochs=40))
    out = write_edit(plan, tmp_path / "longer.pth")
    used, _ = torchvision_resume(out, make, TABLE_EPOCHS)
    assert used == pytest.approx(plan.lr_after, rel=1e-12)
    assert plan.lr_after[0] > plan.lr_before[0]  # a longer cosine is higher at the same step


def test_output_equal_to_input_or_a_hard_link_is_refused(seed_ckpt, tmp_path):
    link = tmp_path / "model_best.pth"
    os.link(seed_ckpt, link)
    plan = plan_edit(link, EditRequest(t0=60))
    for out in (link, seed_ckpt):
        with pytest.raises(RunwatchError, match="input"):
            write_edit(plan, out)
    assert plan_edit(seed_ckpt, EditRequest()).lr_after[0] == pytest.approx(0.05)


def test_an_output_that_is_a_dangling_symlink_is_taken_and_left_alone(seed_ckpt, tmp_path):
    out = tmp_path / "out.pth"
    out.symlink_to(tmp_path / "elsewhere.pth")
    with pytest.raises(RunwatchError, match="already exists"):
        write_edit(plan_edit(seed_ckpt, EditRequest(t0=60)), out)
    assert out.is_symlink() and not (tmp_path / "elsewhere.pth").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["out.pth"]


def test_in_place_keeps_a_backup_and_breaks_the_hard_link(tmp_path):
    src = torchvision_checkpoint(tmp_path / "checkpoint-29.pth", 30)
    link = tmp_path / "model_best.pth"
    os.link(src, link)
    before = _digest(src)
    write_edit(plan_edit(link, EditRequest(t0=60)), link, in_place=True)
    assert _digest(src) == before  # the other name still holds the original
    assert _digest(tmp_path / "model_best.pth.bak") == before
    assert _digest(link) != before


def test_in_place_without_room_for_the_backup_is_one_line_and_changes_nothing(
        tmp_path, monkeypatch):
    # A full disk: the backup copy fails first (both the kernel's copy and the user-space one).
    import shutil

    src = torchvision_checkpoint(tmp_path / "checkpoint-29.pth", 30)
    before = _digest(src)

    def disk_full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "copy_file_range", disk_full)
    monkeypatch.setattr(shutil, "copyfileobj", disk_full)
    with pytest.raises(RunwatchError, match=r"cannot keep the backup .*\.bak \(No space left "
                                            r"on device\): make .* writable"):
        write_edit(plan_edit(src, EditRequest(t0=60)), src, in_place=True)
    assert _digest(src) == before and sorted(p.name for p in tmp_path.iterdir()) == [src.name]


def test_in_place_on_a_symlink_edits_the_file_it_points_to_and_keeps_the_link(tmp_path):
    real = torchvision_checkpoint(tmp_path / "checkpoint-29.pth", 30)
    before = _digest(real)
    link = tmp_path / "latest.pth"
    link.symlink_to(real.name)
    written = write_edit(plan_edit(link, EditRequest(t0=60)), link, in_place=True)
    assert written == real
    assert link.is_symlink() and os.readlink(link) == real.name  # still the user's link
    assert _digest(real) != before
    assert _digest(tmp_path / "checkpoint-29.pth.bak") == before  # beside the file edited
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "checkpoint-29.pth", "checkpoint-29.pth.bak", "latest.pth"]


def test_a_backup_name_taken_meanwhile_is_not_replaced(tmp_path, monkeypatch):
    from runwatch.atomic import Partial

    src = torchvision_checkpoint(tmp_path / "checkpoint-29.pth", 30)
    before = _digest(src)
    publish = Partial.publish

    def another_backup_first(self, target, **kwargs):
        if target.name.endswith(".bak") and not target.exists():
            target.write_bytes(b"another edit's backup")
        return publish(self, target, **kwargs)

    monkeypatch.setattr(Partial, "publish", another_backup_first)
    write_edit(plan_edit(src, EditRequest(t0=60)), src, in_place=True)
    assert (tmp_path / "checkpoint-29.pth.bak").read_bytes() == b"another edit's backup"
    assert _digest(tmp_path / "checkpoint-29.pth.bak1") == before


def test_two_edits_racing_on_one_output_one_wins_the_other_fails_in_one_line(
        seed_ckpt, tmp_path, monkeypatch, capsys):
    # Edit A has checked that OUT is free and is writing it when edit B writes OUT whole.
    from runwatch.ckpt_tools import zipfmt
    from runwatch.cli import main

    out = tmp_path / "edited.pth"
    rewrite = zipfmt.rewrite_archive
    raced = []

    def b_finishes_first(*args):
        if not raced:
            raced.append(True)
            assert main(["ckpt", "edit", str(seed_ckpt), "-o", str(out), "--t0", "40",
                         "--yes"]) == 0
        return rewrite(*args)

    monkeypatch.setattr(zipfmt, "rewrite_archive", b_finishes_first)
    assert main(["ckpt", "edit", str(seed_ckpt), "-o", str(out), "--t0", "100", "--yes"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"runwatch: error: {out} already exists (another process wrote it "
                   "meanwhile): choose a new name"]
    assert load_checkpoint(out).obj["lr_scheduler"]["T_0"] == 40  # B's edit, whole
    assert [p.name for p in tmp_path.iterdir()] == ["edited.pth"]  # A left nothing


def test_out_of_range_values_are_refused(seed_ckpt):
    for request, flag in [(EditRequest(t0=0), "--t0"), (EditRequest(lr=-1), "--lr"),
                          (EditRequest(eta_min=-1.0), "--eta-min"),
                          (EditRequest(epochs=0), "--epochs")]:
        with pytest.raises(RunwatchError, match=flag):
            plan_edit(seed_ckpt, request)


def test_legacy_file_is_edited_into_a_zip_that_resumes(tmp_path):
    zipped = torchvision_checkpoint(tmp_path / "zip.pth", 30)
    legacy = tmp_path / "legacy.pth"
    with torch.serialization.safe_globals([argparse.Namespace]):
        torch.save(torch.load(zipped, weights_only=True), legacy,
                   _use_new_zipfile_serialization=False)
    plan = plan_edit(legacy, EditRequest(t0=100, continuity="anneal-from-current"))
    out = write_edit(plan, tmp_path / "edited.pth")
    assert zipfile.is_zipfile(out)
    used, _ = torchvision_resume(out, seed_scheduler, TABLE_EPOCHS)
    assert used == pytest.approx(plan.lr_after, rel=1e-12)


def test_a_source_replaced_after_the_preview_is_not_written(seed_ckpt, tmp_path):
    # A running trainer rotates best.pt/last.pt: the preview must not be applied to another file.
    source = tmp_path / "best.pt"
    source.write_bytes(seed_ckpt.read_bytes())
    plan = plan_edit(source, EditRequest(t0=100, continuity="anneal-from-current"))
    replacement = tmp_path / "new.pt"
    replacement.write_bytes(seed_ckpt.read_bytes())
    os.replace(replacement, source)
    out = tmp_path / "out.pt"
    with pytest.raises(RunwatchError, match="changed since the preview"):
        write_edit(plan, out)
    assert not out.exists()


def test_a_schedule_the_trainer_cannot_build_is_refused_not_approximated(tmp_path):
    # torchvision's train.py builds CosineAnnealingLR from --lr-scheduler and then loads the
    # state: `--schedule cosine_restarts` wrote a one-period CosineAnnealingLR(T_max=t0),
    # dropped --epochs and --t-mult and printed an invented old T_0 ("t0: 30 -> 2").
    src = torchvision_checkpoint(tmp_path / "model_3.pth", 4,
                                 lambda o: CosineAnnealingLR(o, T_max=10),
                                 torchvision_args(lr_scheduler="cosineannealinglr", epochs=10))
    for request in (EditRequest(schedule="cosine_restarts", t0=2, epochs=20, t_mult=2),
                    EditRequest(t0=5)):
        with pytest.raises(RunwatchError, match="CosineAnnealingLR") as err:
            plan_edit(src, request)
        assert "\n" not in str(err.value)
