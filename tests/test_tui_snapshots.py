"""Snapshots of the monitor at 80x24 and 120x40, in colour and with NO_COLOR: fixed data, fixed
clock, fixed forecast.

The forecast is pinned here (a fixed outcome; the "what to do" options get fixed numbers by
their kind) so these pictures test the monitor's layout, not the forecast package's numbers,
which have their own tests (and the seed story with the real forecast: test_tui_seed_story).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from tui_records import EPOCH_S, T0, run_records, write_stream

from runwatch.stream.replay import ReplaySource, seed_run_records
from runwatch.stream.sources import open_source
from runwatch.tui import app as app_module
from runwatch.tui import headless as hl
from runwatch.tui.app import RunwatchApp
from runwatch.tui.forecasting import ForecastOutcome
from runwatch.tui.screens import edit_screen
from runwatch.tui.widgets.epoch_table import EpochTable

EPOCHS = 14
NOW = T0 + EPOCHS * EPOCH_S
COLOURS = [pytest.param(False, id="colour"), pytest.param(True, id="no_color")]

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
# A fixed forecast for each kind of option, by the words of its key.
FINAL_BY_KIND = {"anneal-from-current": 73.1, "keep-phase": 72.4, "match-lr": 64.4,
                 "keep": 59.5}


SEED_FORECAST = {
    "target": 75.0, "probability_reach": 0.05, "eta_epoch": None, "eta_time": None,
    "predictions": [{"epoch": e, "acc1": 60.0, "lo80": 55.0, "hi80": 64.0, "lo95": 52.0,
                     "hi95": 67.0} for e in range(24, 101)],
    "events": [{"kind": "lr_restart", "epoch": 31, "lr_before": 0.000147, "lr_after": 0.05,
                "ratio": 340.0, "predicted_drop": 18.4}],
    "models": FORECAST["models"], "notes": [],
}


def pinned(base: dict):
    """A forecast function that answers `base`, with fixed numbers for each scenario."""

    def forecast(history, plan, target, patience=None, scenarios=(), now=None):
        last = history[-1]["epoch"] if history else 0
        out = []
        for name, start, lrs in scenarios:
            kind = next((k for k in FINAL_BY_KIND if k in name), "keep")
            final = FINAL_BY_KIND[kind] - (last - start) * 0.1
            out.append({"name": name, "checkpoint_epoch": start,
                        "final_epoch": start + len(lrs), "final_acc1": final,
                        "lo80": final - 3.0, "hi80": final + 2.5, "best_acc1": final,
                        "best_epoch": start + len(lrs),
                        "curve": [{"epoch": start + len(lrs), "acc1": final}]})
        return ForecastOutcome({**base, "last_epoch": last, "scenarios": out})

    return forecast


@pytest.fixture
def fixed(monkeypatch):
    """The forecasts pinned (the synthetic run's; `fixed.seed()` for the seed run's)."""
    monkeypatch.setenv("TZ", "UTC")  # the header's ETA date is local time
    time.tzset()

    def use(base: dict):
        monkeypatch.setattr(app_module, "run_forecast", pinned(base))
        monkeypatch.setattr(edit_screen, "run_forecast", pinned(base))
        return monkeypatch

    use(FORECAST)
    monkeypatch.seed = lambda: use(SEED_FORECAST)
    yield monkeypatch


def monitor(tmp_path: Path, monkeypatch, no_color: bool) -> RunwatchApp:
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")  # read (and removed) by the App when built
    stream = write_stream(tmp_path / "metrics.jsonl", run_records(EPOCHS, steps=10))
    os.utime(stream, (NOW, NOW))
    return RunwatchApp(open_source(tmp_path), tmp_path, run_name="snapshot-run",
                       clock=lambda: NOW, poll_s=0.05)


async def quiet(pilot) -> None:
    """Let the last updates lay out (a loaded machine may take a while)."""
    for _ in range(3):
        await pilot.wait_for_scheduled_animations()
        await pilot.pause(0.2)


async def settled(pilot) -> None:
    app = pilot.app
    end = time.monotonic() + 10
    while (app.query_one(EpochTable).row_count < EPOCHS or app.forecast.data is None
           or app.forecasting) and time.monotonic() < end:
        await pilot.pause(0.05)
    await quiet(pilot)


@pytest.mark.parametrize("no_color", COLOURS)
@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_run_tab(snap_compare, fixed, tmp_path, size, no_color):
    assert snap_compare(monitor(tmp_path, fixed, no_color), terminal_size=size,
                        run_before=settled)


@pytest.mark.parametrize("no_color", COLOURS)
def test_chart_tab_80x24(snap_compare, fixed, tmp_path, no_color):
    async def chart(pilot):
        await settled(pilot)
        await pilot.press("2")
        await pilot.pause(0.3)

    assert snap_compare(monitor(tmp_path, fixed, no_color), terminal_size=(80, 24),
                        run_before=chart)


def test_steps_tab_120x40(snap_compare, fixed, tmp_path):
    async def steps(pilot):
        await settled(pilot)
        await pilot.press("4")
        await pilot.pause(0.3)

    assert snap_compare(monitor(tmp_path, fixed, False), terminal_size=(120, 40),
                        run_before=steps)


def test_help_120x40(snap_compare, fixed, tmp_path):
    async def help_screen(pilot):
        await settled(pilot)
        await pilot.press("question_mark")
        await pilot.pause(0.2)

    assert snap_compare(monitor(tmp_path, fixed, False), terminal_size=(120, 40),
                        run_before=help_screen)


def seed_replay(monkeypatch, no_color: bool) -> tuple[RunwatchApp, hl.StepClock]:
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    clock = hl.StepClock()
    records = seed_run_records(start_time=T0)
    app = RunwatchApp(ReplaySource(records, 1.0, clock=clock, kind="seed run replay"),
                      Path("seed-run"), run_name="ResNet50/ImageNet seed run", replay=True,
                      poll_s=0.02)
    return app, clock


def to_epoch(clock: hl.StepClock, epoch: int):
    async def run(pilot) -> None:
        app = pilot.app
        while True:
            await hl._until(pilot, lambda: hl.settled(app))
            latest = app.model.latest()
            if latest is not None and latest.epoch >= epoch:
                break
            await hl.step_replay(pilot, clock, 1.0)
        await quiet(pilot)

    return run


@pytest.mark.parametrize("no_color", COLOURS)
@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_seed_replay_at_epoch_23(snap_compare, fixed, size, no_color):
    app, clock = seed_replay(fixed.seed(), no_color)
    assert snap_compare(app, terminal_size=size, run_before=to_epoch(clock, 23))


def test_seed_replay_fix_dialog_80x24(snap_compare, fixed):
    app, clock = seed_replay(fixed.seed(), False)

    async def fix(pilot) -> None:
        await to_epoch(clock, 23)(pilot)
        await pilot.press("f")
        await pilot.pause(0.5)

    assert snap_compare(app, terminal_size=(80, 24), run_before=fix)
