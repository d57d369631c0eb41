"""Pilot tests of the monitor's surgery: rewind, edit and the live-trainer lock, each through
the one confirm flow (the tools faked where the flow is the point, real where they are)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from types import SimpleNamespace

from lock_holder import holder_of
from tui_pilot import fake_checkpoints, make_app, stream_in, text_of, tiny_run, wait_for
from tui_records import run_async, run_records

from runwatch.tui import surgery
from runwatch.tui.forecasting import ForecastOutcome
from runwatch.tui.screens.confirm_screen import ConfirmScreen
from runwatch.tui.screens.edit_screen import EditScreen
from runwatch.tui.surgery import EditChoice
from runwatch.tui.widgets.checkpoint_panel import CheckpointPanel
from runwatch.tui.widgets.commands_panel import CommandsPanel
from runwatch.tui.widgets.epoch_table import EpochTable


def fake_plan(run_dir: Path, to_epoch: int, edit=None):
    """What describe_plan reads of a ckpt_tools RewindPlan."""
    return SimpleNamespace(
        run_dir=run_dir, to_epoch=to_epoch, source=run_dir / "checkpoints" / "best.pt",
        target=run_dir / "checkpoints" / f"rewind-from-{to_epoch:04d}.pt",
        config_file=run_dir / f"rewind-{to_epoch:04d}.toml", abandoned_epochs=[],
        test_acc1=99.0, edit=edit)


def fake_result(plan, command: str = "runwatch train --resume-from X"):
    return SimpleNamespace(checkpoint=plan.target, resume_command=command)


def question(app) -> str:
    """The question of the confirmation on screen, if one is."""
    if not isinstance(app.screen, ConfirmScreen):
        return ""
    return text_of(app.screen.query_one("#confirm-question"))


def newest_command(app) -> str:
    commands = app.query_one(CommandsPanel).commands
    return commands[0].text if commands else ""


def with_checkpoints(tmp_path: Path, best: int | None = None) -> Path:
    records = run_records(5) + [{"type": "checkpoint", "epoch": 5, "path": "last.pt",
                                 "is_best": False}]
    if best is not None:
        records[best]["test_acc1"] = 99.0
    stream_in(tmp_path, records)
    fake_checkpoints(tmp_path)
    return tmp_path


@run_async
async def test_checkpoints_panel_marks_best_and_rewind_asks_first(tmp_path, monkeypatch):
    with_checkpoints(tmp_path, best=5)
    applied = []
    plan = fake_plan(tmp_path, 5)
    monkeypatch.setattr(surgery, "plan_rewind", lambda run_dir, to, choice=None: plan)
    monkeypatch.setattr(surgery, "apply_rewind", lambda p: applied.append(p) or fake_result(p))
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        panel = app.query_one(CheckpointPanel)
        await wait_for(pilot, lambda: len(panel.rows) == 4)
        best = {row.path.name for row in panel.rows if row.is_best}
        assert best == {"best.pt", "epoch-0005.pt"}
        await pilot.press("b")
        await wait_for(pilot, lambda: question(app) == "Rewind to epoch 5 (the best checkpoint)?")
        details = text_of(app.screen.query_one("#confirm-details"))
        assert "then resume with:\n  runwatch train --config" in details
        await pilot.press("n")
        await wait_for(pilot, lambda: "nothing written" in text_of(app.query_one("#ckpt-status")))
        assert applied == []
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: "rewound to epoch 5" in text_of(
            app.query_one("#ckpt-status")))
        assert applied == [plan]
        assert newest_command(app) == "runwatch train --resume-from X"


@run_async
async def test_tools_unavailable_is_reported_not_fatal(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "runwatch.ckpt_tools", None)
    with_checkpoints(tmp_path)  # files to rewind to, and no tools to do it
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
    planned = []
    monkeypatch.setattr(surgery, "plan_rewind", lambda run_dir, to, choice=None: planned.append(
        (to, choice)) or fake_plan(run_dir, to))
    monkeypatch.setattr(surgery, "apply_rewind", fake_result)
    app = make_app(tmp_path)
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
        assert screen.context.epochs_done == 5 and screen.context.rewinds == 5
        preview = text_of(screen.query_one("#edit-preview"))
        assert "from epoch 6:" in preview and "resume point" in preview
        await wait_for(pilot, lambda: "match-lr" in text_of(screen.query_one("#edit-forecast")))
        forecast = text_of(screen.query_one("#edit-forecast"))
        assert all(mode in forecast for mode in ("keep-phase", "anneal-from-current", "restart"))
        # The fields start at the checkpoint's values: untouched, they are no change.
        assert screen.choice == EditChoice()
        screen.query_one("#t0").value = "30"
        await wait_for(pilot, lambda: screen.choice.t0 == 30)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: question(app) == "Rewind to epoch 5 and edit its schedule?")
        assert planned == [(5, EditChoice(t0=30, continuity="match-lr"))]
        await pilot.press("y")
        await wait_for(pilot, lambda: newest_command(app) == "runwatch train --resume-from X")


@run_async
async def test_typing_t0_switches_the_default_mode_to_one_that_honours_it(tmp_path):
    # Defect: anneal-from-current (the default) ignores T_0, so typing 100 and writing did
    # nothing of what was typed; the only hint was a raw dict at the confirm step.
    stream_in(tmp_path, run_records(10))
    fake_checkpoints(tmp_path)
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: len(app.query_one(CheckpointPanel).rows) == 4)
        await pilot.press("3", "e")
        await wait_for(pilot, lambda: isinstance(app.screen, EditScreen))
        screen = app.screen
        assert screen.choice.continuity == "anneal-from-current"
        screen.query_one("#t0").value = "100"
        await wait_for(pilot, lambda: screen.choice.t0 == 100)
        assert screen.choice.continuity == "match-lr"
        assert str(screen.query_one("#continuity").value) == "match-lr"
        assert "ignores T_0, LR and schedule: switched to match-lr" in text_of(
            screen.query_one("#mode-note"))
        # Picked by hand, anneal-from-current stays, with the note beside it.
        mode = screen.query_one("#continuity")
        mode.focus()
        await pilot.press("enter", "down", "enter")  # from match-lr to anneal-from-current
        await wait_for(pilot, lambda: screen.choice.continuity == "anneal-from-current")
        assert "pick another mode to use them" in text_of(screen.query_one("#mode-note"))


@run_async
async def test_rewind_and_edit_with_the_real_checkpoint_tools(tmp_path):
    run = tiny_run(tmp_path / "run")
    app = make_app(run, now=time.time())
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
        details = text_of(app.screen.query_one("#confirm-details"))
        assert "schedule: t0 3 -> 10; continuity match-lr" in details
        assert "abandons epochs 4, 5" in details
        await pilot.press("y")
        status = app.query_one("#ckpt-status")
        await wait_for(pilot, lambda: "rewound to epoch 3" in text_of(status))
        assert (run / "checkpoints" / "rewind-from-0003.pt").is_file()
        # The command is exact: the config the rewind wrote, not a placeholder.
        command = newest_command(app)
        assert f"--config {run / 'rewind-0003.toml'}" in command and "CONFIG" not in command
        # The rewind event hides the abandoned epochs, and the new file is epoch 3's.
        await wait_for(pilot, lambda: app.query_one(EpochTable).row_count == 3)
        await wait_for(pilot, lambda: any(r.path.name == "rewind-from-0003.pt" and r.epoch == 3
                                          for r in panel.rows))


@run_async
async def test_rewind_without_checkpoints_is_not_offered(tmp_path, monkeypatch):
    # The seed-run replay and foreign logs have no checkpoint files: nothing to rewind to.
    stream_in(tmp_path, run_records(5))
    asked = []
    monkeypatch.setattr(surgery, "plan_rewind", lambda *args: asked.append(args))
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.query_one(EpochTable).row_count == 5)
        await pilot.pause(0.3)
        # Not in the footer, and not answered.
        assert not app.check_action("rewind_best", ()) and not app.check_action("edit", ())
        footer = {key.description for key in app.query("FooterKey")}
        assert "Rewind" not in footer and "Edit" not in footer and "Quit" in footer
        await pilot.press("b", "e")
        await pilot.pause(0.3)
        assert asked == [] and not isinstance(app.screen, (ConfirmScreen, EditScreen))


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
    monkeypatch.setattr(surgery, "plan_rewind", lambda run_dir, to, choice=None: fake_plan(
        run_dir, to))
    monkeypatch.setattr(surgery, "apply_rewind", fake_result)
    monkeypatch.setattr(edit_screen, "run_forecast", slow_forecast)
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: len(app.query_one(CheckpointPanel).rows) == 4)
        await pilot.press("3", "e")
        await wait_for(pilot, lambda: isinstance(app.screen, EditScreen))
        dialog = app.screen
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: newest_command(app) != "")
        await pilot.pause(1.0)  # the forecast worker ends after the dialog has gone
        assert app.is_running and dialog not in app.screen_stack


@run_async
async def test_rewind_and_edit_refuse_a_run_whose_trainer_runs_though_not_started_here(
        tmp_path, monkeypatch):
    # The trainer was started from a shell: the app has no process of its own to know it by.
    with_checkpoints(tmp_path)
    asked = []
    monkeypatch.setattr(surgery, "plan_rewind", lambda *args: asked.append(args))
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
    with_checkpoints(tmp_path)
    applied = []
    plan = fake_plan(tmp_path, 5)
    monkeypatch.setattr(surgery, "plan_rewind", lambda run_dir, to, choice=None: plan)
    monkeypatch.setattr(surgery, "apply_rewind", lambda p: applied.append(p) or fake_result(p))
    app = make_app(tmp_path)
    with holder_of(tmp_path) as trainer:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: len(app.query_one(CheckpointPanel).rows) == 4)
            await pilot.press("b")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("y")  # stop it
            # It got SIGTERM, released the run and exited; then the rewind itself is asked.
            await wait_for(pilot, lambda: question(app) == "Rewind to epoch 5 (the best "
                                                           "checkpoint)?")
            assert trainer.poll() == 0
            await pilot.press("y")
            await wait_for(pilot, lambda: newest_command(app) != "")
        assert applied == [plan]


@run_async
async def test_a_trainer_on_another_host_is_refused_without_an_offer_to_stop_it(tmp_path):
    with_checkpoints(tmp_path)
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
