"""The rewind / edit / resume cycle on a real (tiny) runwatch smoke run that crossed a restart."""

from __future__ import annotations

import shlex
import shutil

import pytest
from lock_holder import holder_of

from runwatch.ckpt_tools import (
    EditRequest,
    apply_rewind,
    inspect_checkpoint,
    plan_edit,
    plan_rewind,
    write_edit,
)
from runwatch.ckpt_tools.load import load_checkpoint
from runwatch.cli import main
from runwatch.errors import RunwatchError
from runwatch.schedule import lr_plan, spec_from_dict
from runwatch.stream import read_stream, split_branches

TINY = ["--set", 'model.arch="tiny_cnn"', "--set", "model.num_classes=4",
        "--set", "data.image_size=8", "--set", "data.batch_size=8",
        "--set", "data.train_size=64", "--set", "data.val_size=32",
        "--set", "schedule.t0=3", "--set", "train.epochs=5", "--set", "optim.lr=0.05",
        "--set", "train.checkpoint_keep=10", "--set", 'train.device="cpu"']


@pytest.fixture
def smoke_run(tmp_path):
    run = tmp_path / "run"
    assert main(["train", "--config", "smoke_cpu", "--run-dir", str(run), *TINY]) == 0
    return run


def _live_lrs(run) -> dict[int, float]:
    return {r["epoch"]: r["lr"] for r in split_branches(read_stream(run)[0]).live}


def test_rewind_edit_resume_cycle(smoke_run, capsys):
    before = _live_lrs(smoke_run)
    assert before[4] / before[3] > 3  # the run crossed a warm restart at epoch 4
    plan = plan_rewind(smoke_run, to=3, request=EditRequest(t0=10, epochs=8,
                                                            continuity="match-lr"))
    assert plan.abandoned_epochs == [4, 5]
    assert plan.edit.jump_ratio < 1.5
    result = apply_rewind(plan)
    assert result.checkpoint.name == "rewind-from-0003.pt"
    assert (smoke_run / "checkpoints" / "epoch-0003.pt").is_file()  # nothing replaced

    saved = load_checkpoint(result.checkpoint).obj
    original = load_checkpoint(smoke_run / "checkpoints" / "epoch-0003.pt").obj
    assert saved["config"] == original["config"]
    assert saved["edits"][-1]["mode"] == "match-lr"
    assert saved["schedule"]["t0"] == 10 and saved["schedule"]["epochs"] == 8

    command = shlex.split(result.resume_command)
    assert command[:2] == ["runwatch", "train"]
    assert main(command[1:]) == 0
    records = read_stream(smoke_run)[0]
    rewind = [r for r in records if r.get("kind") == "rewind"]
    assert rewind and rewind[0]["to_epoch"] == 3 and rewind[0]["abandoned_epochs"] == [4, 5]
    after = _live_lrs(smoke_run)
    assert sorted(after) == list(range(1, 9))
    assert [after[e] for e in range(4, 9)] == pytest.approx(plan.edit.lr_after, rel=1e-9)
    abandoned = split_branches(records).abandoned
    assert sorted(r["epoch"] for r in abandoned) == [4, 5]


def test_edit_prints_a_resume_command_that_works_as_printed(smoke_run, tmp_path, capsys):
    # The output saved outside the run, as a user keeps edits apart: the printed command must
    # resume in the run's own stream, with the run's config, at the previewed LRs.
    out = tmp_path / "edits" / "fixed.pt"
    out.parent.mkdir()
    source = smoke_run / "checkpoints" / "epoch-0003.pt"
    assert main(["ckpt", "edit", str(source), "-o", str(out), "--t0", "10", "--epochs", "7",
                 "--continuity", "anneal-from-current", "--yes"]) == 0
    printed = capsys.readouterr().out.splitlines()
    command = shlex.split(next(line for line in printed if line.startswith("  runwatch train")))
    assert "OUT" not in command and str(out) in command
    assert main(command[1:]) == 0
    after = _live_lrs(smoke_run)
    assert sorted(after) == list(range(1, 8))
    edit = load_checkpoint(out).obj["edits"][-1]
    assert [after[e] for e in range(4, 8)] == pytest.approx(
        lr_plan(spec_from_dict(edit["to_schedule"]), 4, 7), rel=1e-9)


def test_a_finished_run_is_trained_longer_through_edit_epochs(smoke_run, tmp_path, capsys):
    # Every planned epoch is trained: inspect says to preview `--epochs N`, and that edit must
    # then plan the new epochs (nothing was planned after epoch 5) and resume at them.
    out = tmp_path / "longer.pt"
    last = smoke_run / "checkpoints" / "epoch-0005.pt"
    assert main(["ckpt", "edit", str(last), "-o", str(out), "--epochs", "8",
                 "--continuity", "anneal-from-current", "--yes"]) == 0
    printed = capsys.readouterr().out.splitlines()
    command = shlex.split(next(line for line in printed if line.startswith("  runwatch train")))
    assert main(command[1:]) == 0
    after = _live_lrs(smoke_run)
    assert sorted(after) == list(range(1, 9))
    assert after[6] == pytest.approx(after[5], rel=1e-9)  # annealed from the last LR: no jump
    edit = load_checkpoint(out).obj["edits"][-1]
    assert [after[e] for e in range(6, 9)] == pytest.approx(
        lr_plan(spec_from_dict(edit["to_schedule"]), 6, 8), rel=1e-9)
    with pytest.raises(RunwatchError, match="no epochs left: the run has done 5 of 4"):
        plan_edit(last, EditRequest(epochs=4))


def test_editing_a_checkpoint_taken_inside_an_epoch_says_so(smoke_run, tmp_path):
    # A SIGTERM's last.pt: the first steps of epoch 4 ran at the old LR; the preview's
    # "epoch 4 runs at X" holds only for the rest of it.
    import torch

    saved = torch.load(smoke_run / "checkpoints" / "epoch-0003.pt", weights_only=True)
    saved["step_in_epoch"] = 2
    torch.save(saved, tmp_path / "last.pt")
    plan = plan_edit(tmp_path / "last.pt", EditRequest(t0=10, epochs=8, continuity="restart"))
    ran = plan.lr_before[0]
    assert any(w.startswith("the checkpoint stopped inside epoch 4, after its step 2: those "
                            f"steps ran at {ran:.6g}") for w in plan.warnings)
    whole = plan_edit(smoke_run / "checkpoints" / "epoch-0003.pt",
                      EditRequest(t0=10, epochs=8, continuity="restart"))
    assert not any("stopped inside" in w for w in whole.warnings)


def test_a_warmup_ramp_after_the_resume_point_is_not_called_a_restart(smoke_run):
    # restart with a 2-epoch warmup from 0.1x: 0.005 then 0.0275 (5.5x), then the cosine: the
    # ramp's step is what was asked for, not "a restart".
    plan = plan_edit(smoke_run / "checkpoints" / "epoch-0003.pt",
                     EditRequest(warmup=2, epochs=8, continuity="restart"))
    assert plan.lr_after[:2] == pytest.approx([0.005, 0.0275])
    assert not any(w.startswith("epoch 5 ") for w in plan.warnings)


def test_a_second_edit_starts_from_the_lr_the_last_epoch_really_trained_with(smoke_run,
                                                                            tmp_path):
    # Write a restart edit, then change one's mind: anneal-from-current on the edited file must
    # anneal from epoch 3's LR (its epoch record), not from the 0.05 the restart would give
    # next; inspect must show the restart's jump too.
    trained = _live_lrs(smoke_run)[3]
    source = smoke_run / "checkpoints" / "epoch-0003.pt"
    first = plan_edit(source, EditRequest(epochs=8, continuity="restart"))
    restarted = write_edit(first, tmp_path / "restart.pt")
    again = plan_edit(restarted, EditRequest(continuity="anneal-from-current"))
    assert again.last_lr == pytest.approx(trained)
    assert again.lr_after[0] == pytest.approx(trained) and again.jump_ratio == pytest.approx(1)
    info = inspect_checkpoint(restarted)
    assert info.last_lr == pytest.approx(trained)
    assert info.jumps[0]["epoch"] == 4  # (t0 = 3: the next restart at 7 is listed too)


def test_rewind_to_best_picks_the_best_live_epoch(smoke_run):
    live = split_branches(read_stream(smoke_run)[0]).live
    best = max(live, key=lambda r: (r["test_acc1"], -r["epoch"]))
    plan = plan_rewind(smoke_run)
    assert plan.to_epoch == best["epoch"] and plan.edit is None
    result = apply_rewind(plan)
    assert load_checkpoint(result.checkpoint).obj["epoch"] == best["epoch"]
    with pytest.raises(RunwatchError, match="not on the live branch"):
        plan_rewind(smoke_run, to=42)


def test_rewinding_before_the_best_epoch_keeps_a_copy_of_best_pt(smoke_run, capsys):
    # The resumed run's first best replaces best.pt: without a copy, the weights of the best
    # (abandoned) epoch would be lost, though rewind promises nothing is.
    best = smoke_run / "checkpoints" / "best.pt"
    best_epoch = load_checkpoint(best).obj["epoch"]
    assert best_epoch > 1
    assert plan_rewind(smoke_run).abandoned_best is None  # rewinding to it: nothing at risk
    before = best.read_bytes()
    assert main(["ckpt", "rewind", str(smoke_run), "--to", "1", "--yes"]) == 0
    copy = smoke_run / "checkpoints" / f"best-abandoned-{best_epoch:04d}.pt"
    assert f"the rewind keeps a copy, {copy}" in capsys.readouterr().out
    assert copy.read_bytes() == before == best.read_bytes()


def test_a_trainer_started_after_the_plan_stops_the_rewind_and_the_edit(smoke_run, tmp_path):
    # The monitor plans, the user reads the preview, a trainer starts meanwhile: writing now
    # would interleave the rewind event with its records, or race its checkpoint writes.
    plan = plan_rewind(smoke_run, to=3)
    source = smoke_run / "checkpoints" / "epoch-0003.pt"
    edit = plan_edit(source, EditRequest(t0=10))
    stream_before = (smoke_run / "metrics.jsonl").read_bytes()
    with holder_of(smoke_run) as trainer:
        with pytest.raises(RunwatchError, match=f"the trainer \\(pid {trainer.pid}\\) is still "
                                                "running: stop it first"):
            apply_rewind(plan)
        with pytest.raises(RunwatchError, match=f"pid {trainer.pid}"):
            write_edit(edit, smoke_run / "checkpoints" / "epoch-0003-edited.pt")
        write_edit(edit, tmp_path / "elsewhere.pt")  # outside the run: its files are safe
    assert (smoke_run / "metrics.jsonl").read_bytes() == stream_before
    assert not plan.target.exists() and not plan.config_file.exists()
    assert not (smoke_run / "checkpoints" / "epoch-0003-edited.pt").exists()
    assert apply_rewind(plan).checkpoint == plan.target  # the trainer has stopped


def test_two_rewinds_planned_together_write_separate_files(smoke_run):
    # Both previews named rewind-from-0001.pt: the second to write takes the next free names
    # instead of replacing the first's checkpoint, config and best copy.
    first, second = plan_rewind(smoke_run, to=1), plan_rewind(smoke_run, to=1)
    assert first.target == second.target and first.abandoned_best is not None
    a = apply_rewind(first)
    a_files = {p.name: p.read_bytes() for p in (smoke_run / "checkpoints").iterdir()}
    a_files[first.config_file.name] = first.config_file.read_bytes()
    b = apply_rewind(second)
    assert a.checkpoint.name == "rewind-from-0001.pt"
    assert b.checkpoint.name == "rewind-from-0001-2.pt"
    for name, data in a_files.items():  # nothing of the first rewind was replaced
        folder = smoke_run if name.endswith(".toml") else smoke_run / "checkpoints"
        assert (folder / name).read_bytes() == data
    best_copy = second.abandoned_best_copy
    assert (best_copy.parent / f"{best_copy.stem}-2.pt").is_file()
    assert (smoke_run / "rewind-0001-2.toml").is_file()
    assert shlex.split(b.resume_command)[-4:] == [
        "--run-dir", str(smoke_run), "--resume-from", str(b.checkpoint)]
    assert f"--config {smoke_run / 'rewind-0001-2.toml'}" in b.resume_command
    events = [r for r in read_stream(smoke_run)[0] if r.get("kind") == "rewind"]
    assert [e["checkpoint"] for e in events] == [str(a.checkpoint), str(b.checkpoint)]


@pytest.mark.parametrize("fails", ["config", "best copy"])
def test_a_full_disk_mid_rewind_leaves_no_file_of_it(smoke_run, monkeypatch, fails):
    # The checkpoint is written first; a config or best.pt copy that then cannot be written
    # must not leave a rewind checkpoint the stream never mentions.
    import errno

    from runwatch.ckpt_tools import rewind

    plan = plan_rewind(smoke_run, to=1)
    assert plan.abandoned_best is not None
    before = sorted(p.name for p in smoke_run.rglob("*"))

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(rewind, "write_text_atomic" if fails == "config" else "copy_atomic",
                        full)
    with pytest.raises(RunwatchError, match="No space left on device"):
        apply_rewind(plan)
    assert sorted(p.name for p in smoke_run.rglob("*")) == before


def test_a_checkpoint_pruned_while_the_rewind_plans_is_chosen_again(smoke_run, monkeypatch):
    # A dry run on a live run: the trainer prunes the epoch file the plan was reading.
    from runwatch.ckpt_tools import rewind

    real, pruned = rewind.load_checkpoint, []

    def prune_first(path, *args, **kwargs):
        if not pruned and path.name.startswith("epoch-"):
            pruned.append(path.name)
            path.unlink()
        return real(path, *args, **kwargs)

    monkeypatch.setattr(rewind, "load_checkpoint", prune_first)
    plan = plan_rewind(smoke_run, to="best")
    assert pruned and plan.source.is_file() and plan.source.name != pruned[0]


@pytest.fixture(scope="module")
def warmup_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("warm") / "run"
    args = ["train", "--config", "smoke_cpu", "--run-dir", str(run), *TINY,
            "--set", "schedule.warmup_epochs=2"]
    assert main(args) == 0
    return run


@pytest.mark.parametrize("request_", [
    EditRequest(t0=6, continuity="restart", warmup=3),  # SequentialLR re-warms
    EditRequest(schedule="cosine", epochs=8),  # the trainer builds another scheduler type
    EditRequest(t0=6, continuity="match-lr"),
], ids=["rewarm", "to-cosine", "match-lr"])
def test_warmup_runs_resume_with_the_preview(warmup_run, tmp_path, request_):
    run = tmp_path / "run"
    shutil.copytree(warmup_run, run)
    plan = plan_rewind(run, to=3, request=request_)
    result = apply_rewind(plan)
    assert main(shlex.split(result.resume_command)[1:]) == 0
    after = _live_lrs(run)
    epochs = range(4, 4 + len(plan.edit.lr_after))
    assert [after[e] for e in epochs] == pytest.approx(plan.edit.lr_after, rel=1e-9)


def test_an_edit_shows_old_and_new_milestones_the_same_way(smoke_run, capsys):
    source = smoke_run / "checkpoints" / "epoch-0003.pt"
    assert main(["ckpt", "edit", str(source), "--schedule", "step", "--milestones", "6,7",
                 "--epochs", "8", "--dry-run"]) == 0
    assert "  milestones: [] -> [6, 7]\n" in capsys.readouterr().out
