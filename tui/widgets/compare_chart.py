"""Several runs on one chart, aligned by epoch: each run's live branch, its abandoned branches
and its forecast (the accuracy's median, or the LR plan ahead).

The screen sets `lines` (runwatch.tui.compare.Line) and `title_words`; `log_y` for the LR.
Each run has its colour and, so it reads under NO_COLOR, its own marker on the live branch; an
abandoned branch is drawn with x, a forecast with dots. Points are downsampled to about the
chart's width, as the monitor's accuracy chart does.
"""

from __future__ import annotations

from textual.reactive import reactive
from textual_plotext import PlotextPlot

from runwatch.tui.compare import ABANDONED, FORECAST, Line
from runwatch.tui.downsample import minmax_buckets
from runwatch.tui.widgets.accuracy_chart import epoch_ticks

# Each colour by its plotext name (the chart) and its Rich name (the legend): they differ.
COLOURS = (("green", "green"), ("cyan", "cyan"), ("magenta", "magenta"), ("yellow", "yellow"),
           ("blue+", "bright_blue"), ("red+", "bright_red"), ("orange", "dark_orange"),
           ("white", "white"))
MARKERS = ("braille", "+", "o", "*", "#", "@", "%", "&")


def run_style(run: int) -> tuple[str, str]:
    """The (plotext colour, marker) of the `run`-th run."""
    return COLOURS[run % len(COLOURS)][0], MARKERS[run % len(MARKERS)]


def legend_colour(run: int) -> str:
    """The `run`-th run's colour as a Rich style, for the legend beside the chart."""
    return COLOURS[run % len(COLOURS)][1]


class CompareChart(PlotextPlot):
    lines: reactive[tuple[Line, ...]] = reactive(tuple)
    title_words: reactive[str] = reactive("")

    def __init__(self, log_y: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.log_y = log_y

    def render(self):
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(self.title_words)
        buckets = max(self.size.width, 40)
        xs_all: list[float] = []
        for line in self.lines:
            xs, ys = minmax_buckets(line.epochs, line.values, buckets)
            if not xs:
                continue
            colour, marker = run_style(line.run)
            if line.kind == ABANDONED:
                plt.scatter(xs, ys, marker="x", color=colour)
            elif line.kind == FORECAST:
                plt.plot(xs, ys, marker="·", color=colour)
            else:
                plt.plot(xs, ys, marker=marker, color=colour)
            xs_all += xs
        if self.log_y and xs_all:
            plt.yscale("log")
        ticks = epoch_ticks(xs_all)
        if ticks:
            plt.xticks(ticks)
        return super().render()
