"""Pilot tests of the monitor: every panel, key and alert, on small real streams."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading

import pytest
from textual.widgets import Sparkline, TabbedContent
from tui_pilot import (
    NOW,
    make_app,
    stream_in,
    table_column,
    text_of,
    wait_for,
)
from tui_records import (
    EPOCH_S,
    T0,
    epoch,
    run_async,
    run_records,
    run_start,
    step,
    write_stream,
)

from runwatch.tui import app as app_module
from runwatch.tui.forecasting import ForecastOutcome
from runwatch.tui.screens.help_screen import HelpScreen
from runwatch.tui.screens.quit_screen import QuitScreen
from runwatch.tui.status import eta_timestamp
from runwatch.tui.widgets.accuracy_chart import AccuracyChart
from runwatch.tui.widgets.alert_list import AlertList
from runwatch.tui.widgets.epoch_table import EpochTable
from runwatch.tui.widgets.forecast_panel import ForecastPanel
from runwatch.tui.widgets.run_header import RunHeader


@run_async
async def test_table_header_sparklines_chart_forecast_follow_appends(tmp_path):
    stream_in(tmp_path, run_records(8, steps=20))
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.query_one(EpochTable)
        await wait_for(pilot, lambda: table.row_count == 8)
        assert table_column(app, "epoch") == [str(e) for e in range(1, 9)]  # no step rows
        assert table.cursor_row == 7  # newest at the bottom, followed
        header = text_of(app.query_one(RunHeader))
        assert "epoch 8 of 40" in header and "1,234 img/s" in header and "1 min/epoch" in header
        assert app.query_one("#spark-acc", Sparkline).data[-1] == pytest.approx(
            epoch(8)["test_acc1"])
        lrs = app.query_one("#spark-lr", Sparkline).data
        assert len(lrs) == 40 and min(lrs) < 0.003  # the whole plan: the dip at epoch 10
        assert len(app.query_one("#spark-loss", Sparkline).data) > 0
        chart = app.query_one("#chart-small", AccuracyChart)
        assert chart.series.live[0] == tuple(range(1, 9))
        await wait_for(pilot, lambda: app.forecast.data is not None)
        forecast = text_of(app.query_one("#forecast-small", ForecastPanel))
        assert "P(reach within budget)" in forecast and "next: ep 11: LR restart" in forecast
        assert chart.series.predictions

        write_stream(tmp_path / "metrics.jsonl", [step(9, 1, 2.0), epoch(9), epoch(10)], "a")
        await wait_for(pilot, lambda: table.row_count == 10, timeout=1.5)
        assert table.cursor_row == 9
        assert table_column(app, "tag")[-1] != ""


@run_async
async def test_restart_alert_then_regression_and_markers(tmp_path):
    stream_in(tmp_path, run_records(8))
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.forecast.data is not None)
        alerts = text_of(app.query_one("#alert-lines"))
        # The forecast expects a drop of a few points: a warning (critical from 5 points).
        assert "[!] LR RESTART AHEAD: in 3 epochs (epoch 11)" in alerts
        assert "predicted drop" in alerts
        assert not app.query_one(AlertList).has_class("-critical")
        write_stream(tmp_path / "metrics.jsonl", [epoch(e) for e in (9, 10, 11)], "a")
        await wait_for(pilot, lambda: app.query_one(EpochTable).row_count == 11)
        await wait_for(pilot, lambda: "REGRESSION" in text_of(app.query_one("#alert-lines")))
        assert "[!] REGRESSION: epoch 11 after an LR restart" in text_of(
            app.query_one("#alert-lines"))
        assert table_column(app, "tag")[-1] == "LR RESTART"


@run_async
async def test_resume_hides_abandoned_branch_and_reset_reloads(tmp_path):
    stream_in(tmp_path, run_records(6))
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.query_one(EpochTable)
        await wait_for(pilot, lambda: table.row_count == 6)
        resume = {**run_start(), "type": "resume", "after_epoch": 3}
        write_stream(tmp_path / "metrics.jsonl", [resume, epoch(4, 10.0)], "a")
        await wait_for(pilot, lambda: table.row_count == 4)
        assert table_column(app, "test")[-1] == "10.00"  # the new branch, not mixed
        assert "BRANCH ABANDONED" in text_of(app.query_one("#alert-lines"))
        chart = app.query_one("#chart-small", AccuracyChart)
        assert chart.series.abandoned[0] == (4, 5, 6)
        # Replaced by a shorter file: start over from it.
        replacement = tmp_path / "new.jsonl"
        write_stream(replacement, run_records(2))
        os.replace(replacement, tmp_path / "metrics.jsonl")
        await wait_for(pilot, lambda: table.row_count == 2 and app.follow_state.resets == 1)
        await wait_for(pilot, lambda: "FILE REPLACED" in text_of(app.query_one("#alert-lines")))


@run_async
async def test_missing_file_garbage_lines_nan_and_partial_line(tmp_path):
    app = make_app(tmp_path / "later")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: "file missing" in text_of(app.query_one(RunHeader))
                       or "waiting" in text_of(app.query_one(RunHeader)))
        (tmp_path / "later").mkdir()
        path = tmp_path / "later" / "metrics.jsonl"
        write_stream(path, run_records(2))
        with open(path, "a") as f:
            f.write("this is not json\n")
            f.write('{"type": "epoch", "epoch": 3, "test_acc1": NaN, "test_loss": NaN}\n')
            f.write('{"type": "epoch", "epo')  # partial: waits for its newline
        table = app.query_one(EpochTable)
        await wait_for(pilot, lambda: table.row_count == 3)
        assert table_column(app, "test")[-1] == "NaN"
        assert table_column(app, "tag")[-1] == "non-finite"
        await wait_for(pilot, lambda: "bad lines 1" in text_of(app.query_one(RunHeader)))
        # The NaN epoch is judged by the forecast, which follows the new epoch.
        await wait_for(pilot, lambda: "[!!] NON-FINITE" in text_of(app.query_one("#alert-lines")))
        assert "UNREADABLE LINES: 1 skipped" in text_of(app.query_one("#alert-lines"))
        with open(path, "a") as f:
            f.write('ch": 4, "test_acc1": 50.0}\n')
        await wait_for(pilot, lambda: table.row_count == 4)


@run_async
async def test_stalled_and_finished_status(tmp_path):
    stream_in(tmp_path, run_records(3))
    app = make_app(tmp_path, now=NOW + 20 * 60)
    async with app.run_test(size=(80, 24)) as pilot:
        header = app.query_one(RunHeader)
        await wait_for(pilot, lambda: "stalled for 20 min" in text_of(header))
        assert header.has_class("-stalled")
        assert "[!] STALLED" in text_of(app.query_one("#alert-lines"))
        write_stream(tmp_path / "metrics.jsonl",
                     [{"type": "run_end", "status": "early_stopped", "epoch": 3, "time": NOW}],
                     "a")
        await wait_for(pilot, lambda: "finished: early_stopped" in text_of(header))


@run_async
async def test_forecast_unavailable_without_the_package(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "runwatch.forecast", None)  # import -> ImportError
    stream_in(tmp_path, run_records(5))
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.forecast.note == "forecast unavailable")
        await pilot.pause(0.1)
        assert "forecast unavailable" in text_of(app.query_one("#forecast-small"))
        assert "predicted drop: forecast unavailable" in text_of(app.query_one("#alert-lines"))


@run_async
async def test_keys_help_tabs_alert_focus_follow_and_quit(tmp_path):
    stream_in(tmp_path, run_records(30))
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(EpochTable)
        await wait_for(pilot, lambda: table.row_count == 30)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert "rewind to the best checkpoint" in text_of(app.screen.query_one("Static"))
        await pilot.pause(0.1)
        help_text = app.screen.query_one("Static")  # every key on one line at 80 columns
        assert help_text.size.height == len(text_of(help_text).splitlines())
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        tabs = app.query_one(TabbedContent)
        for key, tab in (("2", "chart"), ("3", "checkpoints"), ("1", "run")):
            await pilot.press(key)
            assert tabs.active == tab
        await pilot.press("a")
        assert app.focused is app.query_one(AlertList)
        table.focus()
        table.move_cursor(row=0)
        await pilot.press("G")
        assert table.cursor_row == 29
        await pilot.press("q")
    assert app.return_value is None


@run_async
async def test_narrow_layout_moves_chart_to_its_tab_and_resizes(tmp_path):
    stream_in(tmp_path, run_records(5))
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.screen.has_class("-narrow")
        assert not app.query_one("#chart-small").display
        await pilot.resize_terminal(130, 40)
        await pilot.pause(0.1)
        assert app.screen.has_class("-wide") and app.query_one("#chart-small").display


def test_no_thread_left_after_quit(tmp_path):
    stream_in(tmp_path, run_records(5))
    before = set(threading.enumerate())
    app = make_app(tmp_path)

    async def watch_then_quit():
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: app.query_one(EpochTable).row_count == 5)
            await pilot.press("q")

    asyncio.run(watch_then_quit())  # also joins the loop's executor threads
    assert all(w.is_finished for w in app.workers)
    assert set(threading.enumerate()) <= before


@run_async
async def test_quit_asks_about_a_training_it_started(tmp_path):
    stream_in(tmp_path, run_records(2))
    training = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        app = make_app(tmp_path, training=training)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("q")
            assert isinstance(app.screen, QuitScreen)
            await pilot.press("escape")  # cancel: keeps watching
            assert not isinstance(app.screen, QuitScreen) and app.is_running
            await pilot.press("q", "s")
        assert app.return_value == "stop"
    finally:
        training.kill()
        training.wait()


@run_async
async def test_plateau_gap_and_patience_alerts_on_screen(tmp_path):
    # Flat after epoch 2 while the train accuracy keeps climbing: a plateau, a widening
    # train-test gap, and 8 of 12 epochs of patience used (before the restart at epoch 11).
    records = [run_start(patience=12), epoch(1, 50.0), epoch(2, 60.0)] + [
        epoch(e, 59.95 + e * 0.001, train_acc1=60.0 + 2 * e) for e in range(3, 11)]
    stream_in(tmp_path, records)
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        lines = app.query_one("#alert-lines")
        await wait_for(pilot, lambda: "PLATEAU" in text_of(lines))
        shown = text_of(lines)
        assert "[i] PLATEAU:" in shown
        assert "[!] TRAIN-TEST GAP: train-test acc gap widened" in shown
        assert "[!] EARLY STOP NEAR: no new best for 8 epochs; patience left 4 of 12" in shown


@run_async
async def test_a_finished_run_opened_later_shows_no_eta_in_the_past(tmp_path):
    # Training stopped at epoch 8 (a rewind, a crash, a run_end); the monitor opens a day later.
    later = NOW + 86400.0
    stream_in(tmp_path, run_records(8) + [{"type": "run_end", "status": "interrupted",
                                           "epoch": 8, "time": T0 + 8 * EPOCH_S}])
    app = make_app(tmp_path, now=later, target=60.0)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.forecast.data is not None)
        assert app.forecast.data["eta_epoch"] > 8
        assert eta_timestamp(app.forecast.data) > later  # header and panel read this one


@run_async
async def test_table_calls_regression_only_what_the_forecast_does(tmp_path, monkeypatch):
    # Drops of 2 points at epochs 4 and 6; the forecast's events flag only epoch 6.
    accs = [50.0, 52.0, 54.0, 52.0, 56.0, 54.0, 57.0]
    stream_in(tmp_path, [run_start()] + [epoch(e, a) for e, a in enumerate(accs, 1)])
    forecast = {"target": 75.0, "last_epoch": 7, "eta_epoch": None, "probability_reach": 0.1,
                "predictions": [], "models": [], "scenarios": [], "notes": [],
                "events": [{"kind": "regression", "epoch": 6, "acc_before": 56.0,
                            "acc_after": 54.0, "drop": 2.0, "noise": 0.2,
                            "lr_before": 0.1, "lr_after": 0.1, "recovered_epoch": 7}]}
    monkeypatch.setattr(app_module, "run_forecast", lambda *a, **k: ForecastOutcome(forecast))
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.forecast.data is not None)
        await pilot.pause(0.1)
        tags = table_column(app, "tag")
        assert (tags[3], tags[5]) == ("dip", "regression")
