"""The live monitor: follows a run's stream and shows it, forecasts it, and repairs it.

Threads: a follower worker polls the Source (~4 Hz, from the last offset) and folds records into
the RunModel under a lock, then posts `StreamUpdated`; forecasts and checkpoint listings run in
their own thread workers. The UI thread only renders. On quit every worker is told to stop and
returns within one poll interval, so no thread outlives the app.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, TabbedContent, TabPane
from textual.worker import get_current_worker

from runwatch.errors import RunwatchError
from runwatch.runlock import Holder, live_holder, stop_holder, wait_released
from runwatch.stream import FollowState
from runwatch.tui import surgery
from runwatch.tui.alerts import Alert, compute_alerts
from runwatch.tui.checkpoints import list_checkpoints, run_dir_of
from runwatch.tui.forecasting import ForecastOutcome, run_forecast
from runwatch.tui.launch import STOP_WAIT_S
from runwatch.tui.messages import CheckpointsListed, ForecastReady, StreamUpdated
from runwatch.tui.run_model import RunModel
from runwatch.tui.screens.confirm_screen import ConfirmScreen
from runwatch.tui.screens.edit_screen import EditContext, EditScreen
from runwatch.tui.screens.help_screen import HelpScreen
from runwatch.tui.screens.quit_screen import QuitScreen
from runwatch.tui.status import header_facts, run_state
from runwatch.tui.widgets.accuracy_chart import AccuracyChart
from runwatch.tui.widgets.alert_list import AlertList
from runwatch.tui.widgets.checkpoint_panel import CheckpointPanel
from runwatch.tui.widgets.epoch_table import EpochTable
from runwatch.tui.widgets.forecast_panel import ForecastPanel
from runwatch.tui.widgets.run_header import RunHeader
from runwatch.tui.widgets.trend_lines import TrendLines

POLL_S = 0.25
DEFAULT_TARGET = 75.0
FORECAST_CHECK_S = 0.25


class RunwatchApp(App[str | None]):
    """Exits with None, or "stop"/"leave" when it was asked about a training it started."""

    CSS_PATH = "app.tcss"
    TITLE = "runwatch"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    BINDINGS = [
        Binding("q", "quit_app", "Quit"),
        Binding("question_mark", "help", "Keys"),
        Binding("1", "show_tab('run')", "Run"),
        Binding("2", "show_tab('chart')", "Chart"),
        Binding("3", "show_tab('checkpoints')", "Ckpts"),
        Binding("b", "rewind_best", "Rewind"),
        Binding("e", "edit", "Edit"),
        Binding("a", "focus_alerts", "Alerts", show=False),
        Binding("end,G", "follow", "Follow", show=False),
    ]
    KEY_HELP = [
        ("q", "quit (asks first when it started the training)"),
        ("?", "this list of keys"),
        ("1 2 3", "tabs: run, chart + forecast, checkpoints"),
        ("b", "rewind to the best checkpoint (asks first)"),
        ("e", "edit a checkpoint's schedule, with LR and forecast previews"),
        ("a", "focus the alert list (arrows/PgUp/PgDn scroll it)"),
        ("End G", "jump to and follow the newest epoch"),
        ("Tab", "move focus between panels"),
    ]

    def __init__(self, source, path: str | Path, *, target: float | None = None,
                 run_name: str | None = None, clock: Callable[[], float] = time.time,
                 poll_s: float = POLL_S, training=None, config_name: str | None = None) -> None:
        super().__init__()
        self.source = source
        self.path = Path(path)
        self.target_arg = target
        self.run_name = run_name or self.path.resolve().name
        self.clock = clock
        self.poll_s = poll_s
        self.training = training  # a subprocess.Popen the caller started, or None
        self.config_name = config_name  # for the resume command, when the caller knows it
        self.model = RunModel()
        self.follow_state = FollowState(missing=True)
        self.activity: float | None = None
        self.forecast = ForecastOutcome(None, "forecast: waiting for the first epoch")
        self.alerts: list[Alert] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._forecast_due = False
        self._state = ""  # the header's last run state: a change re-dates the forecast's ETA
        self._forecast_running = False
        self._loading = True  # until the follower has read to the end of the file once

    @property
    def target(self) -> float:
        """--target, else the run's own target, else DEFAULT_TARGET."""
        return self.target_arg or self.model.target_acc1 or DEFAULT_TARGET

    def compose(self) -> ComposeResult:
        yield RunHeader(id="header")
        with TabbedContent(initial="run"):
            with TabPane("Run [1]", id="run"), Horizontal(id="run-body"):
                with Vertical(id="left"):
                    yield EpochTable(id="epochs")
                    yield TrendLines(id="trends")
                with Vertical(id="right"):
                    yield AccuracyChart(id="chart-small", classes="chart")
                    yield ForecastPanel(id="forecast-small", classes="forecast")
                    yield AlertList(id="alerts")
            with TabPane("Chart [2]", id="chart"):
                yield AccuracyChart(id="chart-big", classes="chart")
                yield ForecastPanel(id="forecast-big", classes="forecast")
            with TabPane("Checkpoints [3]", id="checkpoints"):
                yield CheckpointPanel(id="ckpts")
        yield Footer()

    def on_mount(self) -> None:
        self.title = f"runwatch: {self.run_name}"
        self.query_one(AlertList).border_title = "Alerts"
        self._show_forecast()
        self.refresh_status()
        self.follow_stream()
        self.set_interval(1.0, self.refresh_status)
        self.set_interval(FORECAST_CHECK_S, self._maybe_forecast)

    def on_unmount(self) -> None:
        self._stop.set()

    # Workers ---------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="follow")
    def follow_stream(self) -> None:
        worker = get_current_worker()
        posted_loading = None
        while not worker.is_cancelled and not self._stop.is_set():
            records, reset = self.source.poll()
            with self._lock:
                if reset:
                    self.model.reset()
                change = self.model.apply(records)
                change.rebuild = change.rebuild or reset
            follow = replace(self.source.state)
            # More is already waiting (a long history, a replay's burst): read on at once.
            loading = bool(records) and not self.source.caught_up()
            if records or reset or follow != self.follow_state or loading != posted_loading:
                activity = getattr(self.source, "modified", None) if records else None
                if records and activity is None:
                    activity = self.clock()
                self.post_message(StreamUpdated(change, follow, activity, loading))
                posted_loading = loading
            if not loading:
                self._stop.wait(self.poll_s)

    @work(thread=True, exclusive=True, group="forecast")
    def forecast_run(self) -> None:
        with self._lock:
            history = [p.record for p in self.model.epochs()]
            plan = list(self.model.plan) if self.model.plan else None
            patience = self.model.patience()
            # A run that is not training dates its ETA from now, not from its last epoch.
            state = run_state(self.model, self.follow_state, self.clock(), self.activity)[0]
        now = None if state == "running" else self.clock()
        outcome = run_forecast(history, plan, self.target, patience=patience, now=now)
        if not get_current_worker().is_cancelled:
            self.post_message(ForecastReady(outcome))

    @work(thread=True, exclusive=True, group="checkpoints")
    def list_checkpoint_files(self) -> None:
        with self._lock:
            rows = list_checkpoints(run_dir_of(self.path), self.model)
        if not get_current_worker().is_cancelled:
            self.post_message(CheckpointsListed(rows))

    # Messages up (handlers update whatever is mounted: a late worker result may arrive
    # while the app is shutting down) --------------------------------------------------

    def on_stream_updated(self, message: StreamUpdated) -> None:
        change = message.change
        self.follow_state = message.follow
        self._loading = message.loading
        if message.activity is not None:
            self.activity = message.activity
        with self._lock:
            if change.new_epochs or change.rebuild:
                for table in self.query(EpochTable):
                    table.sync(self.model, change.new_epochs, change.rebuild)
            if change.new_epochs or change.rebuild or change.steps or change.plan:
                for trends in self.query(TrendLines):
                    trends.show(self.model)
                self._show_charts()
            if change.new_epochs or change.rebuild or change.plan:
                self._forecast_due = True
        if not self._loading and (change.checkpoints or change.rebuild or change.new_epochs):
            self.list_checkpoint_files()
        self.refresh_status()

    def on_forecast_ready(self, message: ForecastReady) -> None:
        self._forecast_running = False
        self.forecast = message.outcome
        self._show_forecast()
        events = (self.forecast.data or {}).get("events") or []
        regressions = frozenset(e["epoch"] for e in events if e.get("kind") == "regression")
        with self._lock:
            self._show_charts()
            for table in self.query(EpochTable):
                table.show_regressions(self.model, regressions)
        self.refresh_status()

    def on_checkpoints_listed(self, message: CheckpointsListed) -> None:
        for panel in self.query(CheckpointPanel):
            panel.show(message.rows)

    # Attributes down -------------------------------------------------------------------

    def refresh_status(self) -> None:
        with self._lock:
            facts = header_facts(self.model, self.follow_state, self.run_name, self.clock(),
                                 self.activity, self.forecast.data)
            self.alerts = compute_alerts(self.model, self.follow_state, facts.state,
                                         facts.status, self.forecast.data, self._source_note())
            if facts.state != self._state and self.model.epochs():
                self._forecast_due = True
            self._state = facts.state
        for header in self.query(RunHeader):
            header.show(facts, self.target, self.source.kind)
        for alert_list in self.query(AlertList):
            alert_list.show(self.alerts)

    def _source_note(self) -> str:
        """How a foreign log was read (which fields), for the alert list; empty for ours."""
        kind, note = self.source.kind, self.source.note
        if kind in ("runwatch stream", "waiting") or not note:
            return ""
        return f"{kind}: {note}"

    def _show_charts(self) -> None:
        for chart in self.query(AccuracyChart):
            chart.show(self.model, self.forecast.data, self.target)

    def _show_forecast(self) -> None:
        for panel in self.query(ForecastPanel):
            panel.show(self.forecast)

    def _maybe_forecast(self) -> None:
        # Forecast once the history is in, not after each chunk of it.
        if self._forecast_due and not self._forecast_running and not self._loading:
            self._forecast_due = False
            self._forecast_running = True
            self.forecast_run()

    # Keys ------------------------------------------------------------------------------

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.KEY_HELP))

    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def action_focus_alerts(self) -> None:
        self.action_show_tab("run")
        self.query_one(AlertList).focus()

    def action_follow(self) -> None:
        table = self.query_one(EpochTable)
        if table.row_count:
            table.move_cursor(row=table.row_count - 1)

    def action_quit_app(self) -> None:
        if self.training is not None and self.training.poll() is None:
            run_dir = str(run_dir_of(self.path))

            def decided(choice: str | None) -> None:
                if choice in ("stop", "leave"):
                    self.exit(choice)

            self.push_screen(QuitScreen(self.training.pid, run_dir), decided)
            return
        self.exit(None)

    def action_rewind_best(self) -> None:
        self.action_show_tab("checkpoints")
        if not self.query_one(CheckpointPanel).rows:  # a replay or a foreign log: no files
            self._report("rewind: this run has no checkpoints yet")
            return
        self.unless_held("rewind", self.plan_rewind_best)

    @work(thread=True, exclusive=True, group="surgery")
    def unless_held(self, action: str, then: Callable[[], object]) -> None:
        """Go on with `then` (on the UI thread) when no trainer holds the run, whoever started
        it; else refuse, or offer to stop it first."""
        holder = live_holder(run_dir_of(self.path))
        if holder is None:
            self.call_from_thread(then)
        else:
            self.call_from_thread(self._offer_stop, holder, action, then)

    def _offer_stop(self, holder: Holder, action: str, then: Callable[[], object]) -> None:
        refusal = f"{action}: {holder.describe()}"
        if holder.role != "trainer" or not holder.local:  # nothing this app can stop
            self._report(refusal)
            return

        def decided(yes: bool | None) -> None:
            if yes:
                self.stop_then(holder, action, then)
            else:
                self._report(refusal)

        details = (f"It writes and prunes this run's checkpoints and its stream: a {action} "
                   f"now would mix with them.\nStop: send it SIGTERM (it checkpoints and exits), "
                   f"wait for that, then {action}.\nCancel: leave it running; nothing is written.")
        self.push_screen(ConfirmScreen(f"Stop {holder.who()}?", details, yes="Stop",
                                       no="Cancel"), decided)

    @work(thread=True, exclusive=True, group="surgery")
    def stop_then(self, holder: Holder, action: str, then: Callable[[], object]) -> None:
        worker = get_current_worker()
        try:
            stop_holder(holder)
        except RunwatchError as exc:
            self.call_from_thread(self._report, f"{action}: {exc}")
            return
        self.call_from_thread(self._report, f"{action}: stopping {holder.who()}; waiting for "
                                            "its checkpoint")
        if wait_released(run_dir_of(self.path), STOP_WAIT_S,
                         lambda: worker.is_cancelled or self._stop.is_set()):
            self.call_from_thread(then)
        elif not worker.is_cancelled and not self._stop.is_set():
            self.call_from_thread(self._report, f"{action}: {holder.who()} still runs after "
                                                f"{STOP_WAIT_S} s: nothing written")

    @work(thread=True, exclusive=True, group="surgery")
    def plan_rewind_best(self) -> None:
        try:
            plan = surgery.plan_rewind(run_dir_of(self.path), to="best")
        except (surgery.ToolsUnavailable, RunwatchError) as exc:
            self.call_from_thread(self._report, f"rewind: {exc}")
            return
        details = surgery.describe_plan(plan)

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.apply_rewind(plan)
            else:
                self._report("rewind cancelled: nothing written")

        self.call_from_thread(self.push_screen,
                              ConfirmScreen("Rewind to the best checkpoint?", details,
                                            yes="Rewind"), confirmed)

    @work(thread=True, exclusive=True, group="surgery")
    def apply_rewind(self, plan) -> None:
        try:
            result = surgery.apply_rewind(plan)
        except (surgery.ToolsUnavailable, RunwatchError) as exc:
            self.call_from_thread(self._report, f"rewind failed: {exc}")
            return
        self.call_from_thread(self._report, f"rewound to {result.checkpoint}\nresume with:\n  "
                                            f"{result.resume_command}")

    def action_edit(self) -> None:
        self.action_show_tab("checkpoints")
        row = self.query_one(CheckpointPanel).selected()
        with self._lock:
            schedule = self.model.schedule
            point = self.model.live.get(row.epoch) if row and row.epoch else None
            # The whole live branch: epochs after the checkpoint are evidence too (as
            # `runwatch forecast --checkpoint` fits them); the scenarios start at the checkpoint.
            history = [p.record for p in self.model.epochs()]
            plan = list(self.model.plan) if self.model.plan else None
        if row is None:
            self._report("edit: this run has no checkpoints yet")
            return
        if schedule is None or point is None:
            self._report("edit: the stream does not say this run's schedule or the checkpoint's "
                         "epoch (only runwatch runs can be edited from here)")
            return
        context = EditContext(str(row.path), schedule, point.epoch, point.lr, history, plan,
                              self.target)
        self.unless_held("edit", lambda: self.push_screen(
            EditScreen(context), lambda choice: self._edit_chosen(row.path, choice)))

    def _edit_chosen(self, checkpoint: Path, choice: surgery.EditChoice | None) -> None:
        if choice is None:
            self._report("edit cancelled: nothing written")
            return
        self.plan_edit(checkpoint, choice)

    @work(thread=True, exclusive=True, group="surgery")
    def plan_edit(self, checkpoint: Path, choice: surgery.EditChoice) -> None:
        try:
            plan = surgery.plan_edit(checkpoint, choice)
        except (surgery.ToolsUnavailable, RunwatchError) as exc:
            self.call_from_thread(self._report, f"edit: {exc}")
            return
        out = surgery.edited_path(checkpoint)
        details = f"{surgery.describe_plan(plan)}\nwrites {out} (the original is kept)"

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.write_edit(plan, out)
            else:
                self._report("edit cancelled: nothing written")

        self.call_from_thread(self.push_screen,
                              ConfirmScreen("Write the edited checkpoint?", details,
                                            yes="Write"), confirmed)

    @work(thread=True, exclusive=True, group="surgery")
    def write_edit(self, plan, out: Path) -> None:
        try:
            written = surgery.write_edit(plan, out)
        except (surgery.ToolsUnavailable, RunwatchError) as exc:
            self.call_from_thread(self._report, f"edit failed: {exc}")
            return
        command = plan.resume_hint or surgery.resume_command(written, self.config_name)
        self.call_from_thread(self._report, f"wrote {written}\nresume with:\n  {command}")
        self.call_from_thread(self.list_checkpoint_files)

    def _report(self, text: str) -> None:
        for panel in self.query(CheckpointPanel):
            panel.report(text)
        self.notify(text.splitlines()[0], timeout=6)
