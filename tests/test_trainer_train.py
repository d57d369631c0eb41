"""The training loop on a tiny CPU setup: exact resume, the stream, every way a run ends."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from trainer_tiny import tiny_config, tiny_dict, write_toml

from runwatch.errors import RunwatchError
from runwatch.schedule import lr_at_step, lr_plan
from runwatch.stream import read_stream
from runwatch.trainer.checkpoint import load_checkpoint
from runwatch.trainer.config import schedule_spec
from runwatch.trainer.train import run

pytestmark = pytest.mark.slow

# Fields that differ between two runs of the same computation.
CLOCK_FIELDS = {"time", "epoch_time_s", "images_per_s"}


def epoch_records(run_dir: Path) -> list[dict]:
    records, _ = read_stream(run_dir)
    return [{k: v for k, v in r.items() if k not in CLOCK_FIELDS}
            for r in records if r["type"] == "epoch"]


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


class StopAfter:
    """A stop request that turns on at the `n`-th question (as if a signal came just before)."""

    def __init__(self, n: int) -> None:
        self.n, self.signal_name = n, None

    def is_set(self) -> bool:
        self.n -= 1
        if self.n <= 0:
            self.signal_name = "SIGTERM"
        return self.n <= 0

    def install(self) -> None:
        pass

    def restore(self) -> None:
        pass


@pytest.mark.parametrize("step_per", ["epoch", "step"])
def test_resume_is_exact(tmp_path, step_per):
    config = tiny_config(schedule={"step_per": step_per})
    straight = run(config, tmp_path / "straight")
    assert straight.status == "completed"
    first = run(config, tmp_path / "split", stop=StopAfter(4 + 2))
    # 4 sync questions per epoch (steps 2, 4, 6 and the epoch end): the 6th is in epoch 2
    # after step 4 of 8, so the run stops mid-epoch.
    assert first.status == "interrupted"
    mid = load_checkpoint(tmp_path / "split" / "checkpoints" / "last.pt")
    assert (mid["epoch"], mid["step_in_epoch"]) == (1, 4)
    # Per step, the scheduler stopped where the optimizer did: 8 + 4 steps in.
    assert mid["lr_scheduler"]["last_epoch"] == (12 if step_per == "step" else 1)
    resumed = run(config, tmp_path / "split",
                  resume_from=tmp_path / "split" / "checkpoints" / "last.pt")
    assert resumed.status == "completed"
    a = load_checkpoint(tmp_path / "straight" / "checkpoints" / "last.pt")
    b = load_checkpoint(tmp_path / "split" / "checkpoints" / "last.pt")
    assert_same_weights(a["model"], b["model"])
    assert a["optimizer"]["state"].keys() == b["optimizer"]["state"].keys()
    for k in a["optimizer"]["state"]:
        assert torch.equal(a["optimizer"]["state"][k]["momentum_buffer"],
                           b["optimizer"]["state"][k]["momentum_buffer"])
    assert a["lr_scheduler"] == b["lr_scheduler"]
    assert (a["global_step"], a["best_epoch"]) == (b["global_step"], b["best_epoch"])
    assert epoch_records(tmp_path / "straight") == epoch_records(tmp_path / "split")


def test_a_per_step_schedule_moves_the_lr_every_step(tmp_path):
    config = tiny_config(schedule={"step_per": "step"})
    run(config, tmp_path)
    spec = schedule_spec(config, loader_steps=8)
    records, _ = read_stream(tmp_path)
    assert records[0]["schedule"]["steps_per_epoch"] == 8
    assert records[0]["lr_schedule"] == pytest.approx(lr_plan(spec))
    steps = [r for r in records if r["type"] == "step"]
    # Each step record's lr is the LR its step trained with: the schedule's at that step.
    assert [r["lr"] for r in steps] == pytest.approx(
        [lr_at_step(spec, r["global_step"]) for r in steps], rel=1e-12)
    assert len({r["lr"] for r in steps if r["epoch"] == 1}) == 3  # it moves within an epoch
    epochs = [r for r in records if r["type"] == "epoch"]
    # The epoch record's lr: that of the epoch's first step.
    assert [r["lr"] for r in epochs] == pytest.approx(
        [lr_at_step(spec, (r["epoch"] - 1) * 8 + 1) for r in epochs], rel=1e-12)
    saved = load_checkpoint(tmp_path / "checkpoints" / "last.pt")
    assert saved["schedule"]["steps_per_epoch"] == 8
    assert saved["lr_scheduler"]["last_epoch"] == 4 * 8


def test_resume_at_an_epoch_boundary_is_exact_and_continues_the_stream(tmp_path):
    run(tiny_config(), tmp_path / "straight")
    run(tiny_config(), tmp_path / "split", stop=StopAfter(2 * 4))  # after epoch 2
    run(tiny_config(), tmp_path / "split",
        resume_from=tmp_path / "split" / "checkpoints" / "epoch-0002.pt")
    assert_same_weights(load_checkpoint(tmp_path / "straight/checkpoints/last.pt")["model"],
                        load_checkpoint(tmp_path / "split/checkpoints/last.pt")["model"])
    assert epoch_records(tmp_path / "straight") == epoch_records(tmp_path / "split")
    records, state = read_stream(tmp_path / "split")
    types = [r["type"] for r in records if r["type"] not in ("step", "checkpoint")]
    assert types == ["run_start", "epoch", "epoch", "event", "run_end", "resume", "epoch",
                     "epoch", "run_end"]
    resume = next(r for r in records if r["type"] == "resume")
    assert resume["after_epoch"] == 2 and resume["override"] == []
    assert resume["run_id"] == records[0]["run_id"]
    assert state.bad_lines == 0


def test_stream_round_trip(tmp_path):
    config = tiny_config()
    result = run(config, tmp_path)
    records, state = read_stream(tmp_path)
    assert state.bad_lines == 0
    start = records[0]
    assert start["type"] == "run_start" and start["schema"] == 1
    assert start["lr_schedule"] == lr_plan(schedule_spec(config))
    assert start["config"]["model"]["arch"] == "tiny_cnn" and start["world_size"] == 1
    epochs = [r for r in records if r["type"] == "epoch"]
    assert [r["epoch"] for r in epochs] == [1, 2, 3, 4]
    assert [r["lr"] for r in epochs] == pytest.approx(start["lr_schedule"])
    for r in epochs:
        assert 0 <= r["test_acc1"] <= r["test_acc5"] <= 100 and r["train_loss"] > 0
    assert epochs[-1]["test_acc1"] > 50  # learnable: 4 classes, chance is 25%
    steps = [r for r in records if r["type"] == "step"]
    assert [(r["epoch"], r["step"]) for r in steps[:3]] == [(1, 2), (1, 4), (1, 6)]
    assert steps[-1]["global_step"] == 4 * 8 - 2
    ckpts = [r for r in records if r["type"] == "checkpoint"]
    assert [Path(r["path"]).name for r in ckpts] == [f"epoch-000{e}.pt" for e in (1, 2, 3, 4)]
    assert all(Path(r["path"]).exists() for r in ckpts[-2:])  # checkpoint_keep = 2
    assert not Path(ckpts[0]["path"]).exists()
    assert records[-1]["type"] == "run_end" and records[-1]["status"] == "completed"
    assert result.last_record["epoch"] == 4
    best = load_checkpoint(tmp_path / "checkpoints" / "best.pt")
    assert best["epoch"] == best["best_epoch"] == result.last_record["best_epoch"]


def test_nonfinite_loss_stops_as_diverged_and_keeps_the_last_good_checkpoint(tmp_path):
    run(tiny_config(train={"epochs": 2}), tmp_path)
    good = load_checkpoint(tmp_path / "checkpoints" / "last.pt")
    huge = tiny_config(optim={"lr": 1e9}, train={"epochs": 4})
    result = run(huge, tmp_path, resume_from=tmp_path / "checkpoints" / "last.pt",
                 override_schedule=True)
    assert result.status == "diverged" and result.exit_code == 1
    records, _ = read_stream(tmp_path)
    event = next(r for r in records if r.get("kind") == "nonfinite")
    assert event["epoch"] == 3 and not math.isfinite(event["value"])
    assert records[-1]["status"] == "diverged"
    after = load_checkpoint(tmp_path / "checkpoints" / "last.pt")
    assert after["epoch"] == 2
    assert_same_weights(good["model"], after["model"])


def test_a_run_dir_that_cannot_hold_checkpoints_stops_before_training(tmp_path):
    (tmp_path / "checkpoints").write_text("not a folder")
    with pytest.raises(RunwatchError, match="cannot create .*checkpoints .*--run-dir"):
        run(tiny_config(train={"epochs": 1}), tmp_path)
    assert not (tmp_path / "metrics.jsonl").exists()  # no epoch was trained for nothing


def test_a_checkpoint_write_that_fails_ends_the_run_as_failed_not_diverged(tmp_path,
                                                                          monkeypatch):
    # A full disk while the files are written: the user's to fix (one line, exit 2), and the
    # stream must not call a healthy run "diverged".
    import errno

    from runwatch.trainer import checkpoint

    def disk_full(src, dst, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint, "copy_atomic", disk_full)
    with pytest.raises(RunwatchError, match="epoch 1 .*No space left on device.*free space"):
        run(tiny_config(train={"epochs": 3}), tmp_path)
    records, _ = read_stream(tmp_path)
    assert records[-1]["type"] == "run_end" and records[-1]["status"] == "failed"
    assert (tmp_path / "checkpoints" / "epoch-0001.pt").is_file()  # written before last.pt


def test_early_stopping(tmp_path):
    # An LR too small to change anything: top-1 never beats epoch 1.
    config = tiny_config(optim={"lr": 1e-12}, schedule={"eta_min": 0.0},
                         train={"epochs": 6, "early_stop_patience": 2})
    result = run(config, tmp_path)
    assert result.status == "early_stopped" and result.epoch == 3
    records, _ = read_stream(tmp_path)
    event = next(r for r in records if r.get("kind") == "early_stop")
    assert (event["epoch"], event["best_epoch"], event["patience"]) == (3, 1, 2)
    assert records[-1]["status"] == "early_stopped"


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_mixed_precision_paths_run_on_cpu(tmp_path, amp):
    result = run(tiny_config(train={"epochs": 1, "amp": amp}), tmp_path)
    assert result.status == "completed"
    assert math.isfinite(result.last_record["train_loss"])
    saved = load_checkpoint(tmp_path / "checkpoints" / "last.pt")
    if amp == "fp16":
        assert saved["scaler"]["scale"] > 0 and "_growth_tracker" in saved["scaler"]
    else:
        assert saved["scaler"] is None


def test_a_fresh_run_refuses_a_run_dir_that_holds_a_run(tmp_path):
    run(tiny_config(train={"epochs": 1}), tmp_path)
    before = (tmp_path / "metrics.jsonl").read_bytes()
    with pytest.raises(RunwatchError, match="--resume-from"):
        run(tiny_config(train={"epochs": 1}), tmp_path)
    assert (tmp_path / "metrics.jsonl").read_bytes() == before


def test_sigterm_checkpoints_and_exits_0(tmp_path):
    # Slow enough epochs that the signal lands mid-run: more, larger images.
    raw = tiny_dict(data={"train_size": 4096, "image_size": 16},
                    train={"epochs": 50, "log_every_steps": 4})
    config_file = write_toml(tmp_path / "tiny.toml", raw)
    run_dir = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "runwatch.trainer", "--config", str(config_file), "--run-dir",
         str(run_dir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
        cwd=Path(__file__).resolve().parent.parent)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            stream = run_dir / "metrics.jsonl"
            if stream.exists() and '"type":"epoch"' in stream.read_text():
                break
            time.sleep(0.2)
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGTERM)
        sent = time.time()
        out, err = proc.communicate(timeout=30)
        assert time.time() - sent < 30
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err.decode()
    records, _ = read_stream(run_dir)
    assert records[-1]["type"] == "run_end" and records[-1]["status"] == "interrupted"
    assert any(r.get("kind") == "signal" and r["signal"] == "SIGTERM" for r in records)
    saved = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    assert saved["epoch"] == records[-1]["epoch"] >= 1
    assert json.dumps(saved["config"])  # a plain dict


def test_the_compiled_path_trains_like_eager_and_resumes_exactly(tmp_path):
    # Inductor's C++ kernels, built without SIMD: the vector-ISA probes and vectorised code
    # are most of a cold compile on CPU (~15 s of ~35 s here); the path is the same. One graph
    # serves all three compiled runs (same shapes), so the compile is paid once.
    import torch._inductor.config as inductor_config

    config = tiny_config(train={"epochs": 2, "compile": True})
    run(tiny_config(train={"epochs": 2}), tmp_path / "eager")
    with inductor_config.patch({"cpp.vec_isa_ok": False}):
        straight = run(config, tmp_path / "straight")
        assert run(config, tmp_path / "split", stop=StopAfter(4 + 2)).status == "interrupted"
        mid = load_checkpoint(tmp_path / "split" / "checkpoints" / "last.pt")
        assert (mid["epoch"], mid["step_in_epoch"]) == (1, 4)
        resumed = run(config, tmp_path / "split", resume_from=tmp_path / "split")
    assert straight.status == resumed.status == "completed"
    a = load_checkpoint(tmp_path / "straight" / "checkpoints" / "last.pt")
    b = load_checkpoint(tmp_path / "split" / "checkpoints" / "last.pt")
    assert_same_weights(a["model"], b["model"])
    assert epoch_records(tmp_path / "straight") == epoch_records(tmp_path / "split")
    # Plain keys (no `_orig_mod.`): the eager model loads a compiled run's checkpoint.
    assert a["model"].keys() == load_checkpoint(
        tmp_path / "eager" / "checkpoints" / "last.pt")["model"].keys()
    first = epoch_records(tmp_path / "eager")[0]
    assert epoch_records(tmp_path / "straight")[0]["train_loss"] == pytest.approx(
        first["train_loss"], rel=1e-3)


def test_a_run_says_where_it_trains_before_its_first_epoch(tmp_path, capsys):
    run(tiny_config(train={"epochs": 1}), tmp_path / "my run")
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (f"training in '{tmp_path / 'my run'}'; watch it with: runwatch watch "
                      f"'{tmp_path / 'my run'}'")
    assert out[1].startswith("epoch 1/1 ")


def test_a_full_disk_during_a_checkpoint_keeps_the_previous_one(tmp_path, monkeypatch, capsys):
    # The disk fills while epoch 2's file is half written: one line (exit 2), the run ends
    # `failed` naming the cause, and epoch 1's files are whole and resumable.
    import errno

    from runwatch.atomic import partial_file
    from runwatch.cli import main
    from runwatch.trainer import checkpoint

    calls = []

    def fills_up(path, data, **kwargs):
        calls.append(path)
        if len(calls) == 1:
            return write_bytes_atomic(path, data, **kwargs)
        with partial_file(path) as partial:
            partial.file.write(data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")

    write_bytes_atomic = checkpoint.write_bytes_atomic
    monkeypatch.setattr(checkpoint, "write_bytes_atomic", fills_up)
    config = write_toml(tmp_path / "c.toml", tiny_dict(train={"epochs": 3}))
    run_dir = tmp_path / "run"
    assert main(["train", "--config", str(config), "--run-dir", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "cannot write the checkpoint files of epoch 2" in err
    assert "No space left on device" in err and "free space" in err
    records, _ = read_stream(run_dir)
    assert records[-1]["type"] == "run_end" and records[-1]["status"] == "failed"
    assert "No space left on device" in records[-1]["message"]
    # Written in the background, the failure shows at epoch 3's checkpoint: 3 epochs trained.
    assert records[-1]["epoch"] == 3
    names = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    assert names == ["best.pt", "epoch-0001.pt", "last.pt"]  # no partial file left
    assert load_checkpoint(run_dir / "checkpoints" / "last.pt")["epoch"] == 1


def test_a_full_disk_under_the_stream_is_one_line(tmp_path, monkeypatch):
    import errno

    from runwatch.stream import StreamWriter

    write = StreamWriter.write

    def fills_up(self, record_type, **fields):
        if record_type == "epoch":
            raise OSError(errno.ENOSPC, "No space left on device")
        return write(self, record_type, **fields)

    monkeypatch.setattr(StreamWriter, "write", fills_up)
    with pytest.raises(RunwatchError, match=r"cannot append to .*metrics.jsonl \(No space "
                                            r"left on device\): free space") as err:
        run(tiny_config(train={"epochs": 2}), tmp_path)
    assert "\n" not in str(err.value)


def test_a_second_sigint_aborts_at_once(tmp_path):
    # The first SIGINT asks for a checkpoint at the next sync point (here: the epoch's end,
    # many steps away); the second ends the run now, without one: exit 130, the stream ended
    # `interrupted` and saying so, the last checkpoint that of the last epoch.
    raw = tiny_dict(data={"train_size": 4096, "image_size": 16},
                    train={"epochs": 50, "log_every_steps": 10_000})
    config_file = write_toml(tmp_path / "tiny.toml", raw)
    run_dir = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "runwatch.trainer", "--config", str(config_file), "--run-dir",
         str(run_dir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "OMP_NUM_THREADS": "1"}, cwd=Path(__file__).resolve().parent.parent)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            stream = run_dir / "metrics.jsonl"
            if stream.exists() and '"type":"epoch"' in stream.read_text():
                break
            time.sleep(0.2)
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGINT)
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        sent = time.time()
        out, err = proc.communicate(timeout=30)
        assert time.time() - sent < 10
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err.decode()
    assert "Traceback" not in err.decode()
    records, _ = read_stream(run_dir)
    end = records[-1]
    assert end["type"] == "run_end" and end["status"] == "interrupted"
    assert "aborted by a second SIGINT" in end["message"]
    epochs = [r["epoch"] for r in records if r["type"] == "epoch"]
    saved = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    assert (saved["epoch"], saved["step_in_epoch"]) == (epochs[-1], 0) == (end["epoch"], 0)


def test_deterministic_mode_sets_the_kernels_and_the_default_undoes_it(tmp_path, monkeypatch):
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", "")  # restored afterwards, whatever was set
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG")
    run(tiny_config(train={"epochs": 1, "deterministic": True}), tmp_path / "a")
    assert torch.are_deterministic_algorithms_enabled()
    assert torch.is_deterministic_algorithms_warn_only_enabled()
    assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    run(tiny_config(train={"epochs": 1}), tmp_path / "b")
    assert not torch.are_deterministic_algorithms_enabled()
    assert torch.backends.cudnn.benchmark and not torch.backends.cudnn.deterministic
