"""The one confirm flow every surgery goes through (rewind to best, edit a checkpoint, the
"what to do" fix), as an async worker of the app that asks with `push_screen_wait`:

1. a trainer still holding the run: refuse (another host, not a trainer), or offer to stop it
   (SIGTERM, then wait until it has checkpointed and let go);
2. an edit: the dialog (pre-filled, or at the checkpoint's values) says what to change;
3. plan the rewind (nothing written), confirm with its facts: what is abandoned, the LR
   preview, the warnings, the files written and the exact resume command;
4. write, and keep the resume command in the commands panel.

A replay has no files: its dialog previews only, and the flow keeps the command that does the
same on the real run instead. Blocking calls (the lock, the tools) run in threads.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from runwatch.errors import RunwatchError
from runwatch.runlock import live_holder, stop_holder, wait_released
from runwatch.tui import surgery
from runwatch.tui.advice import Option
from runwatch.tui.checkpoints import CheckpointRow
from runwatch.tui.launch import STOP_WAIT_S
from runwatch.tui.screens.confirm_screen import ConfirmScreen
from runwatch.tui.screens.edit_screen import EditContext, EditScreen
from runwatch.tui.surgery import EditChoice
from runwatch.tui.widgets.commands_panel import Command

if TYPE_CHECKING:
    from runwatch.tui.app import RunwatchApp


@dataclass(frozen=True)
class SurgeryRequest:
    action: str  # "rewind", "edit" or "fix": the word the messages use
    to: int | str  # an epoch, or "best"
    context: EditContext | None = None  # ask for an edit with this dialog first


def edit_context(app: RunwatchApp, epoch: int, label: str,
                 prefill: EditChoice | None) -> EditContext | None:
    """The dialog's view of the run from `epoch` (None: the stream does not say its schedule
    or the epoch is not on the live branch)."""
    model = app.model
    point, latest = model.live.get(epoch), model.latest()
    if model.schedule is None or point is None or latest is None:
        return None
    last_lr = point.lr if math.isfinite(point.lr) else model.planned_lr(epoch) or 0.0
    # The whole live branch: epochs after the checkpoint are evidence too (as
    # `runwatch forecast --checkpoint` fits them); the scenarios start at the checkpoint.
    return EditContext(label, model.schedule, epoch, last_lr,
                       [p.record for p in model.epochs()],
                       list(model.plan) if model.plan else None, app.target,
                       prefill=prefill, writable=not app.replay, rewinds=latest.epoch - epoch)


def edit_request(app: RunwatchApp, row: CheckpointRow) -> SurgeryRequest | None:
    """`e`: edit the selected checkpoint's schedule (a rewind to its epoch)."""
    context = edit_context(app, row.epoch, row.path.name, None) if row.epoch else None
    return SurgeryRequest("edit", row.epoch, context) if context is not None else None


def fix_request(app: RunwatchApp, option: Option) -> SurgeryRequest | None:
    """`f`: the recommended option, in the dialog pre-filled (None: keep the plan)."""
    if option.choice is None:
        return None
    files = [r.path.name for r in app.checkpoint_rows() if r.epoch == option.checkpoint]
    context = edit_context(app, option.checkpoint, files[0] if files else "", option.choice)
    return SurgeryRequest("fix", option.checkpoint, context) if context is not None else None


async def run_surgery(app: RunwatchApp, request: SurgeryRequest) -> None:
    action, context = request.action, request.context
    run_dir = app.run_dir
    if (context is None or context.writable) and not await may_write(app, run_dir, action):
        return
    choice = None
    if context is not None:
        choice = await app.push_screen_wait(EditScreen(context))
        if choice is None:
            app.report(f"{action} cancelled: nothing written")
            return
        if not context.writable:
            command = surgery.rewind_command("RUN_DIR", request.to, choice)
            app.keep_command(Command(f"the same on the real run (epoch {request.to})",
                                     command))
            app.report(f"{action}: a replay has no checkpoint files; the command that does "
                       "this on the real run is in the commands panel")
            return
    try:
        plan = await asyncio.to_thread(surgery.plan_rewind, run_dir, request.to, choice)
    except (surgery.ToolsUnavailable, RunwatchError) as exc:
        app.report(f"{action}: {exc}")
        return
    question = (f"Rewind to epoch {plan.to_epoch} and edit its schedule?" if choice
                else f"Rewind to epoch {plan.to_epoch} (the best checkpoint)?"
                if request.to == "best" else f"Rewind to epoch {plan.to_epoch}?")
    if not await app.push_screen_wait(ConfirmScreen(question, surgery.describe_plan(plan),
                                                    yes="Rewind")):
        app.report(f"{action} cancelled: nothing written")
        return
    try:
        result = await asyncio.to_thread(surgery.apply_rewind, plan)
    except (surgery.ToolsUnavailable, RunwatchError) as exc:
        app.report(f"{action} failed: {exc}")
        return
    app.keep_command(Command(f"resume after the rewind to epoch {plan.to_epoch}",
                             result.resume_command))
    app.report(f"rewound to epoch {plan.to_epoch} ({result.checkpoint.name}): the resume "
               "command is in the commands panel (c copies it)")
    app.list_checkpoint_files()


async def may_write(app: RunwatchApp, run_dir: Path, action: str) -> bool:
    """True when no trainer holds the run, whoever started it; else refuse, or offer to stop
    it first (SIGTERM, then wait until it has checkpointed and let go)."""
    holder = await asyncio.to_thread(live_holder, run_dir)
    if holder is None:
        return True
    refusal = f"{action}: {holder.describe()}"
    if holder.role != "trainer" or not holder.local:  # nothing this app can stop
        app.report(refusal)
        return False
    details = (f"It writes and prunes this run's checkpoints and its stream: a {action} now "
               f"would mix with them.\nStop: send it SIGTERM (it checkpoints and exits), wait "
               f"for that, then {action}.\nCancel: leave it running; nothing is written.")
    if not await app.push_screen_wait(ConfirmScreen(f"Stop {holder.who()}?", details,
                                                    yes="Stop", no="Cancel")):
        app.report(refusal)
        return False
    try:
        await asyncio.to_thread(stop_holder, holder)
    except RunwatchError as exc:
        app.report(f"{action}: {exc}")
        return False
    app.report(f"{action}: stopping {holder.who()}; waiting for its checkpoint")
    if await asyncio.to_thread(wait_released, run_dir, STOP_WAIT_S, app.closing):
        return True
    if not app.closing():
        app.report(f"{action}: {holder.who()} still runs after {STOP_WAIT_S} s: nothing "
                   "written")
    return False
