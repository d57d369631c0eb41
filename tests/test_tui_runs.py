"""The run list and its compare view, driven with a Pilot on runs the tests write."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tui_pilot import wait_for
from tui_records import run_async

from runwatch.stream import StreamWriter
from runwatch.stream.runs import RunScanner
from runwatch.tui import launch, run_list
from runwatch.tui.app import RunwatchApp
from runwatch.tui.compare import ABANDONED, FORECAST, LIVE, run_lines
from runwatch.tui.forecasting import ForecastOutcome
from runwatch.tui.runs_app import ListState, RunsApp
from runwatch.tui.screens.compare_screen import CompareScreen
from runwatch.tui.widgets.compare_chart import MARKERS, CompareChart
from runwatch.tui.widgets.run_detail import RunDetail
from runwatch.tui.widgets.run_table import RunTable

NOW = 1_800_000_000.0
HOSTILE = "[bold red]evil\x1b[2J"
PLAN = [0.1] * 10 + [0.01] * 10 + [0.1] * 10


def pinned_forecast(history, plan, target, patience=None, scenarios=(), now=None):
    """A fixed forecast: the last accuracy + 5 at the planned end, band +-2."""
    if not history:
        return ForecastOutcome(None, "forecast: waiting for the first epoch")
    last = history[-1]
    return ForecastOutcome({"predictions": [
        {"epoch": 30, "acc1": last["test_acc1"] + 5, "lo80": last["test_acc1"] + 3,
         "hi80": last["test_acc1"] + 7}], "events": []})


@pytest.fixture
def fixed(monkeypatch):
    monkeypatch.setattr(run_list, "run_forecast", pinned_forecast)
    return monkeypatch


def write_run(run: Path, epochs: int, base: float, rewind_to: int | None = None,
              end: str | None = None) -> Path:
    run.mkdir(parents=True)
    with StreamWriter(run / "metrics.jsonl") as w:
        w.write("run_start", time=NOW - 100, epochs=30, lr_schedule=PLAN)
        for e in range(1, epochs + 1):
            w.write("epoch", time=NOW - 100 + e, epoch=e, test_acc1=base + e,
                    lr=PLAN[e - 1], epoch_time_s=1.0)
        if rewind_to is not None:
            w.write("event", time=NOW - 50, kind="rewind", to_epoch=rewind_to)
            for e in range(rewind_to + 1, epochs + 1):
                w.write("epoch", time=NOW - 50 + e, epoch=e, test_acc1=base + 2 * e,
                        lr=0.01, epoch_time_s=1.0)
        if end:
            w.write("run_end", time=NOW - 10, status=end, epoch=epochs)
    os.utime(run / "metrics.jsonl", (NOW - 30, NOW - 30))
    return run


def runs_folder(tmp_path: Path) -> Path:
    root = tmp_path / "runs"
    write_run(root / "alpha", 12, 40.0, end="completed")
    write_run(root / "beta", 12, 50.0, rewind_to=8)
    write_run(root / HOSTILE, 5, 30.0, end="failed")
    (root / "broken" / "sub").mkdir(parents=True)  # two logs of two formats: which?
    (root / "broken" / "log.txt").write_text('{"epoch": 0, "test_acc1": 5.0}\n')
    (root / "broken" / "sub" / "metrics.csv").write_text("epoch,step,val_acc\n0,1,0.5\n")
    return root


def list_app(root: Path, **kwargs) -> RunsApp:
    return RunsApp(ListState(RunScanner(root)), scan_s=0.05, clock=lambda: NOW, **kwargs)


async def forecasts_in(pilot) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: app.scanned and all(
        r.outlook is not None for r in app.rows() if r.summary.status != "unreadable"))
    await pilot.pause(0.1)


def names(app: RunsApp) -> list[str]:
    return [row.summary.name for row in app.query_one(RunTable).shown]


@run_async
async def test_list_shows_each_run_sorts_and_escapes_names(fixed, tmp_path):
    app = list_app(runs_folder(tmp_path))
    async with app.run_test(size=(120, 40)) as pilot:
        await forecasts_in(pilot)
        table = app.query_one(RunTable)
        by_name = {row.summary.name: row for row in table.shown}
        assert by_name["beta"].summary.status == "running"
        assert by_name["alpha"].outlook.final == pytest.approx(57.0)  # 40 + 12 + 5
        # beta was rewound to 8 and redone: its live branch ends at 50 + 2*12
        assert by_name["beta"].outlook.final == pytest.approx(79.0)
        assert names(app) == ["beta", HOSTILE, "alpha", "broken"]  # by status
        await pilot.press("s")  # epoch, larger first
        assert table.sort_by == "epoch"
        assert names(app)[-2:] == [HOSTILE, "broken"]
        await pilot.press("s", "s")  # forecast, larger first; a finished run has none
        assert names(app)[:3] == ["beta", HOSTILE, "alpha"]
        cells = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
        hostile = next(c for c in cells if "evil" in c)
        assert "\x1b" not in hostile and "[bold red]evil" in hostile  # shown, not styled
        unreadable = by_name["broken"]
        assert unreadable.summary.status == "unreadable"
        table.move_cursor(row=names(app).index("broken"))
        await pilot.pause(0.05)
        detail = str(app.query_one(RunDetail).render())
        assert "unreadable" in detail and "holds several logs" in detail


@run_async
async def test_enter_opens_a_run_and_an_unreadable_one_says_why(fixed, tmp_path):
    app = list_app(runs_folder(tmp_path))
    async with app.run_test(size=(120, 40)) as pilot:
        await forecasts_in(pilot)
        table = app.query_one(RunTable)
        table.move_cursor(row=names(app).index("broken"))
        await pilot.press("enter")
        assert app.is_running  # not opened: the reason is shown instead
        table.move_cursor(row=names(app).index("alpha"))
        await pilot.press("enter")
    assert app.return_value == tmp_path / "runs" / "alpha"


@run_async
async def test_home_and_end_go_to_the_first_and_last_run(fixed, tmp_path):
    app = list_app(runs_folder(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await forecasts_in(pilot)
        table = app.query_one(RunTable)
        await pilot.press("end")
        assert table.cursor_row == table.row_count - 1
        await pilot.press("home")
        assert table.cursor_row == 0
        await pilot.press("G")
        assert table.cursor_row == table.row_count - 1
        await pilot.press("g")
        assert table.cursor_row == 0


@run_async
async def test_the_keys_help_has_each_key_on_one_line_at_80_columns(fixed, tmp_path):
    from textual.widgets import Static

    from runwatch.tui.screens.help_screen import HelpScreen

    app = list_app(runs_folder(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause(0.1)
        assert isinstance(app.screen, HelpScreen)
        help_text = app.screen.query_one(Static)
        assert help_text.size.height == len(str(help_text.render()).splitlines())


@run_async
async def test_a_new_run_appears_and_a_live_one_advances(fixed, tmp_path):
    root = runs_folder(tmp_path)
    app = list_app(root)
    async with app.run_test(size=(120, 40)) as pilot:
        await forecasts_in(pilot)
        write_run(root / "gamma", 3, 60.0)
        await wait_for(pilot, lambda: "gamma" in names(app))
        with StreamWriter(root / "beta" / "metrics.jsonl") as w:
            w.write("epoch", time=NOW, epoch=13, test_acc1=80.0, lr=0.01)
        os.utime(root / "beta" / "metrics.jsonl", (NOW, NOW))  # written now, by the clock
        await wait_for(pilot, lambda: any(
            r.summary.name == "beta" and r.summary.epoch == 13 and r.summary.status == "running"
            for r in app.rows()))


@run_async
async def test_mark_and_compare_overlays_runs_with_the_abandoned_branch(fixed, tmp_path):
    app = list_app(runs_folder(tmp_path))
    async with app.run_test(size=(120, 40)) as pilot:
        await forecasts_in(pilot)
        table = app.query_one(RunTable)
        table.move_cursor(row=names(app).index("beta"))
        await pilot.press("space")
        table.move_cursor(row=names(app).index("alpha"))
        await pilot.press("space", "c")
        assert isinstance(app.screen, CompareScreen)
        acc = app.screen.query_one("#compare-acc", CompareChart)
        await wait_for(pilot, lambda: bool(acc.lines))
        kinds = {(line.label, line.kind) for line in acc.lines}
        assert kinds == {("beta", LIVE), ("beta (abandoned 1)", ABANDONED),
                         ("beta (forecast)", FORECAST), ("alpha", LIVE),
                         ("alpha (forecast)", FORECAST)}
        lr = app.screen.query_one("#compare-lr", CompareChart)
        assert {line.label for line in lr.lines} >= {"beta", "alpha (plan)"}
        await pilot.press("escape")
        assert isinstance(app.query_one(RunTable), RunTable) and not isinstance(
            app.screen, CompareScreen)


@run_async
async def test_compare_draws_every_colour_of_its_palette(fixed, tmp_path):
    # The fifth run on took a plotext-only colour name ("blue+") into the Rich legend: a crash.
    root, count = tmp_path / "runs", len(MARKERS) + 1
    for i in range(count):
        write_run(root / f"run{i}", 3, 10.0 * i)
    app = list_app(root)
    async with app.run_test(size=(120, 40)) as pilot:
        await forecasts_in(pilot)
        for _ in names(app):
            await pilot.press("space")  # marks and moves down
        assert len(app.query_one(RunTable).marked) == count
        await pilot.press("c")
        await pilot.pause(0.2)
        assert isinstance(app.screen, CompareScreen)
        legend = str(app.screen.query_one("#compare-legend").render())
        assert all(f"run{i}" in legend for i in range(count))


def test_compare_lines_split_branches_and_fill_the_lr_from_the_plan():
    records = [{"type": "run_start", "lr_schedule": [0.1, 0.1, 0.01, 0.01]}]
    records += [{"type": "epoch", "epoch": e, "test_acc1": 10.0 * e} for e in (1, 2, 3)]
    records += [{"type": "event", "kind": "rewind", "to_epoch": 1}]
    records += [{"type": "epoch", "epoch": e, "test_acc1": 11.0 * e} for e in (2,)]
    lines = run_lines(HOSTILE, 0, records, ((4, 50.0),))
    live, abandoned, forecast = lines.accuracy
    assert (live.epochs, live.values) == ((1, 2), (10.0, 22.0))
    assert (abandoned.epochs, abandoned.values) == ((2, 3), (20.0, 30.0))
    assert forecast.epochs == (4,)
    assert lines.lr[0].values == (0.1, 0.1)  # from the plan: the records say no LR
    assert lines.lr[-1].epochs == (3, 4)  # the plan ahead
    assert "\x1b" not in live.label


def test_the_launcher_opens_the_run_chosen_and_comes_back_on_esc(fixed, tmp_path):
    """The list -> Enter -> the monitor on that run -> Esc -> the list again -> q."""
    root = runs_folder(tmp_path)
    seen = []

    async def in_list(pilot):
        app = pilot.app
        await forecasts_in(pilot)
        if len(seen) == 1:  # the first list
            app.query_one(RunTable).move_cursor(row=names(app).index("alpha"))
            await pilot.press("enter")
        else:
            assert app.query_one(RunTable).selected().summary.name == "alpha"
            await pilot.press("q")

    async def in_monitor(pilot):
        await wait_for(pilot, lambda: pilot.app.model.latest() is not None)
        await pilot.press("escape")

    def run(app):
        seen.append(type(app).__name__)
        if isinstance(app, RunwatchApp):
            assert app.path == root / "alpha" and app.back
        app.run(headless=True, size=(100, 30),
                auto_pilot=in_monitor if isinstance(app, RunwatchApp) else in_list)

    assert launch.watch_runs(RunScanner(root), run=run) == 0
    assert seen == ["RunsApp", "RunwatchApp", "RunsApp"]


COLOURS = [pytest.param(False, id="colour"), pytest.param(True, id="no_color")]
SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]


def snapshot_app(tmp_path: Path, monkeypatch, no_color: bool) -> RunsApp:
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    return list_app(runs_folder(tmp_path))


@pytest.mark.parametrize("no_color", COLOURS)
@pytest.mark.parametrize("size", SIZES)
def test_run_list_snapshot(snap_compare, fixed, tmp_path, size, no_color):
    assert snap_compare(snapshot_app(tmp_path, fixed, no_color), terminal_size=size,
                        run_before=forecasts_in)


@pytest.mark.parametrize("no_color", COLOURS)
@pytest.mark.parametrize("size", SIZES)
def test_compare_snapshot(snap_compare, fixed, tmp_path, size, no_color):
    async def compare(pilot):
        await forecasts_in(pilot)
        app = pilot.app
        for name in ("beta", "alpha"):
            app.query_one(RunTable).move_cursor(row=names(app).index(name))
            await pilot.press("space")
        await pilot.press("c")
        await wait_for(pilot, lambda: bool(app.screen.query_one("#compare-acc").lines))
        await pilot.pause(0.3)

    assert snap_compare(snapshot_app(tmp_path, fixed, no_color), terminal_size=size,
                        run_before=compare)


def test_only_a_run_with_epochs_ahead_shows_a_forecast_and_a_restart_ahead(tmp_path, fixed):
    from runwatch.stream.runs import run_records

    summaries = {s.name: s for s in RunScanner(runs_folder(tmp_path)).scan(NOW)}
    for name, ahead in (("alpha", False), ("beta", True)):  # completed at 12/30; live
        summary = summaries[name]
        outlook = run_list.outlook_of(run_records(summary), summary.status, 75.0)
        restart = [a for a in outlook.alerts if a.kind == "LR RESTART AHEAD"]
        cells = run_list.row_cells(run_list.RunRow(summary, outlook), marked=False)
        assert bool(restart) == ahead and (cells[4].plain != "-") == ahead, name
    broken = summaries["broken"]  # its reason names it by its place in the list
    assert broken.status == "unreadable" and broken.note.startswith("broken")
    assert str(tmp_path) not in broken.note


def test_the_widest_forecast_fits_its_column_with_its_band_closed(tmp_path, fixed):
    from runwatch.tui.widgets.run_table import WIDTHS

    summary = next(s for s in RunScanner(runs_folder(tmp_path)).scan(NOW) if s.name == "beta")
    outlook = run_list.Outlook(final=100.0, lo80=99.9, hi80=100.0)
    cell = run_list.row_cells(run_list.RunRow(summary, outlook), marked=False)[4].plain
    assert cell.endswith("]") and len(cell) <= WIDTHS["forecast [80%]"]


def test_a_restart_the_run_has_passed_since_its_forecast_is_no_longer_shown(tmp_path, fixed):
    from dataclasses import replace

    from runwatch.stream.runs import run_records

    summary = {s.name: s for s in RunScanner(runs_folder(tmp_path)).scan(NOW)}["beta"]
    outlook = run_list.outlook_of(run_records(summary), summary.status, 75.0)
    assert [a.epoch for a in run_list.RunRow(summary, outlook).alerts
            if a.kind == "LR RESTART AHEAD"] == [21]
    later = replace(summary, epoch=22)  # the run went on; the outlook is from epoch 12
    row = run_list.RunRow(later, outlook)
    assert not [a for a in row.alerts if a.kind == "LR RESTART AHEAD"]
    assert "RESTART" not in run_list.row_cells(row, marked=False)[5].plain
