"""The schedule edit dialog: T_0, LR, schedule and continuity mode, with the LR the next epochs
would really train with and the forecast of every continuity mode, before anything is written.

Opens at the checkpoint's own values, or pre-filled with a choice (the "what to do" panel's
recommendation). Typing a T_0, LR or schedule while the mode is the default
anneal-from-current (which ignores them: one cosine from the current LR) switches the mode to
match-lr, which honours them without a jump, and says so beside the mode; a mode picked by hand
stays, with the same note when it ignores the fields. Dismisses with the `EditChoice` (the app
then plans, confirms and writes), or None. For a replay (no files) the dialog previews only
and dismisses with the choice so the app can keep the command that does it on the real run.
Forecasts run in a thread worker that posts its text back, never on the UI thread.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Sparkline, Static
from textual.worker import get_current_worker

from runwatch.errors import RunwatchError
from runwatch.schedule import CONTINUITY_MODES, SCHEDULE_NAMES
from runwatch.terminal import printable
from runwatch.tui.forecasting import run_forecast
from runwatch.tui.surgery import EditChoice, preview_lrs, preview_text

HONOURING_MODE = "match-lr"  # honours T_0, LR and schedule, and never jumps


@dataclass(frozen=True)
class EditContext:
    """What the dialog needs to preview an edit from one checkpoint."""

    checkpoint: str  # the file it starts from, as shown ("" in a replay: no files)
    schedule: dict
    epochs_done: int
    last_lr: float
    history: list[dict]  # the live branch's epoch records (the laws are fitted on all of it)
    plan: list[float] | None  # the run's current plan: the forecast's baseline
    target: float
    prefill: EditChoice | None = None  # open with these values instead of the checkpoint's
    writable: bool = True  # False: a replay, nothing to write
    rewinds: int = 0  # epochs after the checkpoint that a rewind abandons


def mode_note(choice: EditChoice, switched: bool) -> str:
    """Said beside the mode when it does not do what the fields ask."""
    if switched:
        return (f"anneal-from-current ignores T_0, LR and schedule: switched to "
                f"{HONOURING_MODE}")
    if choice.continuity == "anneal-from-current" and choice.changes_shape():
        return "anneal-from-current ignores T_0, LR and schedule: pick another mode to use them"
    return ""


class EditScreen(ModalScreen[EditChoice | None]):
    BINDINGS = [("escape", "dismiss(None)", "Cancel"), ("ctrl+s", "write", "Continue")]

    class ModesForecast(Message):
        """The forecast of each continuity mode, as the text the dialog shows."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, context: EditContext) -> None:
        super().__init__()
        self.context = context
        self.choice = context.prefill or EditChoice()
        self.mode_by_hand = context.prefill is not None  # a pre-filled mode is a choice

    def compose(self) -> ComposeResult:
        ctx, spec = self.context, self.context.schedule
        prefill = ctx.prefill or EditChoice()
        title = Text(f"Edit the schedule from epoch {ctx.epochs_done}", style="bold")
        title.append(f" ({printable(ctx.checkpoint)})" if ctx.checkpoint else "")
        if ctx.rewinds:
            title.append(f"; rewinds {ctx.rewinds} epoch{'s' if ctx.rewinds > 1 else ''}")
        if not ctx.writable:
            title.append("; a replay: preview only, nothing to write")
        t0 = prefill.t0 if prefill.t0 is not None else spec.get("t0", "")
        lr = prefill.lr if prefill.lr is not None else spec.get("base_lr", "")
        name = prefill.schedule or spec.get("name", "cosine")
        with Vertical(id="edit-body"):
            with VerticalScroll(id="edit-fields"):
                yield Static(title, id="edit-title")
                with Horizontal(classes="edit-row"):
                    yield Label("T_0")
                    yield Input(str(t0), id="t0", type="integer")
                    yield Label("LR")
                    yield Input(str(lr), id="lr", type="number")
                with Horizontal(classes="edit-row"):
                    yield Select([(n, n) for n in SCHEDULE_NAMES], value=name, id="schedule",
                                 allow_blank=False)
                    yield Select([(m, m) for m in CONTINUITY_MODES], value=prefill.continuity,
                                 id="continuity", allow_blank=False)
                yield Static("", id="mode-note", markup=False)
                yield Static("", id="edit-preview", markup=False)
                yield Sparkline([], id="edit-spark", summary_function=min)
                yield Static("forecast of each continuity mode: computing...",
                             id="edit-forecast", markup=False)
            with Horizontal(id="confirm-buttons"):
                label = "Continue (ctrl+s)" if ctx.writable else "Keep the command (ctrl+s)"
                yield Button(label, id="write", variant="warning")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        self.update_preview()

    @on(Input.Changed)
    @on(Select.Changed)
    def update_preview(self, event: Message | None = None) -> None:
        if isinstance(event, Select.Changed) and event.select.id == "continuity" and \
                event.select.has_focus_within:  # the user's own pick, not the switch below
            self.mode_by_hand = True
        try:
            choice = self._read_choice()
        except ValueError as exc:
            self._cannot(str(exc))
            return
        switched = (not self.mode_by_hand and choice.continuity == "anneal-from-current"
                    and choice.changes_shape())
        if switched:
            choice = replace(choice, continuity=HONOURING_MODE)
            mode = self.query_one("#continuity", Select)
            with mode.prevent(Select.Changed):
                mode.value = HONOURING_MODE
        self.query_one("#mode-note", Static).update(mode_note(choice, switched))
        try:
            lrs = preview_lrs(self.context.schedule, self.context.epochs_done,
                              self.context.last_lr, choice)
        except (RunwatchError, ValueError) as exc:
            self._cannot(str(exc))
            return
        self.choice = choice
        self.query_one("#write", Button).disabled = False
        self.query_one("#edit-preview", Static).update(
            preview_text(lrs, self.context.epochs_done, self.context.last_lr))
        self.query_one("#edit-spark", Sparkline).data = lrs
        self.forecast_choices(choice)

    def _cannot(self, why: str) -> None:
        self.query_one("#edit-preview", Static).update(f"cannot preview: {why}")
        self.query_one("#write", Button).disabled = True

    def _read_choice(self) -> EditChoice:
        """The fields as an EditChoice; a field left at the checkpoint's value is None (keep
        it), so an untouched T_0 or LR is not sent as a change the tools warn about."""
        spec = self.context.schedule
        t0 = self.query_one("#t0", Input).value.strip()
        lr = self.query_one("#lr", Input).value.strip()
        name = str(self.query_one("#schedule", Select).value)
        t0_value = int(t0) if t0 else None
        lr_value = float(lr) if lr else None
        return EditChoice(
            t0=None if t0_value == spec.get("t0") else t0_value,
            lr=None if lr_value == spec.get("base_lr") else lr_value,
            schedule=None if name == spec.get("name") else name,
            continuity=str(self.query_one("#continuity", Select).value),
        )

    @work(thread=True, exclusive=True, group="edit-forecast")
    def forecast_choices(self, choice: EditChoice) -> None:
        ctx = self.context
        scenarios = []
        for mode in CONTINUITY_MODES:
            try:
                lrs = preview_lrs(ctx.schedule, ctx.epochs_done, ctx.last_lr,
                                  replace(choice, continuity=mode))
            except RunwatchError:
                continue
            scenarios.append((mode, ctx.epochs_done, tuple(lrs)))
        outcome = run_forecast(ctx.history, ctx.plan, ctx.target, scenarios=tuple(scenarios))
        if not get_current_worker().is_cancelled:
            # Posted, not called: the dialog may be gone (written or cancelled) by now.
            self.post_message(self.ModesForecast(
                scenario_text(outcome.data, outcome.note, choice.continuity)))

    def on_edit_screen_modes_forecast(self, message: ModesForecast) -> None:
        forecast = self.query_one("#edit-forecast", Static)
        forecast.update(message.text)
        # Lay it out again after this refresh: a height asked for while a layout is under
        # way can stay the old one inside the scroll (seen with Textual 8.2).
        self.call_after_refresh(forecast.refresh, layout=True)

    def action_write(self) -> None:
        if not self.query_one("#write", Button).disabled:
            self.dismiss(self.choice)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "write":
            self.action_write()
        else:
            self.dismiss(None)


def scenario_text(data: dict | None, note: str, chosen: str) -> str:
    if data is None:
        return note
    lines = ["forecast by continuity mode (final acc, 80% interval, best):"]
    for s in data.get("scenarios") or []:
        mark = ">" if s.get("name") == chosen else " "
        lines.append(f"{mark} {s.get('name'):<20} {_pct(s.get('final_acc1'))} "
                     f"[{_pct(s.get('lo80'))}-{_pct(s.get('hi80'))}]  best "
                     f"{_pct(s.get('best_acc1'))} @ep {s.get('best_epoch')}")
    return "\n".join(lines)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"
