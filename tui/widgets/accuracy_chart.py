"""Test accuracy over epochs with the forecast (median, 80% band) and the target line.

Drawn with textual-plotext (plotext inside a Textual widget): it renders with the app's theme,
resizes with the widget, and only redraws when visible. Points are downsampled to a min/max
per bucket of about the chart's width first, so 100k points draw as fast as 300.
"""

from __future__ import annotations

from textual_plotext import PlotextPlot

from runwatch.tui.downsample import minmax_buckets
from runwatch.tui.run_model import RunModel

X_TICKS = 5


def epoch_ticks(epochs: list[float], count: int = X_TICKS) -> list[int]:
    """Whole epochs spread over the x range (plotext's own ticks read 'epoch 6.8')."""
    if not epochs:
        return []
    lo, hi = int(min(epochs)), int(max(epochs))
    step = max(1, round((hi - lo) / (count - 1)))
    inner = [t for t in range(lo, hi, step) if hi - t > step / 2]  # no label crowds the last
    return inner[:count - 1] + [hi]


class AccuracyChart(PlotextPlot):
    def on_mount(self) -> None:
        super().on_mount()
        self._series: dict = {}

    def show(self, model: RunModel, forecast: dict | None, target: float) -> None:
        """Keep the chart's data (downsampled); drawing happens on the next refresh."""
        points = model.epochs()
        buckets = max(self.size.width, 40)
        xs, ys = minmax_buckets([p.epoch for p in points], [p.test_acc1 for p in points], buckets)
        dropped = model.abandoned
        axs, ays = minmax_buckets([p.epoch for p in dropped], [p.test_acc1 for p in dropped],
                                  buckets)
        preds = (forecast or {}).get("predictions") or []
        self._series = {"live": (xs, ys), "abandoned": (axs, ays), "predictions": preds,
                        "target": target}
        self.refresh()

    def render(self):
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        series = getattr(self, "_series", {})
        # The legend names markers, not colours, so it reads under NO_COLOR too.
        plt.title("acc %  ⠤run  ⠒forecast  • 80% band  ─ target")
        target = series.get("target")
        xs, ys = series.get("live", ([], []))
        axs, ays = series.get("abandoned", ([], []))
        preds = [p for p in series.get("predictions", []) if p.get("acc1") is not None]
        if axs:
            plt.scatter(axs, ays, marker="dot", color="gray")
        if preds:
            px = [p["epoch"] for p in preds]
            lo = [p["lo80"] if p.get("lo80") is not None else p["acc1"] for p in preds]
            hi = [p["hi80"] if p.get("hi80") is not None else p["acc1"] for p in preds]
            plt.plot(px, hi, marker="dot", color="blue+")
            plt.plot(px, lo, marker="dot", color="blue+")
            plt.plot(px, [p["acc1"] for p in preds], marker="braille", color="cyan")
        if xs:
            plt.plot(xs, ys, marker="braille", color="green")
        if target is not None:
            plt.hline(target, color="red")
        ticks = epoch_ticks(list(xs) + list(axs) + [p["epoch"] for p in preds])
        if ticks:
            plt.xticks(ticks)
        return super().render()
