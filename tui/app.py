"""The live monitor: follows a run's stream and shows it, forecasts it, says what to do, and
repairs it.

One owner of the run state: the app's RunModel, changed only on the UI thread. The follower
worker polls the feed (~4 Hz, from the last offset) and posts what it read as `RecordsRead`;
the forecast (with the "what to do" options as scenarios), the checkpoint listing and the
`--notify-cmd` runs are thread workers that get copies of what they need and post their
results. The app applies each message and sets the widgets' reactives (attributes down).
Every surgery goes through one async flow (tui.surgery_flow) that asks with
`push_screen_wait`. On quit every worker is told to stop and returns within one poll interval.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Input, TabbedContent, TabPane
from textual.worker import get_current_worker

from runwatch.terminal import printable
from runwatch.tui import advice as advice_of
from runwatch.tui.alerts import AlertContext, AlertLog, compute_alerts
from runwatch.tui.checkpoints import (
    CheckpointRow,
    checkpoint_files,
    checkpoint_rows,
    run_dir_of,
)
from runwatch.tui.feed import StreamFeed
from runwatch.tui.forecasting import WAITING, ForecastOutcome, run_forecast
from runwatch.tui.keys import KeyActions
from runwatch.tui.messages import (
    CheckpointFilesListed,
    ForecastReady,
    NotifyFailed,
    RecordsRead,
)
from runwatch.tui.notify import Notifier, NotifySettings, alert_json, in_tmux, run_command
from runwatch.tui.notify import terminal_sequences as notification_sequences
from runwatch.tui.run_model import RunModel
from runwatch.tui.source import MonitorSource
from runwatch.tui.status import header_facts, run_state
from runwatch.tui.widgets.accuracy_chart import AccuracyChart, chart_series
from runwatch.tui.widgets.advice_panel import AdvicePanel
from runwatch.tui.widgets.alert_list import AlertList
from runwatch.tui.widgets.checkpoint_panel import CheckpointPanel
from runwatch.tui.widgets.commands_panel import Command, CommandsPanel
from runwatch.tui.widgets.epoch_table import EpochTable, table_rows
from runwatch.tui.widgets.forecast_panel import ForecastPanel
from runwatch.tui.widgets.run_header import RunHeader
from runwatch.tui.widgets.step_chart import StepChart, step_view
from runwatch.tui.widgets.trend_lines import TrendLines, trends_of

POLL_S = 0.25
DEFAULT_TARGET = 75.0
MAX_COMMANDS = 6


@dataclass(frozen=True)
class ForecastInputs:
    """A copy of what one forecast needs, made on the UI thread for the worker."""

    history: list[dict]
    plan: list[float] | None
    target: float
    patience: int | None
    now: float | None
    options: list[advice_of.Option]


class RunwatchApp(KeyActions, App[str | None]):
    """Exits with None, or "stop"/"leave" when it was asked about a training it started, or
    "back" (Esc) when opened from the run list (`back=True`)."""

    CSS_PATH = "app.tcss"
    TITLE = "runwatch"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Keys"),
        Binding("1", "show_tab('run')", "Run"),
        Binding("2", "show_tab('chart')", "Chart"),
        Binding("3", "show_tab('checkpoints')", "Ckpts"),
        Binding("4", "show_tab('steps')", "Steps"),
        Binding("f", "fix", "Fix"),
        Binding("b", "rewind_best", "Rewind"),
        Binding("e", "edit", "Edit"),
        Binding("c", "copy", "Copy cmd"),
        Binding("slash", "jump", "Jump"),
        Binding("a", "focus_alerts", "Alerts", show=False),
        Binding("end,G", "follow", "Follow", show=False),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]
    KEY_HELP = [  # each fits one line of the help at 80 columns
        ("q Ctrl+Q", "quit (asks first when it started the training)"),
        ("?", "this list of keys"),
        ("1 2 3 4", "tabs: run, chart, checkpoints + commands, steps"),
        ("f", "open what to do's fix in the edit dialog, pre-filled"),
        ("b", "rewind to the best checkpoint (asks first)"),
        ("e", "edit the selected checkpoint's schedule (asks first)"),
        ("c", "copy the newest command to the clipboard (OSC 52)"),
        ("/", "jump to an epoch, or show one tag: regression, restart..."),
        ("Esc", "every epoch again after /; else back to the run list"),
        ("Home g", "first row of a table; End G: the last (followed)"),
        ("+ - [ ] 0", "steps tab: zoom in, out, earlier, later, all epochs"),
        ("a", "focus the alert list (arrows, PgUp, PgDn scroll it)"),
        ("Tab", "move focus between panels"),
    ]

    def __init__(self, source: MonitorSource, path: str | Path, *, target: float | None = None,
                 run_name: str | None = None, clock: Callable[[], float] = time.time,
                 poll_s: float = POLL_S, training=None, replay: bool = False,
                 notify: NotifySettings | None = None, back: bool = False) -> None:
        super().__init__()
        self.back = back  # opened from the run list: Esc returns to it
        self.feed = StreamFeed(source)
        self.path = Path(path)
        self.target_arg = target
        self.run_name = run_name or self.path.resolve().name
        self.clock = clock
        self.poll_s = poll_s
        self.training = training  # a subprocess.Popen the caller started, or None
        self.replay = replay  # a recorded run played back: no files, the log's own clock
        self.notifier = Notifier(notify or NotifySettings(), self.run_name)
        # The run's state: changed on the UI thread only.
        self.model = RunModel()
        self.follow_state = replace(self.feed.state)  # the follower posts its own copies
        self.activity: float | None = None
        self.forecast = ForecastOutcome(None, WAITING)
        self.advice = advice_of.Advice(note="what to do: waiting for the forecast")
        self.alert_log = AlertLog()
        self.notifications: list[tuple[str, str]] = []  # (title, body) of each one sent
        self.commands: tuple[Command, ...] = ()  # newest first: the commands panel's
        self.loading = True  # until the follower has read to the end of the file once
        self.started = clock()
        self._checkpoint_files: list[tuple[Path, int]] = []
        self._state = ""  # the header's last run state: a change re-dates the forecast's ETA
        self._forecast_wanted = False  # the history changed since the forecast shown
        self._forecast_running = False  # from its start to its ForecastReady
        self._forecast_started = 0.0  # time.monotonic() of the last start
        self._forecast_rest_until = 0.0  # no new forecast before (see on_forecast_ready)
        self._forecast_timer_set = False  # a timer will start the forecast after the rest
        self._stop = threading.Event()  # tells the threads the app is closing

    @property
    def target(self) -> float:
        """--target, else the run's own target, else DEFAULT_TARGET."""
        return self.target_arg or self.model.target_acc1 or DEFAULT_TARGET

    @property
    def run_dir(self) -> Path:
        return run_dir_of(self.path)

    @property
    def forecasting(self) -> bool:
        """A forecast is running, or one is due for the history on screen."""
        return self._forecast_running or self._forecast_wanted

    def closing(self) -> bool:
        return self._stop.is_set()

    def replay_ended(self) -> bool:
        """A replay that has played its last record, all of it applied."""
        return (self.replay and self.feed.caught_up()
                and self.follow_state.records == self.feed.state.records)

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
                    yield AdvicePanel(id="advice-small", classes="advice", full=False)
            with TabPane("Chart [2]", id="chart"):
                yield AccuracyChart(id="chart-big", classes="chart")
                yield ForecastPanel(id="forecast-big", classes="forecast")
                yield AdvicePanel(id="advice-big", classes="advice")
            with TabPane("Checkpoints [3]", id="checkpoints"):
                yield CheckpointPanel(id="ckpts")
                yield CommandsPanel(id="commands")
            with TabPane("Steps [4]", id="steps"):
                yield StepChart(id="step-chart")
        yield Input(placeholder="epoch number, or a tag: regression, restart, peak, warmup, dip",
                    id="jump")
        yield Footer()

    def on_mount(self) -> None:
        self.title = f"runwatch: {self.run_name}"
        self.query_one("#jump", Input).display = False
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
                               patience=inputs.patience, now=inputs.now,
                               scenarios=advice_of.scenarios_of(inputs.options))
        if not get_current_worker().is_cancelled:
            self.post_message(ForecastReady(outcome, inputs.options))

    @work(thread=True, exclusive=True, group="checkpoints")
    def list_checkpoint_files(self) -> None:
        files = checkpoint_files(self.run_dir)
        if not get_current_worker().is_cancelled:
            self.post_message(CheckpointFilesListed(files))

    @work(thread=True, group="notify")
    def notify_command(self, command: str, payloads: list[str]) -> None:
        for payload in payloads:
            failure = run_command(command, payload)
            if failure is not None:
                self.post_message(NotifyFailed(failure))

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
            self._show_table()
        # While a long history loads only the table follows (the first rows show at once);
        # the whole-history views are drawn once it is all in.
        if not self.loading and (was_loading or change.new_epochs or change.rebuild
                                 or change.steps or change.plan):
            for trends in self.query(TrendLines):
                trends.trends = trends_of(self.model)
            self._show_charts()
            self._show_steps()
        if change.new_epochs or change.rebuild or change.plan:
            self._forecast_wanted = True
        if not self.loading and (was_loading or change.checkpoints or change.rebuild
                                 or change.new_epochs):
            self.list_checkpoint_files()
        self._start_forecast()
        self.refresh_status()

    def on_forecast_ready(self, message: ForecastReady) -> None:
        self._forecast_running = False
        if self._forecast_wanted:
            # Epochs came while it ran (a replay, a fast run): rest as long as it took, so the
            # forecasts take at most half the time the table and the follower need.
            now = time.monotonic()
            self._forecast_rest_until = now + (now - self._forecast_started)
        self.forecast = message.outcome
        latest = self.model.latest()
        self.advice = advice_of.advise(message.options, self.forecast.data,
                                       latest.epoch if latest else 0, len(self.model.plan or ()))
        for panel in self.query(ForecastPanel):
            panel.outcome = self.forecast
        for panel in self.query(AdvicePanel):
            panel.advice, panel.target = self.advice, self.target
        self._show_charts()
        self._show_table()
        self.refresh_status()
        self._refresh_keys()
        self._start_forecast()  # the history may have moved on while it ran

    def on_checkpoint_files_listed(self, message: CheckpointFilesListed) -> None:
        had = bool(self._checkpoint_files)
        self._checkpoint_files = message.files
        self._show_checkpoints()
        if had != bool(message.files):
            self._refresh_keys()
            self._forecast_wanted = True  # the options start from the files there are
            self._start_forecast()

    def on_notify_failed(self, message: NotifyFailed) -> None:
        self.notify(message.text, severity="warning", markup=False)

    def on_step_chart_zoom_changed(self, message: StepChart.ZoomChanged) -> None:
        self._show_steps()

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        # The tab's main widget takes the keys (arrows in the checkpoints table at once).
        focus = {"run": "#epochs", "checkpoints": "#ckpt-table", "steps": "#step-chart"}
        target = focus.get(event.pane.id or "")
        if target:
            self.query_one(target).focus()
        if event.pane.id == "steps":
            self._show_steps()

    # Attributes down ------------------------------------------------------------------------

    def _clock_now(self) -> float:
        """Now: the log's own clock in a replay (its last record), else the wall clock."""
        if self.replay and self.model.last_time is not None:
            return self.model.last_time
        return self.clock()

    def _start_forecast(self) -> None:
        """Forecast the history on screen once it is all in, one forecast at a time."""
        if not self._forecast_wanted or self.loading or self._forecast_running:
            return
        resting = self._forecast_rest_until - time.monotonic()
        if resting > 0:
            if not self._forecast_timer_set:
                self._forecast_timer_set = True
                self.set_timer(resting, self._rested)
            return
        self._forecast_wanted, self._forecast_running = False, True
        self._forecast_started = time.monotonic()
        # A run that is not training dates its ETA from now, not from its last epoch; a
        # replay's ETA is in the log's own time.
        state = run_state(self.model, self.follow_state, self.clock(), self.activity)[0]
        kept = None if self.replay else {r.epoch for r in self.checkpoint_rows()
                                         if r.epoch is not None}
        self.forecast_run(ForecastInputs(
            history=[p.record for p in self.model.epochs()],
            plan=list(self.model.plan) if self.model.plan else None,
            target=self.target, patience=self.model.patience(),
            now=None if state == "running" or self.replay else self.clock(),
            options=advice_of.options(self.model, kept)))

    def _rested(self) -> None:
        self._forecast_timer_set = False
        self._start_forecast()

    def refresh_status(self) -> None:
        ended = self.replay_ended()
        facts = header_facts(self.model, self.follow_state, self.run_name, self._clock_now(),
                             self.activity, self.forecast.data, self.target, self.feed.kind,
                             printable(self.path), ended)
        context = AlertContext(self._source_note(), self.target, printable(self.path),
                               self.clock() - self.started,
                               self.training.pid if self.training is not None else None)
        alerts = compute_alerts(self.model, self.follow_state, facts.state, facts.status,
                                self.forecast.data, context)
        if facts.state != self._state and self.model.epochs():
            self._forecast_wanted = True
            self._start_forecast()
        self._state = facts.state
        for header in self.query(RunHeader):
            header.facts = facts
        for alert_list in self.query(AlertList):
            alert_list.alerts = tuple(alerts)
        latest = self.model.latest()
        self.alert_log.add(alerts, latest.epoch if latest else None)
        self._send_notifications(self.notifier.due(alerts, latest.epoch if latest else None))

    def _send_notifications(self, alerts: list) -> None:
        if not alerts:
            return
        title, body = self.notifier.message(alerts)
        self.notifications.append((title, body))
        if self.notifier.settings.terminal:
            self.write_terminal(notification_sequences(title, body, in_tmux()))
        command = self.notifier.settings.command
        if command:
            now = time.time()
            self.notify_command(command, [alert_json(a, self.run_name, now) for a in alerts])

    def write_terminal(self, sequence: str) -> None:
        """Raw output in order with the screen's: Textual's own bell and clipboard go through
        the driver's writer this way; it has no public call for other sequences."""
        if self._driver is not None and not self.is_headless:
            self._driver.write(sequence)

    def _source_note(self) -> str:
        """How a foreign log was read (which fields), for the alert list; empty for ours."""
        kind, note = self.feed.kind, self.feed.note
        if kind in ("runwatch stream", "waiting") or not note:
            return ""
        return f"{kind}: {note}"

    def _regressions(self) -> frozenset[int]:
        events = (self.forecast.data or {}).get("events") or []
        return frozenset(e["epoch"] for e in events if e.get("kind") == "regression")

    def _show_table(self) -> None:
        rows = table_rows(self.model, self._regressions())
        for table in self.query(EpochTable):
            table.epoch_rows = rows

    def _show_charts(self) -> None:
        series = chart_series(self.model, self.forecast.data, self.target)
        for chart in self.query(AccuracyChart):
            chart.series = series

    def _show_steps(self) -> None:
        chart = self.query_one(StepChart)
        if self.query_one(TabbedContent).active == "steps":  # drawn when it is looked at
            chart.view = step_view(self.model, chart.zoom, max(chart.size.width, 40))

    def checkpoint_rows(self) -> list[CheckpointRow]:
        return checkpoint_rows(self._checkpoint_files, self.model)

    def _show_checkpoints(self) -> None:
        rows = tuple(self.checkpoint_rows())
        for panel in self.query(CheckpointPanel):
            panel.rows = rows

    def report(self, text: str) -> None:
        """The outcome of a surgery step: in the checkpoints panel, and as a toast."""
        lines = [printable(line) for line in text.splitlines()] or [""]
        for panel in self.query(CheckpointPanel):
            panel.status = "\n".join(lines)
        self.notify(lines[0], timeout=8, markup=False)

    def _refresh_keys(self) -> None:
        """The footer's keys follow what there is to act on (a late worker's result may come
        while the app closes: no screen then)."""
        if self.screen_stack:
            self.refresh_bindings()

    def keep_command(self, command: Command) -> None:
        """A command the user will want to run: kept visible in the commands panel."""
        self.commands = (command, *self.commands)[:MAX_COMMANDS]
        for panel in self.query(CommandsPanel):
            panel.commands = self.commands
        self._refresh_keys()
