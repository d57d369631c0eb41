"""The seed run's story with the real forecast: from epoch 23 the 80x24 screen shows the
restart ahead, its predicted cost and the recommended fix with its forecast; one key opens the
fix pre-filled; the replay ends; and CI's headless run tells the same story in plain text."""

from __future__ import annotations

from pathlib import Path

from tui_pilot import text_of, wait_for
from tui_records import T0, run_async

from runwatch.cli import main
from runwatch.stream.replay import ReplaySource, seed_run_records
from runwatch.tui import headless as hl
from runwatch.tui.app import RunwatchApp
from runwatch.tui.screens.edit_screen import EditScreen
from runwatch.tui.widgets.run_header import RunHeader


async def step_to(pilot, clock: hl.StepClock, epoch: int) -> None:
    app = pilot.app
    while True:
        await hl._until(pilot, lambda: hl.settled(app))
        if app.model.latest() is not None and app.model.latest().epoch >= epoch:
            return
        await hl.step_replay(pilot, clock, 1.0)


def visible(app, widget_id: str) -> bool:
    region = app.query_one(widget_id).region
    return region.height >= 3 and region.bottom <= app.size.height - 1  # above the footer


@run_async
async def test_the_seed_replay_at_80x24_from_epoch_23_to_its_end():
    clock = hl.StepClock()
    app = RunwatchApp(ReplaySource(seed_run_records(start_time=T0), 1.0, clock=clock,
                                   kind="seed run replay"), Path("seed-run"),
                      run_name="ResNet50/ImageNet seed run", replay=True, poll_s=0.02)
    async with app.run_test(size=(80, 24)) as pilot:
        for epoch in range(23, 31):
            await step_to(pilot, clock, epoch)
            alerts = text_of(app.query_one("#alert-lines"))
            when = "next epoch" if epoch == 30 else f"in {31 - epoch} epochs"
            first = alerts.split("\n[")[0]  # the first alert (its words wrap)
            assert first.startswith(f"[!!] LR RESTART AHEAD: {when} (epoch 31)")
            assert "predicted drop" in first
            advice = text_of(app.query_one("#advice-small"))
            assert advice.startswith("▶ ") and " instead of " in advice and "% [" in advice
            assert visible(app, "#alerts") and visible(app, "#advice-small")
        recommended = app.advice.recommended.option
        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(app.screen, EditScreen))
        dialog = app.screen
        assert dialog.context.epochs_done == recommended.checkpoint
        assert dialog.choice == recommended.choice and not dialog.context.writable
        await wait_for(pilot, lambda: "forecast by continuity mode" in text_of(
            dialog.query_one("#edit-forecast")))
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: bool(app.commands))
        assert app.commands[0].text.startswith(
            f"runwatch ckpt rewind RUN_DIR --to {recommended.checkpoint} ")
        # Defect 9: the replay ends: no "running" forever, no clock running on.
        await step_to(pilot, clock, 31)
        header = app.query_one(RunHeader)
        await wait_for(pilot, lambda: "replay ended at epoch 31" in text_of(header))
        elapsed = text_of(header).splitlines()[1]
        await pilot.pause(1.2)  # a refresh later: the log's time, not the wall clock's
        assert text_of(header).splitlines()[1] == elapsed and "elapsed 1d 03h" in elapsed


def test_headless_seed_run_prints_the_story(capsys):
    assert main(["demo", "--seed-run", "--headless"]) == 0
    out = capsys.readouterr().out
    assert "epochs shown: 1-31 (31 epochs)" in out
    restart = next(line for line in out.splitlines() if "(epoch 31)" in line)
    assert restart.startswith("  from epoch ") and "[!!] LR RESTART AHEAD" in restart
    assert int(restart.split()[2].rstrip(":")) <= 23  # warned well before the restart
    assert "[!] REGRESSION: epoch 31 after an LR restart" in out
    assert "what to do: " in out and " instead of " in out.split("what to do: ")[1]
