"""The live monitor: follows a run's stream and shows it, forecasts it, and repairs it.

One owner of the run state: the app's RunModel, changed only on the UI thread. The follower
worker polls the feed (~4 Hz, from the last offset) and posts what it read as `RecordsRead`;
the forecast and the checkpoint listing run in thread workers on copies of what they need and
post their results. The app applies each message and sets the widgets' reactives (attributes
down). Rewind and edit go through one async flow (`run_surgery`) that asks with `push_screen_wait`.
On quit every worker is told to stop and returns within one poll interval.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, TabbedContent, TabPane
from textual.worker import get_current_worker

from runwatch.errors import RunwatchError
from runwatch.runlock import live_holder, stop_holder, wait_released
from runwatch.stream import FollowState
from runwatch.tui import surgery
from runwatch.tui.alerts import compute_alerts
from runwatch.tui.checkpoints import checkpoint_files, checkpoint_rows, run_dir_of
from runwatch.tui.feed import StreamFeed
from runwatch.tui.forecasting import WAITING, ForecastOutcome, run_forecast
from runwatch.tui.launch import STOP_WAIT_S
from runwatch.tui.messages import CheckpointFilesListed, ForecastReady, RecordsRead
from runwatch.tui.run_model import RunModel
from runwatch.tui.screens.confirm_screen import ConfirmScreen
from runwatch.tui.screens.edit_screen import EditContext, EditScreen
from runwatch.tui.screens.help_screen import HelpScreen
from runwatch.tui.screens.quit_screen import QuitScreen
from runwatch.tui.source import MonitorSource
from runwatch.tui.status import header_facts, run_state
from runwatch.tui.widgets.accuracy_chart import AccuracyChart, chart_series
from runwatch.tui.widgets.alert_list import AlertList
from runwatch.tui.widgets.checkpoint_panel import CheckpointPanel
from runwatch.tui.widgets.epoch_table import EpochTable
from runwatch.tui.widgets.forecast_panel import ForecastPanel
from runwatch.tui.widgets.run_header import RunHeader
from runwatch.tui.widgets.trend_lines import TrendLines, trends_of

POLL_S = 0.25
DEFAULT_TARGET = 75.0


@dataclass(frozen=True)
class ForecastInputs:
    """A copy of what one forecast needs, made on the UI thread for the worker."""

    history: list[dict]
    plan: list[float] | None
    target: float
    patience: int | None
    now: float | None


class RunwatchApp(App[str | None]):
    """Exits with None, or "stop"/"leave" when it was asked about a training it started."""

    CSS_PATH = "app.tcss"
    TITLE = "runwatch"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    BINDINGS = [
        Binding("q", "quit", "Quit"),
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

    def __init__(self, source: MonitorSource, path: str | Path, *, target: float | None = None,
                 run_name: str | None = None, clock: Callable[[], float] = time.time,
                 poll_s: float = POLL_S, training=None, config_name: str | None = None) -> None:
        super().__init__()
        self.feed = StreamFeed(source)
        self.path = Path(path)
        self.target_arg = target
        self.run_name = run_name or self.path.resolve().name
        self.clock = clock
        self.poll_s = poll_s
        self.training = training  # a subprocess.Popen the caller started, or None
        self.config_name = config_name  # for the resume command, when the caller knows it
        # The run's state: changed on the UI thread only.
        self.model = RunModel()
        self.follow_state = FollowState(missing=True)
        self.activity: float | None = None
        self.forecast = ForecastOutcome(None, WAITING)
        self.loading = True  # until the follower has read to the end of the file once
        self._checkpoint_files: list[tuple[Path, int]] = []
        self._state = ""  # the header's last run state: a change re-dates the forecast's ETA
        self._forecast_wanted = False  # the history changed since the forecast shown
        self._forecast_running = False  # from its start to its ForecastReady
        self._stop = threading.Event()  # tells the threads the app is closing

    @property
    def target(self) -> float:
        """--target, else the run's own target, else DEFAULT_TARGET."""
        return self.target_arg or self.model.target_acc1 or DEFAULT_TARGET

    @property
    def forecasting(self) -> bool:
        """A forecast is running, or one is due for the history on screen."""
        return self._forecast_running or self._forecast_wanted

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
        self.refresh_status()
        self.follow_stream()
        self.set_interval(1.0, self.refresh_status)

    def on_unmount(self) -> None:
        self._stop.set()

    # Workers: each gets its inputs as arguments and posts its result ------------------------

    @work(thread=True, exclusive=True, group="follow")
    def follow_stream(self) -> None:
        worker = get_current_worker()
        feed = self.feed
        posted_follow, posted_loading = None, None
        while not worker.is_cancelled and not self._stop.is_set():
            batch = feed.poll()
            follow = replace(feed.state)
            read = bool(batch.records or batch.steps)
            # More is already waiting (a long history, a replay's burst): read on at once.
            loading = read and not feed.caught_up()
            if read or batch.reset or follow != posted_follow or loading != posted_loading:
                activity = (feed.modified or self.clock()) if read else None
                self.post_message(RecordsRead(batch, follow, activity, loading))
                posted_follow, posted_loading = follow, loading
            if not loading:
                self._stop.wait(self.poll_s)

    @work(thread=True, group="forecast")
    def forecast_run(self, inputs: ForecastInputs) -> None:
        outcome = run_forecast(inputs.history, inputs.plan, inputs.target,
                               patience=inputs.patience, now=inputs.now)
        if not get_current_worker().is_cancelled:
            self.post_message(ForecastReady(outcome))

    @work(thread=True, exclusive=True, group="checkpoints")
    def list_checkpoint_files(self) -> None:
        files = checkpoint_files(run_dir_of(self.path))
        if not get_current_worker().is_cancelled:
            self.post_message(CheckpointFilesListed(files))

    # Messages up: the UI thread applies them -------------------------------------------------

    def on_records_read(self, message: RecordsRead) -> None:
        batch = message.batch
        if batch.reset:
            self.model.reset()
        change = self.model.apply(batch.records, batch.steps)
        change.rebuild = change.rebuild or batch.reset
        was_loading = self.loading
        self.follow_state = message.follow
        self.loading = message.loading
        if message.activity is not None:
            self.activity = message.activity
        if change.new_epochs or change.rebuild:
            for table in self.query(EpochTable):
                table.sync(self.model, change.new_epochs, change.rebuild)
        # While a long history loads only the table follows (the first rows show at once);
        # the whole-history views are drawn once it is all in.
        if not self.loading and (was_loading or change.new_epochs or change.rebuild
                                 or change.steps or change.plan):
            for trends in self.query(TrendLines):
                trends.trends = trends_of(self.model)
            self._show_charts()
        if change.new_epochs or change.rebuild or change.plan:
            self._forecast_wanted = True
        if not self.loading and (was_loading or change.checkpoints or change.rebuild
                                 or change.new_epochs):
            self.list_checkpoint_files()
        self._start_forecast()
        self.refresh_status()

    def on_forecast_ready(self, message: ForecastReady) -> None:
        self._forecast_running = False
        self.forecast = message.outcome
        for panel in self.query(ForecastPanel):
            panel.outcome = self.forecast
        events = (self.forecast.data or {}).get("events") or []
        regressions = frozenset(e["epoch"] for e in events if e.get("kind") == "regression")
        self._show_charts()
        for table in self.query(EpochTable):
            table.show_regressions(self.model, regressions)
        self.refresh_status()
        self._start_forecast()  # the history may have moved on while it ran

    def on_checkpoint_files_listed(self, message: CheckpointFilesListed) -> None:
        self._checkpoint_files = message.files
        self._show_checkpoints()

    # Attributes down ------------------------------------------------------------------------

    def _start_forecast(self) -> None:
        """Forecast the history on screen once it is all in, one forecast at a time."""
        if not self._forecast_wanted or self.loading or self._forecast_running:
            return
        self._forecast_wanted, self._forecast_running = False, True
        # A run that is not training dates its ETA from now, not from its last epoch.
        state = run_state(self.model, self.follow_state, self.clock(), self.activity)[0]
        self.forecast_run(ForecastInputs(
            history=[p.record for p in self.model.epochs()],
            plan=list(self.model.plan) if self.model.plan else None,
            target=self.target, patience=self.model.patience(),
            now=None if state == "running" else self.clock()))

    def refresh_status(self) -> None:
        facts = header_facts(self.model, self.follow_state, self.run_name, self.clock(),
                             self.activity, self.forecast.data, self.target, self.feed.kind)
        alerts = compute_alerts(self.model, self.follow_state, facts.state, facts.status,
                                self.forecast.data, self._source_note())
        if facts.state != self._state and self.model.epochs():
            self._forecast_wanted = True
            self._start_forecast()
        self._state = facts.state
        for header in self.query(RunHeader):
            header.facts = facts
        for alert_list in self.query(AlertList):
            alert_list.alerts = tuple(alerts)

    def _source_note(self) -> str:
        """How a foreign log was read (which fields), for the alert list; empty for ours."""
        kind, note = self.feed.kind, self.feed.note
        if kind in ("runwatch stream", "waiting") or not note:
            return ""
        return f"{kind}: {note}"

    def _show_charts(self) -> None:
        series = chart_series(self.model, self.forecast.data, self.target)
        for chart in self.query(AccuracyChart):
            chart.series = series

    def _show_checkpoints(self) -> None:
        rows = tuple(checkpoint_rows(self._checkpoint_files, self.model))
        for panel in self.query(CheckpointPanel):
            panel.rows = rows

    def report(self, text: str) -> None:
        """The outcome of a surgery step: in the checkpoints panel, and as a toast."""
        for panel in self.query(CheckpointPanel):
            panel.status = text
        self.notify(text.splitlines()[0], timeout=6, markup=False)

    # Keys ------------------------------------------------------------------------------------

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

    async def action_quit(self) -> None:
        """q and Ctrl+Q: ask first when the app started a training that still runs."""
        if self.training is None or self.training.poll() is not None:
            self.exit(None)
            return

        def decided(choice: str | None) -> None:
            if choice in ("stop", "leave"):
                self.exit(choice)

        self.push_screen(QuitScreen(self.training.pid, str(run_dir_of(self.path))), decided)

    def action_rewind_best(self) -> None:
        self.action_show_tab("checkpoints")
        if not self.query_one(CheckpointPanel).rows:  # a replay or a foreign log: no files
            self.report("rewind: this run has no checkpoints yet")
            return
        self.run_surgery("rewind")

    def action_edit(self) -> None:
        self.action_show_tab("checkpoints")
        row = self.query_one(CheckpointPanel).selected()
        if row is None:
            self.report("edit: this run has no checkpoints yet")
            return
        point = self.model.live.get(row.epoch) if row.epoch else None
        if self.model.schedule is None or point is None:
            self.report("edit: the stream does not say this run's schedule or the checkpoint's "
                        "epoch (only runwatch runs can be edited from here)")
            return
        # The whole live branch: epochs after the checkpoint are evidence too (as
        # `runwatch forecast --checkpoint` fits them); the scenarios start at the checkpoint.
        context = EditContext(str(row.path), self.model.schedule, point.epoch, point.lr,
                              [p.record for p in self.model.epochs()],
                              list(self.model.plan) if self.model.plan else None, self.target)
        self.run_surgery("edit", row.path, context)

    # The one confirm flow for every surgery ------------------------------------------------

    @work(group="surgery")
    async def run_surgery(self, action: str, checkpoint: Path | None = None,
                      context: EditContext | None = None) -> None:
        """Rewind to best, or edit `checkpoint`: refuse or stop a live trainer, ask for the
        edit, plan, confirm with the plan's facts, write, say how to resume."""
        if any(w.group == "surgery" and w is not get_current_worker() and not w.is_finished
               for w in self.workers):  # one at a time: a second key press is not queued
            self.report(f"{action}: another rewind or edit is still being asked for")
            return
        run_dir = run_dir_of(self.path)
        if not await self._may_write(run_dir, action):
            return
        choice = None
        if context is not None:
            choice = await self.push_screen_wait(EditScreen(context))
            if choice is None:
                self.report(f"{action} cancelled: nothing written")
                return
        try:
            if checkpoint is None:
                plan = await asyncio.to_thread(surgery.plan_rewind, run_dir, "best")
                question, yes, out = "Rewind to the best checkpoint?", "Rewind", None
            else:
                plan = await asyncio.to_thread(surgery.plan_edit, checkpoint, choice)
                out = await asyncio.to_thread(surgery.edited_path, checkpoint)
                question, yes = "Write the edited checkpoint?", "Write"
        except (surgery.ToolsUnavailable, RunwatchError) as exc:
            self.report(f"{action}: {exc}")
            return
        details = surgery.describe_plan(plan)
        if out is not None:
            details += f"\nwrites {out} (the original is kept)"
        if not await self.push_screen_wait(ConfirmScreen(question, details, yes=yes)):
            self.report(f"{action} cancelled: nothing written")
            return
        try:
            if out is None:
                result = await asyncio.to_thread(surgery.apply_rewind, plan)
                written, command = result.checkpoint, result.resume_command
            else:
                written = await asyncio.to_thread(surgery.write_edit, plan, out)
                command = plan.resume_hint or surgery.resume_command(written, self.config_name)
        except (surgery.ToolsUnavailable, RunwatchError) as exc:
            self.report(f"{action} failed: {exc}")
            return
        verb = "rewound to" if out is None else "wrote"
        self.report(f"{verb} {written}\nresume with:\n  {command}")
        self.list_checkpoint_files()

    async def _may_write(self, run_dir: Path, action: str) -> bool:
        """True when no trainer holds the run, whoever started it; else refuse, or offer to
        stop it first (SIGTERM, then wait until it has checkpointed and let go)."""
        holder = await asyncio.to_thread(live_holder, run_dir)
        if holder is None:
            return True
        refusal = f"{action}: {holder.describe()}"
        if holder.role != "trainer" or not holder.local:  # nothing this app can stop
            self.report(refusal)
            return False
        details = (f"It writes and prunes this run's checkpoints and its stream: a {action} "
                   f"now would mix with them.\nStop: send it SIGTERM (it checkpoints and exits), "
                   f"wait for that, then {action}.\nCancel: leave it running; nothing is written.")
        if not await self.push_screen_wait(ConfirmScreen(f"Stop {holder.who()}?", details,
                                                         yes="Stop", no="Cancel")):
            self.report(refusal)
            return False
        try:
            await asyncio.to_thread(stop_holder, holder)
        except RunwatchError as exc:
            self.report(f"{action}: {exc}")
            return False
        self.report(f"{action}: stopping {holder.who()}; waiting for its checkpoint")
        if await asyncio.to_thread(wait_released, run_dir, STOP_WAIT_S, self._stop.is_set):
            return True
        if not self._stop.is_set():
            self.report(f"{action}: {holder.who()} still runs after {STOP_WAIT_S} s: nothing "
                        "written")
        return False
