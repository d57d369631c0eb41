"""Pilot tests of the monitor's keys: navigation, filters, copy, tabs, the steps chart, quit."""

from __future__ import annotations

import subprocess
import sys

from textual.widgets import DataTable, Input
from tui_pilot import fake_checkpoints, make_app, stream_in, table_column, text_of, wait_for
from tui_records import run_async, run_records

from runwatch.tui.screens.quit_screen import QuitScreen
from runwatch.tui.widgets.commands_panel import Command, CommandsPanel, shell_lines
from runwatch.tui.widgets.epoch_table import EpochTable
from runwatch.tui.widgets.step_chart import StepChart


@run_async
async def test_slash_jumps_to_an_epoch_or_shows_one_tag_and_esc_shows_all(tmp_path):
    stream_in(tmp_path, run_records(30))
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(EpochTable)
        await wait_for(pilot, lambda: table.row_count == 30)
        await pilot.press("slash")
        bar = app.query_one("#jump", Input)
        assert bar.display and app.focused is bar
        await pilot.press("1", "2", "enter")
        assert not bar.display and table.cursor_row == 11 and app.focused is table
        await pilot.press("slash", *"restart", "enter")
        assert table_column(app, "epoch") == ["11", "21"]  # the two warm restarts
        assert set(table_column(app, "tag")) == {"LR RESTART"}
        await pilot.press("escape")
        assert table.row_count == 30
        await pilot.press("slash", *"peak", "enter")
        assert table.row_count == 1
        await pilot.press("slash", "5", "enter")  # an epoch the filter hides: shown again
        assert table.row_count == 30 and table.cursor_row == 4
        await pilot.press("slash", *"nosuchtag", "enter")
        assert table.row_count == 30


@run_async
async def test_home_g_end_capital_g_in_the_tables(tmp_path):
    # Defect: Home/g/G did nothing in tables (DataTable's Home scrolls sideways).
    stream_in(tmp_path, run_records(30))
    fake_checkpoints(tmp_path)
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(EpochTable)
        await wait_for(pilot, lambda: table.row_count == 30)
        table.focus()
        await pilot.press("home")
        assert table.cursor_row == 0
        await pilot.press("end")
        assert table.cursor_row == 29
        await pilot.press("g")
        assert table.cursor_row == 0
        await pilot.press("G")
        assert table.cursor_row == 29
        ckpts = app.query_one("#ckpt-table", DataTable)  # the checkpoints table too
        await wait_for(pilot, lambda: ckpts.row_count == 4)
        await pilot.press("3", "end")
        assert ckpts.cursor_row == 3
        await pilot.press("home")
        assert ckpts.cursor_row == 0


@run_async
async def test_the_checkpoints_table_takes_the_arrows_when_its_tab_opens(tmp_path):
    # Defect: arrow keys did nothing in the checkpoints table until Tab.
    stream_in(tmp_path, run_records(5))
    fake_checkpoints(tmp_path)
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        ckpts = app.query_one("#ckpt-table", DataTable)
        await wait_for(pilot, lambda: ckpts.row_count == 4)
        await pilot.press("3")
        assert app.focused is ckpts
        await pilot.press("down", "down")
        assert ckpts.cursor_row == 2


@run_async
async def test_c_copies_the_newest_command_and_the_panel_keeps_it_whole(tmp_path):
    stream_in(tmp_path, run_records(3))
    app = make_app(tmp_path)
    long = ("runwatch train --config /tmp/runwatch-demo-abc123/rewind-0005.toml --run-dir "
            "/tmp/runwatch-demo-abc123 --resume-from "
            "/tmp/runwatch-demo-abc123/checkpoints/rewind-from-0005.pt")
    async with app.run_test(size=(80, 24)) as pilot:
        assert not app.check_action("copy", ())  # nothing to copy yet: not offered
        app.keep_command(Command("resume after the rewind to epoch 5", long))
        await pilot.press("3")
        await pilot.press("c")
        assert app.clipboard == long
        shown = text_of(app.query_one(CommandsPanel))
        # Broken between arguments with a backslash: the lines paste into a shell as one.
        lines = [line.strip() for line in shown.splitlines()[1:]]
        assert " ".join(line.rstrip("\\").strip() for line in lines) == long
        assert all(len(line) <= 78 for line in shown.splitlines())


def test_shell_lines_never_break_an_argument():
    lines = shell_lines("runwatch train --config 'a b.toml' --resume-from " + "x" * 90, 40)
    assert lines[0] == "runwatch train --config 'a b.toml' \\"
    assert lines[-1] == "    " + "x" * 90  # longer than the width: a line of its own


@run_async
async def test_steps_tab_zooms_by_epoch_range(tmp_path):
    stream_in(tmp_path, run_records(12, steps=50))
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.query_one(EpochTable).row_count == 12)
        await pilot.press("4")
        chart = app.query_one(StepChart)
        assert app.focused is chart
        await wait_for(pilot, lambda: chart.view.steps == 600)
        assert (chart.view.first, chart.view.last) == (1, 12)
        assert {round(lr, 6) for lr in chart.view.lr[1]} == {0.1}  # as the steps logged it
        xs, losses = chart.view.loss
        assert xs[0] > 0 and xs[-1] == 12.0 and losses[0] > losses[-1]  # x in epochs
        await pilot.press("plus")
        await wait_for(pilot, lambda: chart.view.steps == 300)
        assert (chart.view.first, chart.view.last) == (7, 12)
        await pilot.press("left_square_bracket")
        await wait_for(pilot, lambda: (chart.view.first, chart.view.last) == (4, 9))
        await pilot.press("0")
        await wait_for(pilot, lambda: chart.view.steps == 600)


@run_async
async def test_ctrl_q_asks_like_q_when_the_app_started_the_training(tmp_path):
    # Defect: Ctrl+Q in `runwatch demo` stopped the training without asking.
    stream_in(tmp_path, run_records(2))
    training = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        app = make_app(tmp_path, training=training)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("ctrl+q")
            assert isinstance(app.screen, QuitScreen) and app.is_running
            await pilot.press("escape")
            await pilot.press("ctrl+q", "l")
        assert app.return_value == "leave" and training.poll() is None
    finally:
        training.kill()
        training.wait()
