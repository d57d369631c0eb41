"""The run list (`runwatch watch runs/`, `runwatch watch A B C`): every run's status, epoch of
total, best, forecast of its final accuracy with the 80% band and active alerts; sortable,
live, and a compare view of the marked runs.

One owner of state, as in the monitor: the app's fields change on the UI thread only. The
scanner worker re-scans every `scan_s` (an unchanged log costs a stat: stream.runs.RunScanner)
and posts the summaries when they changed; the outlook worker forecasts the runs due, one at a
time in the order shown, and posts each outlook as it is made. Enter exits with the run to open:
the launcher (tui.launch.watch_runs) runs the single-run monitor on it, as `runwatch watch RUN`
would, and comes back here on its Esc with this list's state (`ListState`) as it was.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Static
from textual.worker import Worker, WorkerState, get_current_worker

from runwatch.errors import RunwatchError
from runwatch.stream.runs import RunScanner, RunSummary, run_records
from runwatch.terminal import printable
from runwatch.tui.messages import OutlookReady, RunsScanned
from runwatch.tui.run_list import SORTS, Outlook, Outlooks, RunRow, outlook_of
from runwatch.tui.screens.compare_screen import CompareScreen
from runwatch.tui.screens.help_screen import HelpScreen
from runwatch.tui.widgets.run_detail import RunDetail
from runwatch.tui.widgets.run_table import RunTable

SCAN_S = 3.0
LIST_ACTIONS = frozenset({"open_run", "mark", "compare", "sort", "help"})
DEFAULT_TARGET = 75.0


@dataclass
class ListState:
    """What the list keeps while a run is open in the monitor."""

    scanner: RunScanner
    outlooks: Outlooks = field(default_factory=Outlooks)
    marked: frozenset[Path] = frozenset()
    sort_by: str = "status"
    cursor: Path | None = None
    problem: str = ""  # why the run chosen could not be opened, shown on return


class RunsApp(App[Path | None]):
    """Exits with the entry of the run to open, or None (quit)."""

    CSS_PATH = "runs.tcss"
    TITLE = "runwatch: runs"
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("enter", "open_run", "Open"),
        Binding("space", "mark", "Mark"),
        Binding("c", "compare", "Compare"),
        Binding("s", "sort", "Sort"),
        Binding("question_mark", "help", "Keys"),
    ]
    KEY_HELP = [  # each fits one line of the help at 80 columns
        ("q Ctrl+Q", "quit"),
        ("Up Down", "move between runs; Home g: the first, End G: the last"),
        ("Enter", "open the run in the monitor (Esc there comes back)"),
        ("Space", "mark or unmark the run for compare, and go to the next"),
        ("c", "compare the marked runs (or the one selected): accuracy, LR"),
        ("s", "sort by " + ", ".join(key for key, _, _ in SORTS) + " in turn"),
        ("?", "this list of keys"),
    ]

    def __init__(self, state: ListState, *, target: float | None = None,
                 scan_s: float = SCAN_S, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.state = state
        self.target = target or DEFAULT_TARGET
        self.scan_s = scan_s
        self.clock = clock
        self.summaries: list[RunSummary] = []
        self.scanned = False  # the first scan is in
        self._outlooks_running = False
        self._stop = threading.Event()

    def compose(self) -> ComposeResult:
        yield Static("scanning...", id="runs-title")
        yield RunTable(id="runs")
        yield RunDetail(id="run-detail")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(RunTable)
        table.sort_by, table.marked = self.state.sort_by, self.state.marked
        table.focus()
        if self.state.problem:
            self.notify(self.state.problem, severity="error", markup=False, timeout=10)
            self.state.problem = ""
        self.scan_runs()

    def on_unmount(self) -> None:
        self._stop.set()

    # Workers --------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="scan")
    def scan_runs(self) -> None:
        worker = get_current_worker()
        scanner, posted = self.state.scanner, None
        while not worker.is_cancelled and not self._stop.is_set():
            summaries = scanner.scan(self.clock())
            if summaries != posted:
                self.post_message(RunsScanned(summaries))
                posted = summaries
            self._stop.wait(self.scan_s)

    @work(thread=True, exclusive=True, group="outlook")
    def forecast_runs(self, due: list[RunSummary], target: float) -> None:
        for summary in due:
            if get_current_worker().is_cancelled or self._stop.is_set():
                return
            try:
                outlook = outlook_of(run_records(summary), summary.status, target)
            except (RunwatchError, OSError, ValueError) as exc:
                outlook = Outlook(note=str(exc))
            self.post_message(OutlookReady(summary, outlook))

    # Messages up ----------------------------------------------------------------------------

    def on_runs_scanned(self, message: RunsScanned) -> None:
        self.summaries = message.summaries
        self.scanned = True
        self._show_rows()
        self._start_outlooks()

    def on_outlook_ready(self, message: OutlookReady) -> None:
        self.state.outlooks.keep(message.summary, message.outlook)
        self._show_rows()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "outlook" and event.state in (
                WorkerState.SUCCESS, WorkerState.CANCELLED, WorkerState.ERROR):
            self._outlooks_running = False
            self._start_outlooks()  # runs that changed while it ran

    def on_data_table_row_highlighted(self, event: RunTable.RowHighlighted) -> None:
        self._show_detail()

    def on_data_table_row_selected(self, event: RunTable.RowSelected) -> None:
        self.action_open_run()  # Enter: the table takes the key first

    # Attributes down ------------------------------------------------------------------------

    def rows(self) -> list[RunRow]:
        return [RunRow(s, self.state.outlooks.get(s)) for s in self.summaries]

    def _show_rows(self) -> None:
        table = self.query_one(RunTable)
        table.run_rows = tuple(self.rows())
        if self.state.cursor is not None:  # back from the monitor: on the run it showed
            keys = [row.key for row in table.shown]
            if self.state.cursor in keys:
                table.move_cursor(row=keys.index(self.state.cursor), animate=False)
                self.state.cursor = None
        counts = {}
        for s in self.summaries:
            counts[s.status] = counts.get(s.status, 0) + 1
        words = ", ".join(f"{n} {status}" for status, n in counts.items())
        pending = sum(1 for row in table.run_rows if row.outlook is None
                      and row.summary.status != "unreadable")
        self.query_one("#runs-title", Static).update(
            f"{len(self.summaries)} runs ({words or 'none yet'})"
            + (f"; forecasting {pending}..." if pending else ""))
        self._show_detail()

    def _show_detail(self) -> None:
        self.query_one(RunDetail).row = self.query_one(RunTable).selected()

    def _start_outlooks(self) -> None:
        if self._outlooks_running:
            return
        shown = [row.summary for row in self.query_one(RunTable).shown]
        due = self.state.outlooks.due(shown)
        if due:
            self._outlooks_running = True
            self.forecast_runs(due, self.target)

    # Keys -----------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The list's own keys only on the list (the footer of compare and help hides them)."""
        return action not in LIST_ACTIONS or len(self.screen_stack) == 1

    def action_open_run(self) -> None:
        row = self.query_one(RunTable).selected()
        if row is None:
            return
        if row.summary.status == "unreadable":
            self.notify(f"{printable(row.summary.name)}: {printable(row.summary.note)}",
                        severity="error", markup=False)
            return
        self._keep_state()
        self.state.cursor = row.key
        self.exit(row.key)

    def action_mark(self) -> None:
        table = self.query_one(RunTable)
        row = table.selected()
        if row is None:
            return
        marked = set(table.marked)
        marked.symmetric_difference_update({row.key})
        table.marked = self.state.marked = frozenset(marked)
        if table.cursor_row < table.row_count - 1:
            table.move_cursor(row=table.cursor_row + 1, animate=False)

    def action_compare(self) -> None:
        table = self.query_one(RunTable)
        chosen = [row for row in table.shown if row.key in table.marked]
        if not chosen and table.selected() is not None:
            chosen = [table.selected()]
        chosen = [row for row in chosen if row.summary.status != "unreadable"]
        if not chosen:
            self.notify("mark runs with Space first (unreadable ones cannot be compared)",
                        markup=False)
            return
        self.push_screen(CompareScreen([(row.summary, row.outlook.predictions
                                         if row.outlook is not None else ())
                                        for row in chosen]))

    def action_sort(self) -> None:
        table = self.query_one(RunTable)
        keys = [key for key, _, _ in SORTS]
        table.sort_by = self.state.sort_by = keys[(keys.index(table.sort_by) + 1) % len(keys)]

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.KEY_HELP))

    def _keep_state(self) -> None:
        table = self.query_one(RunTable)
        self.state.marked, self.state.sort_by = table.marked, table.sort_by
