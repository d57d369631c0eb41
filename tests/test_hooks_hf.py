"""The Hugging Face TrainerCallback on a real tiny transformers.Trainer fit: the stream, its
planned LRs (the Trainer's own scheduler, copied and stepped ahead) and the forecast's events."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny_fits import hf_fit

from runwatch.forecast import ForecastOptions, forecast_run, history_from_records
from runwatch.hooks.hf import RunwatchTrainerCallback
from runwatch.stream import latest_plan, read_stream


def test_a_trainer_fit_writes_its_plan_epochs_checkpoints_and_the_restart_is_forecast(
        tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # output_dir="out", as scripts say it: relative
    out = Path("out")
    hf_fit(out, epochs=4, callbacks=[RunwatchTrainerCallback()],
           lr_scheduler_kwargs={"num_cycles": 2})  # 32 steps: a hard restart at step 16
    records, state = read_stream(out)
    assert state.bad_lines == 0
    start, epochs = records[0], [r for r in records if r["type"] == "epoch"]
    plan = start["lr_schedule"]
    assert start["type"] == "run_start" and start["epochs"] == 4
    assert start["config"]["lr_scheduler_type"] == "cosine_with_restarts"
    assert [r["epoch"] for r in epochs] == [1, 2, 3, 4]
    assert [r["lr"] for r in epochs] == pytest.approx(plan)  # what the Trainer did
    assert plan[0] == plan[2] == pytest.approx(0.1) and plan[1] < 0.06
    assert all(1 < r["test_acc1"] <= 100 for r in epochs)  # eval_accuracy, as percent
    assert all(r["test_loss"] is not None and r["train_loss"] is not None for r in epochs)
    steps = [r for r in records if r["type"] == "step"]
    assert len(steps) == 16 and {r["epoch"] for r in steps} == {1, 2, 3, 4}
    checkpoints = [r["path"] for r in records if r["type"] == "checkpoint"]
    # Absolute: the monitor reads them from wherever it runs.
    assert checkpoints == [str(tmp_path / out / f"checkpoint-{n}") for n in (8, 16, 24, 32)]
    assert (records[-1]["type"], records[-1]["status"]) == ("run_end", "completed")

    history = history_from_records(records)
    result = forecast_run(history.upto(2), latest_plan(records), 99.0,
                          ForecastOptions())
    assert [(e.kind, e.epoch) for e in result.events if e.kind == "lr_restart"] == [
        ("lr_restart", 3)]


def test_a_trainer_that_crashes_ends_its_stream_as_failed(tmp_path):
    # transformers calls no callback when train() raises: the stream ends at interpreter exit.
    import subprocess
    import sys
    from pathlib import Path

    script = f"""
import sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
from transformers import TrainerCallback
from tiny_fits import hf_fit
from runwatch.hooks.hf import RunwatchTrainerCallback

class Crash(TrainerCallback):
    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == 10:
            raise RuntimeError("CUDA error: an illegal memory access was encountered")

hf_fit({str(tmp_path / "out")!r}, epochs=4, callbacks=[RunwatchTrainerCallback(), Crash()])
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=240)
    assert done.returncode == 1 and "illegal memory access" in done.stderr
    records, _ = read_stream(tmp_path / "out")
    assert [r["epoch"] for r in records if r["type"] == "epoch"] == [1]  # 8 steps an epoch
    end = records[-1]
    assert (end["type"], end["status"]) == ("run_end", "failed")
    assert end["message"].startswith("RuntimeError: CUDA error")
