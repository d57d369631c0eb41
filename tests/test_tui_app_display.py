"""What the monitor draws: untrusted text made safe, the header at 80 columns, the chart under
NO_COLOR, the sparklines' labels, the edit dialog on a small terminal."""

from __future__ import annotations

import math

from tui_pilot import fake_checkpoints, make_app, stream_in, text_of, wait_for
from tui_records import T0, model_of, run_async, run_records, write_stream

from runwatch.tui.screens.edit_screen import EditScreen
from runwatch.tui.widgets.accuracy_chart import AccuracyChart, ChartSeries
from runwatch.tui.widgets.checkpoint_panel import CheckpointPanel
from runwatch.tui.widgets.run_header import RunHeader
from runwatch.tui.widgets.trend_lines import trends_of

HOSTILE = "done\x1b]0;owned\x07 [b]bold[/b] \x1b]52;c;AAAA\x07"


@run_async
async def test_text_from_files_reaches_neither_the_terminal_nor_markup_raw(tmp_path):
    # Issue 9: a run_end message changed the tmux pane title; a folder named grid[ raised a
    # MarkupError in the edit dialog.
    run = tmp_path / "grid["
    run.mkdir()
    stream_in(run, run_records(5) + [{"type": "run_end", "status": "failed", "epoch": 5,
                                      "time": T0 + 300, "message": HOSTILE}])
    fake_checkpoints(run)
    (run / "checkpoints" / "epoch-0005[\x1b[2J.pt").write_bytes(b"x")
    app = make_app(run)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: "RUN ENDED" in text_of(app.query_one("#alert-lines")))
        alerts = text_of(app.query_one("#alert-lines"))
        assert "\x1b" not in alerts and "\x07" not in alerts
        assert "done\\x1b]0;owned\\x07 [b]bold[/b]" in alerts  # shown, escaped, not obeyed
        assert "\x1b" not in text_of(app.query_one(RunHeader))
        panel = app.query_one(CheckpointPanel)
        await wait_for(pilot, lambda: len(panel.rows) == 5)
        table = panel.query_one("#ckpt-table")
        names = [str(table.get_cell_at((r, 0))) for r in range(table.row_count)]
        assert "epoch-0005[\\x1b[2J.pt" in names
        await pilot.press("3")
        table.move_cursor(row=names.index("epoch-0005.pt"))
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, EditScreen))
        assert "(epoch-0005.pt)" in text_of(app.screen.query_one("#edit-title"))
        await pilot.press("escape")
        assert app.is_running


@run_async
async def test_the_header_keeps_both_lines_at_80_columns(tmp_path):
    # Defect: at 80 columns the header wrapped and its second line (elapsed, ETA) went.
    run = tmp_path / "resnet50-imagenet-cosine-restarts-t0-30-lr-0.05-batch-256-run-3"
    run.mkdir()
    stream_in(run, run_records(4))
    app = make_app(run)
    async with app.run_test(size=(80, 24)) as pilot:
        header = app.query_one(RunHeader)
        await wait_for(pilot, lambda: "epoch 4 of 40" in text_of(header))
        await pilot.pause(0.1)
        assert header.size.height == 2
        lines = header.render_lines(header.region.reset_offset)
        first, second = ("".join(seg.text for seg in line).rstrip() for line in lines[:2])
        assert first.endswith("…") and len(first) <= 80
        assert second.lstrip().startswith("elapsed ")


@run_async
async def test_no_color_draws_the_forecast_with_other_glyphs_than_the_run(tmp_path, monkeypatch):
    # Defect: under NO_COLOR history and forecast had the same braille marker and joined.
    monkeypatch.setenv("NO_COLOR", "1")
    stream_in(tmp_path, run_records(10))
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        chart = app.query_one("#chart-small", AccuracyChart)
        await wait_for(pilot, lambda: app.forecast.data is not None)
        chart.series = ChartSeries(  # the run to epoch 10, the forecast from 11 to 40
            live=(tuple(range(1, 11)), tuple(50.0 + e for e in range(10))),
            predictions=tuple((e, 60.0 + e / 10, 55.0, 65.0) for e in range(11, 41)))
        await pilot.pause(0.2)
        lines = ["".join(s.text for s in line)
                 for line in chart.render_lines(chart.region.reset_offset)]
    plot = [line[line.index("┤") + 1:] if "┤" in line else "" for line in lines]
    width = max(len(line) for line in plot)
    braille = {chr(c) for c in range(0x2801, 0x2900)}
    forecast_side = [line[width // 2:] for line in plot]  # epochs ~20-40: the forecast only
    assert any("•" in line for line in forecast_side)
    assert not any(ch in braille for line in forecast_side for ch in line)
    assert any(ch in braille for line in plot for ch in line[:width // 4])  # the run


def test_sparkline_labels_say_what_they_show():
    model = model_of(run_records(3))
    trends = trends_of(model)
    assert trends.lr.title == "LR" and trends.lr.last == f"{model.latest().lr:.3g}"  # no "min"
    assert trends.loss.title == "train loss"  # no step records: each epoch's train loss
    assert trends_of(model_of(run_records(3, steps=5))).loss.title == "step loss"
    assert math.isfinite(float(trends.acc.last))


@run_async
async def test_one_value_draws_no_bar(tmp_path):
    stream_in(tmp_path, run_records(1))
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.model.latest() is not None)
        await pilot.pause(0.2)
        assert app.query_one("#spark-acc").data == []
        assert text_of(app.query_one("#last-acc")) != "-"


@run_async
async def test_the_edit_dialogs_buttons_stay_on_a_60x20_screen(tmp_path):
    stream_in(tmp_path, run_records(10))
    fake_checkpoints(tmp_path)
    app = make_app(tmp_path)
    async with app.run_test(size=(60, 20)) as pilot:
        await wait_for(pilot, lambda: len(app.query_one(CheckpointPanel).rows) == 4)
        await pilot.press("3", "e")
        await wait_for(pilot, lambda: isinstance(app.screen, EditScreen))
        await pilot.pause(0.3)
        for button in ("#write", "#cancel"):
            region = app.screen.query_one(button).region
            assert region.bottom <= 20 and region.right <= 60 and region.height > 0
        write_stream(tmp_path / "unused.jsonl", [])  # nothing else to check
