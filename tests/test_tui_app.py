"""Pilot tests of the monitor: every panel, key and alert, on small real streams."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from lock_holder import holder_of
from textual.widgets import Sparkline, TabbedContent
from tui_pilot import (
    NOW,
    fake_checkpoints,
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

from runwatch.stream.sources import open_source
from runwatch.tui import app as app_module
from runwatch.tui import surgery
from runwatch.tui.app import RunwatchApp
from runwatch.tui.forecasting import ForecastOutcome
from runwatch.tui.screens.confirm_screen import ConfirmScreen
from runwatch.tui.screens.edit_screen import EditScreen
from runwatch.tui.screens.help_screen import HelpScreen
from runwatch.tui.screens.quit_screen import QuitScreen
from runwatch.tui.status import eta_timestamp
from runwatch.tui.widgets.accuracy_chart import AccuracyChart
from runwatch.tui.widgets.alert_list import AlertList
from runwatch.tui.widgets.checkpoint_panel import CheckpointPanel
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
        assert "P(reach within budget)" in forecast and "next: ep 11: lr_restart" in forecast
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
        assert "[!!] LR RESTART AHEAD: in 3 epochs (epoch 11)" in alerts
        assert "predicted drop" in alerts
        assert app.query_one(AlertList).has_class("-critical")
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
async def test_checkpoints_panel_marks_best_and_rewind_asks_first(tmp_path, monkeypatch):
    records = run_records(5) + [{"type": "checkpoint", "epoch": 5, "path": "last.pt",
                                 "is_best": False}]
    records[5]["test_acc1"] = 99.0  # epoch 5 is the best
    stream_in(tmp_path, records)
    fake_checkpoints(tmp_path)
    applied = []
    plan = SimpleNamespace(to_dict=lambda: {"to_epoch": 5, "abandons": []})
    monkeypatch.setattr(surgery, "plan_rewind", lambda run_dir, to: plan)
    monkeypatch.setattr(surgery, "apply_rewind", lambda p: applied.append(p) or SimpleNamespace(
        checkpoint="checkpoints/best.pt", resume_command="runwatch train --resume-from X"))
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        panel = app.query_one(CheckpointPanel)
        await wait_for(pilot, lambda: len(panel.rows) == 4)
        best = {row.path.name for row in panel.rows if row.is_best}
        assert best == {"best.pt", "epoch-0005.pt"}
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await wait_for(pilot, lambda: "nothing written" in text_of(app.query_one("#ckpt-status")))
        assert applied == []
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: "resume with" in text_of(app.query_one("#ckpt-status")))
        assert applied == [plan]
        assert "runwatch train --resume-from X" in text_of(app.query_one("#ckpt-status"))


@run_async
async def test_tools_unavailable_is_reported_not_fatal(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "runwatch.ckpt_tools", None)
    stream_in(tmp_path, run_records(3))
    fake_checkpoints(tmp_path)  # files to rewind to, and no tools to do it
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: len(app.query_one(CheckpointPanel).rows) == 4)
        await pilot.press("b")
        await wait_for(pilot, lambda: "checkpoint tools unavailable" in text_of(
            app.query_one("#ckpt-status")))
        assert app.is_running


@run_async
async def test_edit_dialog_previews_lr_and_forecasts_then_confirms(tmp_path, monkeypatch):
    stream_in(tmp_path, run_records(10))
    fake_checkpoints(tmp_path)
    written = []
    plan = SimpleNamespace(to_dict=lambda: {"first_epoch": 6, "jump_ratio": 1.0},
                           resume_hint="")
    monkeypatch.setattr(surgery, "plan_edit", lambda path, choice: plan)
    monkeypatch.setattr(surgery, "write_edit", lambda p, out: written.append(out) or out)
    app = make_app(tmp_path, config_name="smoke_cpu")
    async with app.run_test(size=(120, 40)) as pilot:
        panel = app.query_one(CheckpointPanel)
        await wait_for(pilot, lambda: len(panel.rows) == 4)
        await pilot.press("3")
        names = [row.path.name for row in panel.rows]
        panel.query_one("#ckpt-table").move_cursor(row=names.index("epoch-0005.pt"))
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, EditScreen))
        screen = app.screen
        # Fitted on the whole live branch, as `runwatch forecast --checkpoint 5` is.
        assert [r["epoch"] for r in screen.context.history] == list(range(1, 11))
        assert screen.context.epochs_done == 5
        preview = text_of(screen.query_one("#edit-preview"))
        assert "from epoch 6:" in preview and "resume point" in preview
        await wait_for(pilot, lambda: "match-lr" in text_of(screen.query_one("#edit-forecast")))
        forecast = text_of(screen.query_one("#edit-forecast"))
        assert all(mode in forecast for mode in ("keep-phase", "anneal-from-current", "restart"))
        # The fields start at the checkpoint's values: untouched, they are no change.
        assert (screen.choice.t0, screen.choice.lr, screen.choice.schedule) == (None, None, None)
        screen.query_one("#t0").value = "30"
        await wait_for(pilot, lambda: screen.choice.t0 == 30)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert written == []  # nothing written before the confirmation
        await pilot.press("y")
        await wait_for(pilot, lambda: "resume with" in text_of(app.query_one("#ckpt-status")))
        assert written == [tmp_path / "checkpoints" / "epoch-0005-edited.pt"]
        assert "runwatch train --config smoke_cpu --resume-from" in text_of(
            app.query_one("#ckpt-status"))


TINY_RUN = ["--set", 'model.arch="tiny_cnn"', "--set", "model.num_classes=4",
            "--set", "data.image_size=8", "--set", "data.batch_size=8",
            "--set", "data.train_size=64", "--set", "data.val_size=32",
            "--set", "schedule.t0=3", "--set", "train.epochs=5",
            "--set", "train.checkpoint_keep=10", "--set", 'train.device="cpu"']


@run_async
async def test_rewind_and_edit_with_the_real_checkpoint_tools(tmp_path):
    from runwatch.cli import main

    run = tmp_path / "run"
    assert main(["train", "--config", "smoke_cpu", "--run-dir", str(run), *TINY_RUN]) == 0
    app = RunwatchApp(open_source(run), run, poll_s=0.05, config_name="smoke_cpu")
    async with app.run_test(size=(120, 40)) as pilot:
        panel = app.query_one(CheckpointPanel)
        await wait_for(pilot, lambda: len(panel.rows) >= 5)
        await pilot.press("3")
        names = [row.path.name for row in panel.rows]
        panel.query_one("#ckpt-table").move_cursor(row=names.index("epoch-0003.pt"))
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, EditScreen))
        app.screen.query_one("#t0").value = "10"
        await wait_for(pilot, lambda: app.screen.choice.t0 == 10)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "first_epoch: 4" in text_of(app.screen.query_one("#confirm-details"))
        await pilot.press("y")
        status = app.query_one("#ckpt-status")
        await wait_for(pilot, lambda: "resume with" in text_of(status))
        assert (run / "checkpoints" / "epoch-0003-edited.pt").is_file()

        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: "rewound to" in text_of(status))
        assert "--resume-from" in text_of(status)
        table = app.query_one(EpochTable)
        best = app.model.best().epoch
        if best < 5:  # the rewind event abandons the later epochs: hidden, not mixed in
            await wait_for(pilot, lambda: table.row_count == best)


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


@run_async
async def test_rewind_without_checkpoints_says_so(tmp_path, monkeypatch):
    # The seed-run replay and foreign logs have no checkpoint files: nothing to rewind to.
    stream_in(tmp_path, run_records(5))
    asked = []
    monkeypatch.setattr(surgery, "plan_rewind", lambda run_dir, to: asked.append(run_dir))
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.query_one(EpochTable).row_count == 5)
        await pilot.press("b")
        await wait_for(pilot, lambda: "no checkpoints" in text_of(app.query_one("#ckpt-status")))
        assert "rewind: this run has no checkpoints yet" in text_of(app.query_one("#ckpt-status"))
        assert asked == [] and not isinstance(app.screen, ConfirmScreen)


@run_async
async def test_writing_before_the_mode_forecasts_finish_does_not_crash(tmp_path, monkeypatch):
    # ctrl+s while the forecast of the continuity modes still runs: it finishes after the
    # dialog is gone, and must not take the monitor down with it.
    from runwatch.tui.screens import edit_screen

    def slow_forecast(*args, **kwargs):
        time.sleep(0.5)
        return ForecastOutcome(None, "forecast: slow")

    stream_in(tmp_path, run_records(10))
    fake_checkpoints(tmp_path)
    plan = SimpleNamespace(to_dict=lambda: {"first_epoch": 6}, resume_hint="")
    monkeypatch.setattr(surgery, "plan_edit", lambda path, choice: plan)
    monkeypatch.setattr(surgery, "write_edit", lambda p, out: out)
    monkeypatch.setattr(edit_screen, "run_forecast", slow_forecast)
    app = make_app(tmp_path, config_name="smoke_cpu")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: len(app.query_one(CheckpointPanel).rows) == 4)
        await pilot.press("3", "e")
        await wait_for(pilot, lambda: isinstance(app.screen, EditScreen))
        dialog = app.screen
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: "resume with" in text_of(app.query_one("#ckpt-status")))
        await pilot.pause(1.0)  # the forecast worker ends after the dialog has gone
        assert app.is_running and dialog not in app.screen_stack


def question(app) -> str:
    """The question of the confirmation on screen, if one is."""
    if not isinstance(app.screen, ConfirmScreen):
        return ""
    return text_of(app.screen.query_one("#confirm-question"))


def held_run_with_checkpoints(tmp_path: Path) -> Path:
    records = run_records(5) + [{"type": "checkpoint", "epoch": 5, "path": "last.pt",
                                 "is_best": False}]
    stream_in(tmp_path, records)
    fake_checkpoints(tmp_path)
    return tmp_path


@run_async
async def test_rewind_and_edit_refuse_a_run_whose_trainer_runs_though_not_started_here(
        tmp_path, monkeypatch):
    # The trainer was started from a shell: the app has no process of its own to know it by.
    held_run_with_checkpoints(tmp_path)
    asked = []
    monkeypatch.setattr(surgery, "plan_rewind", lambda run_dir, to: asked.append(run_dir))
    app = make_app(tmp_path)
    with holder_of(tmp_path) as trainer:
        refusal = (f"the trainer (pid {trainer.pid}) is still running: stop it first "
                   f"(kill -TERM {trainer.pid}; it checkpoints and exits)")
        async with app.run_test(size=(120, 40)) as pilot:
            status = app.query_one("#ckpt-status")
            await wait_for(pilot, lambda: len(app.query_one(CheckpointPanel).rows) == 4)
            await pilot.press("b")
            await wait_for(pilot, lambda: question(app) == f"Stop the trainer (pid {trainer.pid})?")
            await pilot.press("n")
            await wait_for(pilot, lambda: text_of(status) == f"rewind: {refusal}")

            await pilot.press("e")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("n")
            await wait_for(pilot, lambda: text_of(status) == f"edit: {refusal}")
            assert not isinstance(app.screen, EditScreen)
        assert asked == [] and trainer.poll() is None  # nothing planned, nothing stopped


@run_async
async def test_stop_the_trainer_then_rewind(tmp_path, monkeypatch):
    held_run_with_checkpoints(tmp_path)
    applied = []
    plan = SimpleNamespace(to_dict=lambda: {"to_epoch": 5})
    monkeypatch.setattr(surgery, "plan_rewind", lambda run_dir, to: plan)
    monkeypatch.setattr(surgery, "apply_rewind", lambda p: applied.append(p) or SimpleNamespace(
        checkpoint="checkpoints/rewind-from-0005.pt", resume_command="runwatch train ..."))
    app = make_app(tmp_path)
    with holder_of(tmp_path) as trainer:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: len(app.query_one(CheckpointPanel).rows) == 4)
            await pilot.press("b")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("y")  # stop it
            # It got SIGTERM, released the run and exited; then the rewind itself is asked.
            await wait_for(pilot, lambda: question(app) == "Rewind to the best checkpoint?")
            assert trainer.poll() == 0
            await pilot.press("y")
            await wait_for(pilot, lambda: "resume with" in text_of(app.query_one("#ckpt-status")))
        assert applied == [plan]


@run_async
async def test_a_trainer_on_another_host_is_refused_without_an_offer_to_stop_it(tmp_path):
    held_run_with_checkpoints(tmp_path)
    now = time.time()
    (tmp_path / "run.lock").write_text(json.dumps({
        "role": "trainer", "pid": 4242, "host": "node-7", "started": now, "heartbeat": now,
        "run_id": "test-run"}))
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: len(app.query_one(CheckpointPanel).rows) == 4)
        await pilot.press("b")
        await wait_for(pilot, lambda: "node-7" in text_of(app.query_one("#ckpt-status")))
        assert text_of(app.query_one("#ckpt-status")) == (
            "rewind: the trainer (pid 4242 on host node-7) is still running: stop it first "
            "(kill -TERM 4242 on node-7; it checkpoints and exits)")
        assert not isinstance(app.screen, ConfirmScreen)
