"""The Lightning callback on real tiny fits: the stream it writes, its planned LRs (a copy of
the scheduler stepped ahead) against the LRs the fit used, and the forecast's events ahead."""

from __future__ import annotations

import math

import pytest
from tiny_fits import lightning_fit

from runwatch.forecast import ForecastOptions, forecast_run, history_from_records
from runwatch.hooks.lightning import RunwatchCallback
from runwatch.stream import latest_plan, read_stream


def events_ahead(records: list[dict], upto: int) -> list[tuple[str, int]]:
    """The forecast of the run as seen after epoch `upto`: its LR events ahead."""
    history = history_from_records(records)
    result = forecast_run(history.upto(upto), latest_plan(records), 75.0,
                          ForecastOptions())
    return [(e.kind, e.epoch) for e in result.events if e.kind.startswith("lr_")]


def test_per_epoch_restarts_are_planned_written_and_forecast(tmp_path):
    lightning_fit(tmp_path, epochs=7, callbacks=[RunwatchCallback(tmp_path / "run")],
                  checkpoint=True)
    records, state = read_stream(tmp_path / "run")
    assert state.bad_lines == 0
    start, epochs = records[0], [r for r in records if r["type"] == "epoch"]
    assert start["type"] == "run_start" and start["epochs"] == 7
    plan = start["lr_schedule"]
    assert [r["epoch"] for r in epochs] == [1, 2, 3, 4, 5, 6, 7]
    assert [r["lr"] for r in epochs] == pytest.approx(plan)  # the plan is what the fit did
    assert plan[3] == plan[6] == pytest.approx(0.1) and plan[2] < 0.03  # T_0=3: restarts
    assert all(0 <= r["test_acc1"] <= 100 and r["test_acc1"] > 1 for r in epochs)  # percent
    assert all(r["test_loss"] is not None and r["train_loss"] is not None for r in epochs)
    checkpoints = [r for r in records if r["type"] == "checkpoint"]
    assert checkpoints and all(r["path"].endswith(".ckpt") for r in checkpoints)
    assert records[-1] == {**records[-1], "type": "run_end", "status": "completed", "epoch": 7}
    restarts = [e for e in events_ahead(records, upto=3) if e[0] == "lr_restart"]
    assert restarts == [("lr_restart", 4), ("lr_restart", 7)]


def test_a_per_step_decay_is_planned_from_the_first_step_of_each_epoch(tmp_path):
    lightning_fit(tmp_path, epochs=4, scheduler="step", interval="step",
                  callbacks=[RunwatchCallback(tmp_path / "run", log_every_n_steps=1)])
    records, _ = read_stream(tmp_path / "run")
    plan = records[0]["lr_schedule"]
    assert plan == pytest.approx([0.1, 0.1, 0.01, 0.01])  # MultiStepLR at step 8 of 4 a epoch
    first_steps = [r["lr"] for r in records if r["type"] == "step" and r["step"] == 1]
    assert first_steps == pytest.approx(plan)
    assert len([r for r in records if r["type"] == "step"]) == 16
    assert events_ahead(records, upto=2) == [("lr_drop", 3)]


def test_a_failing_fit_ends_its_stream_as_failed(tmp_path):
    import lightning.pytorch as pl

    class Boom(pl.Callback):
        def on_train_epoch_end(self, trainer, pl_module):
            if trainer.current_epoch == 1:
                raise RuntimeError("out of memory")

    with pytest.raises(RuntimeError, match="out of memory"):
        lightning_fit(tmp_path, epochs=4, callbacks=[RunwatchCallback(tmp_path / "run"),
                                                     Boom()])
    records, _ = read_stream(tmp_path / "run")
    end = records[-1]
    assert (end["type"], end["status"], end["epoch"]) == ("run_end", "failed", 2)
    assert "out of memory" in end["message"]
    assert not math.isnan(records[0]["lr_schedule"][0])
