"""`c` in the run list: the marked runs' accuracy and LR on one chart each, aligned by epoch,
with their forecasts and their abandoned branches. Esc (or c) returns to the list.

The runs' records are read in a thread worker (a long run is megabytes); it posts the lines,
the screen hands them to its charts.
"""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import get_current_worker

from runwatch.errors import RunwatchError
from runwatch.stream.runs import RunSummary, run_records
from runwatch.terminal import printable
from runwatch.tui.compare import Comparison, combine, run_lines
from runwatch.tui.widgets.compare_chart import CompareChart, legend_colour, run_style

ACC_TITLE = "test acc %  (x abandoned branch, · forecast)"
LR_TITLE = "LR (log)  (x abandoned branch, · plan ahead)"


class CompareScreen(Screen[None]):
    BINDINGS = [("escape,c", "app.pop_screen", "Back to the list"), ("q", "app.quit", "Quit")]

    class Loaded(Message):
        def __init__(self, comparison: Comparison, problems: list[str]) -> None:
            super().__init__()
            self.comparison = comparison
            self.problems = problems  # a run that could not be read, in one line each

    def __init__(self, runs: list[tuple[RunSummary, tuple[tuple[int, float], ...]]]) -> None:
        super().__init__()
        self.runs = runs  # (summary, forecast predictions) of each marked run, in order

    def compose(self) -> ComposeResult:
        yield Static(self._legend(), id="compare-legend")
        yield CompareChart(id="compare-acc")
        yield CompareChart(log_y=True, id="compare-lr")
        yield Footer()

    def on_mount(self) -> None:
        self.load()

    def _legend(self) -> Text:
        text = Text("compare: ")
        for i, (summary, _) in enumerate(self.runs):
            marker = run_style(i)[1]
            text.append(f"{'⠤' if marker == 'braille' else marker} {printable(summary.name)}",
                        style=legend_colour(i))
            text.append("  ")
        return text

    @work(thread=True, exclusive=True, group="compare")
    def load(self) -> None:
        parts, problems = [], []
        for i, (summary, predictions) in enumerate(self.runs):
            if get_current_worker().is_cancelled:
                return
            try:
                records = run_records(summary)
            except (RunwatchError, OSError) as exc:
                problems.append(f"{printable(summary.name)}: {printable(exc)}")
                continue
            parts.append(run_lines(summary.name, i, records, predictions))
        self.post_message(self.Loaded(combine(parts), problems))

    def on_compare_screen_loaded(self, message: Loaded) -> None:
        acc, lr = self.query_one("#compare-acc", CompareChart), self.query_one(
            "#compare-lr", CompareChart)
        acc.title_words, lr.title_words = ACC_TITLE, LR_TITLE
        acc.lines, lr.lines = message.comparison.accuracy, message.comparison.lr
        for problem in message.problems:
            self.notify(problem, severity="warning", markup=False)
