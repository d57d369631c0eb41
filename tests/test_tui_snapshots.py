"""Snapshots of the monitor at 80x24 and 120x40: fixed data, fixed clock, fixed forecast.

The forecast is pinned here (a fixed ForecastOutcome) so these pictures test the monitor's
layout, not the forecast package's numbers, which have their own tests.
"""

from __future__ import annotations

import os
import time

import pytest
from tui_records import EPOCH_S, T0, run_records, write_stream

from runwatch.stream.sources import open_source
from runwatch.tui import app as app_module
from runwatch.tui.app import RunwatchApp
from runwatch.tui.forecasting import ForecastOutcome
from runwatch.tui.widgets.epoch_table import EpochTable

EPOCHS = 14
NOW = T0 + EPOCHS * EPOCH_S

FORECAST = {
    "target": 75.0, "last_epoch": EPOCHS, "probability_reach": 0.42, "eta_epoch": 33,
    "eta_time": "2023-11-14T23:06+00:00",
    "predictions": [{"epoch": e, "acc1": 40 + e, "lo80": 36 + e * 0.9, "hi80": 44 + e * 1.1,
                     "lo95": 34 + e * 0.85, "hi95": 46 + e * 1.15} for e in range(15, 41)],
    "events": [{"kind": "regression", "epoch": 11, "acc_before": 57.54, "acc_after": 44.64,
                "drop": 12.90, "noise": 0.20, "lr_before": 0.0025, "lr_after": 0.1,
                "recovered_epoch": None},
               {"kind": "lr_restart", "epoch": 21, "lr_before": 0.0025, "lr_after": 0.1,
                "ratio": 40.0, "predicted_drop": 14.2}],
    "models": [{"name": "lr_law_acc", "final_acc1": 78.1, "weight": 0.5, "end_weight": 0.5},
               {"name": "pow3", "final_acc1": 73.2, "weight": 0.3, "end_weight": 0.3},
               {"name": "last_value", "final_acc1": 61.0, "weight": 0.2, "end_weight": 0.2}],
    "scenarios": [], "notes": [],
}


@pytest.fixture
def monitor(tmp_path, monkeypatch):
    monkeypatch.setenv("TZ", "UTC")  # the header's ETA date is local time
    time.tzset()
    monkeypatch.setattr(app_module, "run_forecast",
                        lambda *args, **kwargs: ForecastOutcome(FORECAST))
    stream = write_stream(tmp_path / "metrics.jsonl", run_records(EPOCHS, steps=10))
    os.utime(stream, (NOW, NOW))
    return RunwatchApp(open_source(tmp_path), tmp_path, run_name="snapshot-run",
                       clock=lambda: NOW, poll_s=0.05)


async def settled(pilot) -> None:
    app = pilot.app
    end = time.monotonic() + 10
    while (app.query_one(EpochTable).row_count < EPOCHS or app.forecast.data is None) and (
            time.monotonic() < end):
        await pilot.pause(0.05)
    await pilot.pause(0.2)


def test_run_tab_80x24(snap_compare, monitor):
    assert snap_compare(monitor, terminal_size=(80, 24), run_before=settled)


def test_run_tab_120x40(snap_compare, monitor):
    assert snap_compare(monitor, terminal_size=(120, 40), run_before=settled)


def test_chart_tab_80x24(snap_compare, monitor):
    async def chart(pilot):
        await settled(pilot)
        await pilot.press("2")
        await pilot.pause(0.2)

    assert snap_compare(monitor, terminal_size=(80, 24), run_before=chart)


def test_help_120x40(snap_compare, monitor):
    async def help_screen(pilot):
        await settled(pilot)
        await pilot.press("question_mark")
        await pilot.pause(0.2)

    assert snap_compare(monitor, terminal_size=(120, 40), run_before=help_screen)
