"""The schedule edit dialog: T_0, LR, schedule and continuity mode, with the LR the next epochs
would really train with and the forecast of every continuity mode, before anything is written.

Dismisses with the chosen `EditChoice` (the app then confirms, runs the checkpoint tools and
shows the resume command), or None. Forecasts run in a thread worker, never on the UI thread.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Sparkline, Static
from textual.worker import get_current_worker

from runwatch.errors import RunwatchError
from runwatch.schedule import CONTINUITY_MODES, SCHEDULE_NAMES, find_jumps
from runwatch.tui.forecasting import run_forecast
from runwatch.tui.status import format_lr
from runwatch.tui.surgery import EditChoice, preview_lrs

PREVIEW_EPOCHS = 8


@dataclass(frozen=True)
class EditContext:
    """What the dialog needs to preview an edit of one checkpoint."""

    checkpoint: str
    schedule: dict
    epochs_done: int
    last_lr: float
    history: list[dict]  # the live branch's epoch records (the laws are fitted on all of it)
    plan: list[float] | None  # the run's current plan: the forecast's baseline
    target: float


def preview_text(lrs: list[float], epochs_done: int, last_lr: float) -> str:
    head = " ".join(format_lr(lr) for lr in lrs[:PREVIEW_EPOCHS])
    jumps = find_jumps(lrs[:1], epochs_done + 1, 2.0, last_lr)
    jump = (f"JUMP x{jumps[0].ratio:.0f} at the resume point" if jumps
            else f"no jump at the resume point (x{lrs[0] / last_lr:.2f})" if last_lr > 0 else "")
    return (f"epoch {epochs_done} ran at {format_lr(last_lr)}; from epoch {epochs_done + 1}: "
            f"{head} ... (min {format_lr(min(lrs))})\n{jump}")


class EditScreen(ModalScreen[EditChoice | None]):
    BINDINGS = [("escape", "dismiss(None)", "Cancel"), ("ctrl+s", "write", "Write edit")]

    def __init__(self, context: EditContext) -> None:
        super().__init__()
        self.context = context
        self.choice = EditChoice()

    def compose(self) -> ComposeResult:
        spec = self.context.schedule
        with Vertical(id="edit-body"):
            yield Static(f"[b]Edit the schedule of[/b] {self.context.checkpoint} "
                         f"(after epoch {self.context.epochs_done})")
            with Horizontal(classes="edit-row"):
                yield Label("T_0")
                yield Input(str(spec.get("t0", "")), id="t0", type="integer")
                yield Label("LR")
                yield Input(str(spec.get("base_lr", "")), id="lr", type="number")
            with Horizontal(classes="edit-row"):
                yield Select([(n, n) for n in SCHEDULE_NAMES], value=spec.get("name", "cosine"),
                             id="schedule", allow_blank=False)
                yield Select([(m, m) for m in CONTINUITY_MODES], value=EditChoice().continuity,
                             id="continuity", allow_blank=False)
            yield Static("", id="edit-preview", markup=False)
            yield Sparkline([], id="edit-spark", summary_function=min)
            yield Static("forecast of each continuity mode: computing...", id="edit-forecast",
                         markup=False)
            with Horizontal(id="confirm-buttons"):
                yield Button("Write edit (ctrl+s)", id="write", variant="warning")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        self.update_preview()

    @on(Input.Changed)
    @on(Select.Changed)
    def update_preview(self) -> None:
        try:
            self.choice = self._read_choice()
            lrs = preview_lrs(self.context.schedule, self.context.epochs_done,
                              self.context.last_lr, self.choice)
        except (RunwatchError, ValueError) as exc:
            self.query_one("#edit-preview", Static).update(f"cannot preview: {exc}")
            self.query_one("#write", Button).disabled = True
            return
        self.query_one("#write", Button).disabled = False
        self.query_one("#edit-preview", Static).update(
            preview_text(lrs, self.context.epochs_done, self.context.last_lr))
        self.query_one("#edit-spark", Sparkline).data = lrs
        self.forecast_choices(self.choice)

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
        if get_current_worker().is_cancelled:
            return
        text = scenario_text(outcome.data, outcome.note, choice.continuity)
        self.app.call_from_thread(self._show_forecast, text)

    def _show_forecast(self, text: str) -> None:
        # On the UI thread, and the dialog may be gone (written or cancelled) by now.
        for static in self.query("#edit-forecast").results(Static):
            static.update(text)

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
