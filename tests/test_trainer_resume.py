"""Config against checkpoint on resume: refuse, override on purpose, or follow an edit."""

from __future__ import annotations

import dataclasses
import os

import pytest
import torch
from trainer_tiny import tiny_config

from runwatch.errors import RunwatchError
from runwatch.schedule import (
    continue_schedule,
    lr_at,
    lr_plan,
    spec_from_dict,
    spec_to_dict,
)
from runwatch.stream import StreamWriter, read_stream, stream_path
from runwatch.trainer.checkpoint import load_checkpoint, save_checkpoint
from runwatch.trainer.config import schedule_spec
from runwatch.trainer.lr import position_scheduler
from runwatch.trainer.model import build_model, build_optimizer
from runwatch.trainer.resume import config_changes, plan_resume
from runwatch.trainer.train import run

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def two_epochs(tmp_path_factory):
    """A run stopped after epoch 2 of 6 (t0=2: epoch 3 is a warm restart)."""
    run_dir = tmp_path_factory.mktemp("base")
    run(tiny_config(train={"epochs": 2}), run_dir)
    saved = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    # Planned 6 epochs: the checkpoint's config must say so, as a 6-epoch run stopped early would.
    saved["config"]["train"]["epochs"] = 6
    saved["schedule"]["epochs"] = 6
    return run_dir, saved


def write_run(tmp_path, saved: dict):
    run_dir = tmp_path / "run"
    save_checkpoint(run_dir, saved, is_best=False, keep=3)
    return run_dir, run_dir / "checkpoints" / "last.pt"


def test_changed_schedule_is_refused_with_both_values_and_the_way_forward(two_epochs, tmp_path):
    _, saved = two_epochs
    run_dir, path = write_run(tmp_path, saved)
    config = tiny_config(schedule={"t0": 10}, optim={"lr": 0.2}, train={"epochs": 6})
    with pytest.raises(RunwatchError) as err:
        run(config, run_dir, resume_from=path)
    message = str(err.value)
    assert "schedule.t0: checkpoint 2, config 10" in message
    assert "optim.lr: checkpoint 0.1, config 0.2" in message
    assert "runwatch ckpt edit" in message and "--override-schedule" in message
    assert "\n" not in message
    records, _ = read_stream(run_dir)
    assert records == []  # nothing written: the stream is not even started


def test_a_refusal_names_the_checkpoint_file_of_a_run_directory(two_epochs, tmp_path):
    # `runwatch ckpt edit RUN_DIR` fails (a directory): the suggested command must name the file.
    _, saved = two_epochs
    run_dir, path = write_run(tmp_path, saved)
    with pytest.raises(RunwatchError) as err:
        run(tiny_config(schedule={"t0": 10}, train={"epochs": 6}), run_dir, resume_from=run_dir)
    assert f"`runwatch ckpt edit {path} ...`" in str(err.value)


def test_a_checkpoint_is_not_resumed_into_another_runs_folder(two_epochs, tmp_path):
    # Another run's folder: its stream would mix two runs and its last.pt be replaced.
    base_dir, saved = two_epochs
    other = tmp_path / "other"
    run(tiny_config(train={"epochs": 1}), other)
    before = (other / "checkpoints" / "last.pt").read_bytes()
    with pytest.raises(RunwatchError, match=r"holds run \w+, but checkpoint .* is from run"):
        run(tiny_config(train={"epochs": 6}), other,
            resume_from=base_dir / "checkpoints" / "last.pt")
    assert (other / "checkpoints" / "last.pt").read_bytes() == before
    assert [r["type"] for r in read_stream(other)[0]][-1] == "run_end"


def test_after_a_rewind_the_abandoned_branch_is_not_resumed(tmp_path):
    # `runwatch ckpt rewind RUN --to 1`, then the habitual `--resume-from RUN` (its last.pt, of
    # epoch 2): continuing the abandoned branch would leave the stream's live branch with a
    # gap (1, then 3...). The run must point to the rewind's checkpoint instead.
    config = tiny_config(train={"epochs": 2})
    run(config, tmp_path)
    with StreamWriter(stream_path(tmp_path)) as writer:
        writer.event("rewind", to_epoch=1, checkpoint="CK/rewind-from-0001.pt",
                     abandoned_epochs=[2])
    with pytest.raises(RunwatchError, match=r"rewound to epoch 1, .*epoch 2\) is on the "
                                            r"abandoned branch: .*CK/rewind-from-0001.pt"):
        run(tiny_config(train={"epochs": 4}), tmp_path, resume_from=tmp_path)
    assert read_stream(tmp_path)[0][-1]["kind"] == "rewind"  # nothing appended


def test_changes_outside_the_schedule_need_no_consent(two_epochs):
    _, saved = two_epochs
    config = tiny_config(train={"epochs": 6, "log_every_steps": 3}, data={"workers": 0})
    changes, others = config_changes(saved["config"], config)
    assert changes == []
    assert others == [{"key": "train.log_every_steps", "checkpoint": 2, "config": 3}]
    assert plan_resume(saved, config, override=False, source="x").mode == "as_saved"


def test_override_applies_the_new_schedule_from_the_next_epoch(two_epochs, tmp_path, capsys):
    _, saved = two_epochs
    run_dir, path = write_run(tmp_path, saved)
    config = tiny_config(schedule={"t0": 10}, optim={"lr": 0.2, "momentum": 0.8},
                         train={"epochs": 6})
    result = run(config, run_dir, resume_from=path, override_schedule=True)
    assert result.status == "completed"
    new_spec = schedule_spec(config)
    records, _ = read_stream(run_dir)
    epochs = {r["epoch"]: r["lr"] for r in records if r["type"] == "epoch"}
    # keep-phase: epoch k+1 runs at the new schedule's LR for k+1, not a restart at 0.2.
    assert [epochs[e] for e in (3, 4, 5, 6)] == pytest.approx(lr_plan(new_spec, 3, 6))
    event = next(r for r in records if r.get("kind") == "schedule_override")
    assert {c["key"] for c in event["changes"]} == {"schedule.t0", "optim.lr",
                                                   "optim.momentum"}
    assert event["lr_next"] == pytest.approx(lr_plan(new_spec, 3, 6))
    resume = next(r for r in records if r["type"] == "resume")
    assert resume["lr_schedule"] == pytest.approx(lr_plan(new_spec))
    out = capsys.readouterr().out
    assert "override schedule.t0: 2 -> 10" in out and "LR of epochs 3-6" in out
    # Epoch 2 ran at the bottom of t0=2's cosine; keep-phase in t0=10 is far higher.
    assert "warning: the LR jumps" in out and "at epoch 3" in out
    final = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    assert final["optimizer"]["param_groups"][0]["momentum"] == 0.8
    assert final["config"]["schedule"]["t0"] == 10  # the run now follows the new config
    assert spec_from_dict(final["schedule"]) == new_spec


def test_override_keeps_momentum_buffers(two_epochs):
    _, saved = two_epochs
    model = build_model(tiny_config().model)
    config = tiny_config(schedule={"t0": 10}, train={"epochs": 6})
    optimizer = build_optimizer(model, config.optim)
    model.load_state_dict(saved["model"])
    optimizer.load_state_dict(saved["optimizer"])
    buffers = [s["momentum_buffer"].clone() for s in optimizer.state.values()]
    position_scheduler(optimizer, schedule_spec(config), 2)
    assert all(torch.equal(a, s["momentum_buffer"])
               for a, s in zip(buffers, optimizer.state.values(), strict=True))
    assert optimizer.param_groups[0]["lr"] == pytest.approx(lr_at(schedule_spec(config), 3))


def edited(saved: dict, mode: str) -> dict:
    """What `runwatch ckpt edit` writes: a new schedule, consistent optimizer and scheduler."""
    old = spec_from_dict(saved["schedule"])
    new = continue_schedule(dataclasses.replace(old, t0=10), saved["epoch"],
                            lr_at(old, saved["epoch"]), mode)
    model = build_model(tiny_config().model)
    optimizer = build_optimizer(model, tiny_config().optim)
    optimizer.load_state_dict(saved["optimizer"])
    scheduler = position_scheduler(optimizer, new, saved["epoch"])
    out = dict(saved)
    out.update(schedule=spec_to_dict(new), optimizer=optimizer.state_dict(),
               lr_scheduler=scheduler.state_dict(),
               edits=[{"time": 0.0, "mode": mode, "changes": [{"key": "t0", "from": 2, "to": 10}],
                       "from_schedule": saved["schedule"], "to_schedule": spec_to_dict(new)}])
    return out


@pytest.mark.parametrize("mode", ["anneal-from-current", "restart"])
def test_an_edited_checkpoint_is_followed_as_edited(two_epochs, tmp_path, capsys, mode):
    _, saved = two_epochs
    run_dir, path = write_run(tmp_path, edited(saved, mode))
    result = run(tiny_config(train={"epochs": 6}), run_dir, resume_from=path)
    assert result.status == "completed"
    spec = spec_from_dict(load_checkpoint(path)["schedule"])
    records, _ = read_stream(run_dir)
    lrs = [r["lr"] for r in records if r["type"] == "epoch"]
    assert lrs == pytest.approx(lr_plan(spec, 3, 6))
    event = next(r for r in records if r.get("kind") == "schedule_edit")
    assert event["mode"] == mode and event["lr_next"] == pytest.approx(lrs)
    resume = next(r for r in records if r["type"] == "resume")
    assert len(resume["lr_schedule"]) == 6 and resume["lr_schedule"][2:] == pytest.approx(lrs)
    assert "edited schedule" in capsys.readouterr().out
    # Once followed, a later resume of the same run is a plain one (no second edit event).
    final = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    assert final["edits_followed"] == 1
    assert plan_resume(final, tiny_config(train={"epochs": 6}), False, "x").mode == "as_saved"


def test_override_schedule_applies_the_config_over_an_edit_too(two_epochs):
    # The config equals the checkpoint's (an edit leaves `config` alone), so --override-schedule
    # found no difference and followed the edit: the flag the user gave was ignored.
    _, saved = two_epochs
    checkpoint = edited(saved, "restart")
    config = tiny_config(train={"epochs": 6})
    assert plan_resume(checkpoint, config, False, "x").mode == "edited"
    plan = plan_resume(checkpoint, config, True, "x")
    assert plan.mode == "override" and plan.spec == schedule_spec(config)
    assert {"key": "schedule.offset", "checkpoint": 2, "config": 0} in plan.changes
    assert plan_resume(saved, config, True, "x").mode == "as_saved"  # nothing to override


def test_an_inconsistent_checkpoint_is_refused(two_epochs, tmp_path):
    _, saved = two_epochs
    broken = edited(saved, "restart")
    broken["schedule"] = dict(broken["schedule"], t0=3)  # schedule says one thing, state another
    run_dir, path = write_run(tmp_path, broken)
    with pytest.raises(RunwatchError, match="inconsistent"):
        run(tiny_config(train={"epochs": 6}), run_dir, resume_from=path)


def test_resuming_a_finished_run_says_how_to_train_longer(two_epochs):
    run_dir, _ = two_epochs
    with pytest.raises(RunwatchError, match="already trained all 2 epochs.*train.epochs"):
        run(tiny_config(train={"epochs": 2}), run_dir,
            resume_from=run_dir / "checkpoints" / "last.pt")


def test_a_per_step_schedule_resumes_only_in_the_steps_it_was_planned_in(tmp_path):
    run_dir = tmp_path / "base"
    run(tiny_config(schedule={"step_per": "step"}, train={"epochs": 2}), run_dir)
    saved = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    saved["config"]["train"]["epochs"] = saved["schedule"]["epochs"] = 4
    assert saved["schedule"]["steps_per_epoch"] == 8
    run_dir, path = write_run(tmp_path, saved)
    # Batches of 16: 4 steps an epoch, so the 8-step plan no longer fits.
    config = tiny_config(schedule={"step_per": "step"}, data={"batch_size": 16},
                         train={"epochs": 4})
    with pytest.raises(RunwatchError, match="planned in 8 steps an epoch.*takes 4") as err:
        run(config, run_dir, resume_from=path)
    assert "--override-schedule" in str(err.value) and "\n" not in str(err.value)
    result = run(config, run_dir, resume_from=path, override_schedule=True)
    assert result.status == "completed"
    records, _ = read_stream(run_dir)
    event = next(r for r in records if r.get("kind") == "schedule_override")
    assert event["changes"] == [{"key": "schedule.steps_per_epoch", "checkpoint": 8,
                                 "config": 4}]
    replanned = schedule_spec(config, loader_steps=4)
    lrs = [r["lr"] for r in records if r["type"] == "epoch"]
    assert lrs == pytest.approx(lr_plan(replanned, 3, 4))
    assert spec_from_dict(load_checkpoint(run_dir / "checkpoints" / "last.pt")["schedule"]) \
        == replanned


def test_a_checkpoint_from_before_step_per_resumes_as_saved(two_epochs):
    _, saved = two_epochs
    old = {**saved, "config": {**saved["config"], "schedule": dict(saved["config"]["schedule"])}}
    del old["config"]["schedule"]["step_per"]
    plan = plan_resume(old, tiny_config(train={"epochs": 6}), override=False, source="x")
    assert plan.mode == "as_saved" and plan.changes == []


@pytest.mark.parametrize(("model", "message"), [
    ({"num_classes": 5}, r"holds model.num_classes 4 \(config: 5\): its weights fit only that "
                         r"model; resume with the checkpoint's \(--set model.num_classes=4\)"),
    ({"arch": "resnet18"}, r"holds model.arch 'tiny_cnn' \(config: 'resnet18'\).*"
                           r"--set model.arch=tiny_cnn"),
])
def test_a_config_for_another_model_is_refused_in_one_line(two_epochs, tmp_path, model,
                                                           message):
    _, saved = two_epochs
    run_dir, path = write_run(tmp_path, saved)
    with pytest.raises(RunwatchError, match=message) as err:
        run(tiny_config(model=model, train={"epochs": 6}), run_dir, resume_from=path)
    assert "\n" not in str(err.value)
    assert read_stream(run_dir)[0] == []  # nothing written


def test_weights_that_do_not_fit_their_own_config_are_refused_in_one_line(two_epochs, tmp_path):
    _, saved = two_epochs
    damaged = {**saved, "model": {**saved["model"], "9.weight": torch.zeros(3, 32)}}
    run_dir, path = write_run(tmp_path, damaged)
    with pytest.raises(RunwatchError, match=r"weights or optimizer state in .* do not fit "
                                            r"tiny_cnn \(Error\(s\) in loading") as err:
        run(tiny_config(train={"epochs": 6}), run_dir, resume_from=path)
    assert "\n" not in str(err.value)


@pytest.mark.timeout(60)
def test_a_stream_or_checkpoint_that_is_a_fifo_is_refused_not_waited_on(two_epochs, tmp_path):
    _, saved = two_epochs
    run_dir, path = write_run(tmp_path, saved)
    os.mkfifo(stream_path(run_dir))
    with pytest.raises(RunwatchError, match=r"metrics.jsonl is not a regular file"):
        run(tiny_config(train={"epochs": 6}), run_dir, resume_from=path)
    fifo = tmp_path / "fifo.pt"
    os.mkfifo(fifo)
    with pytest.raises(RunwatchError, match=r"fifo.pt is not a regular file"):
        run(tiny_config(train={"epochs": 6}), tmp_path / "other", resume_from=fifo)
