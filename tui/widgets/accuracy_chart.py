"""Test accuracy over epochs with the forecast (median, 80% band) and the target line.

Drawn with textual-plotext (plotext inside a Textual widget): it renders with the app's theme,
resizes with the widget, and only redraws when visible. The app sets `series` (whole epochs);
points are downsampled to a min/max per bucket of about the chart's width when drawn, so 100k
points draw as fast as 300.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.reactive import reactive
from textual_plotext import PlotextPlot

from runwatch.tui.downsample import minmax_buckets
from runwatch.tui.run_model import RunModel

X_TICKS = 5


@dataclass(frozen=True)
class ChartSeries:
    """What the chart draws: (epochs, accuracies) of the live and abandoned branches, the
    forecast's predictions (epoch, acc1, lo80, hi80), and the target."""

    live: tuple[tuple[int, ...], tuple[float, ...]] = ((), ())
    abandoned: tuple[tuple[int, ...], tuple[float, ...]] = ((), ())
    predictions: tuple[tuple[int, float, float, float], ...] = ()
    target: float | None = None


def chart_series(model: RunModel, forecast: dict | None, target: float) -> ChartSeries:
    points = model.epochs()
    dropped = model.abandoned
    preds = tuple(
        (p["epoch"], p["acc1"], p["acc1"] if p.get("lo80") is None else p["lo80"],
         p["acc1"] if p.get("hi80") is None else p["hi80"])
        for p in (forecast or {}).get("predictions") or [] if p.get("acc1") is not None)
    return ChartSeries(
        live=(tuple(p.epoch for p in points), tuple(p.test_acc1 for p in points)),
        abandoned=(tuple(p.epoch for p in dropped), tuple(p.test_acc1 for p in dropped)),
        predictions=preds, target=target)


def epoch_ticks(epochs: list[float], count: int = X_TICKS) -> list[int]:
    """Whole epochs spread over the x range (plotext's own ticks read 'epoch 6.8')."""
    if not epochs:
        return []
    lo, hi = int(min(epochs)), int(max(epochs))
    step = max(1, round((hi - lo) / (count - 1)))
    inner = [t for t in range(lo, hi, step) if hi - t > step / 2]  # no label crowds the last
    return inner[:count - 1] + [hi]


class AccuracyChart(PlotextPlot):
    series: reactive[ChartSeries] = reactive(ChartSeries)

    def render(self):
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        series = self.series
        buckets = max(self.size.width, 40)
        xs, ys = minmax_buckets(*series.live, buckets)
        axs, ays = minmax_buckets(*series.abandoned, buckets)
        # The legend names markers, not colours, so it reads under NO_COLOR too.
        plt.title("acc %  ⠤ run  • forecast  · 80% band  x abandoned  ─ target")
        if axs:
            plt.scatter(axs, ays, marker="x", color="gray")
        preds = series.predictions
        if preds:
            px = [p[0] for p in preds]
            # Other glyphs than the run's braille: under NO_COLOR they must not join into one
            # line with it.
            plt.plot(px, [p[3] for p in preds], marker="·", color="blue+")
            plt.plot(px, [p[2] for p in preds], marker="·", color="blue+")
            plt.plot(px, [p[1] for p in preds], marker="•", color="cyan")
        if xs:
            plt.plot(xs, ys, marker="braille", color="green")
        if series.target is not None:
            plt.hline(series.target, color="red")
        ticks = epoch_ticks(list(xs) + list(axs) + [p[0] for p in preds])
        if ticks:
            plt.xticks(ticks)
        return super().render()
