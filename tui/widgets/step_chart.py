"""Loss and LR of every step (the `step` records), over an epoch range: the whole run, or
zoomed with the keys (+ - to zoom, [ ] to move, 0 for all). The app sets `view` (already
downsampled to a min and max per column, so dips and spikes survive); the widget owns its zoom
and asks the app for a new view when it changes."""

from __future__ import annotations

import math
from dataclasses import dataclass

from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual_plotext import PlotextPlot

from runwatch.tui.downsample import minmax_buckets
from runwatch.tui.run_model import RunModel


@dataclass(frozen=True)
class StepView:
    """Downsampled steps of epochs first..last; x in fractional epochs."""

    first: int = 1
    last: int = 1
    loss: tuple[tuple[float, ...], tuple[float, ...]] = ((), ())
    lr: tuple[tuple[float, ...], tuple[float, ...]] = ((), ())
    steps: int = 0  # steps in the range, before downsampling


def step_view(model: RunModel, zoom: tuple[int, int] | None, buckets: int) -> StepView:
    epochs = [p.epoch for p in model.epochs()]
    if not epochs:
        return StepView()
    current = epochs[-1] + (1 if model.steps.marked < len(model.steps) else 0)
    first, last = zoom if zoom is not None else (min(epochs), current)
    window = model.steps.window(epochs, first, last)
    loss = minmax_buckets(window.x, window.loss, buckets)
    lr = minmax_buckets(window.x, window.lr, buckets)
    return StepView(first, last, (tuple(loss[0]), tuple(loss[1])),
                    (tuple(lr[0]), tuple(lr[1])), len(window.x))


class StepChart(PlotextPlot, can_focus=True):
    BINDINGS = [Binding("plus,equals_sign", "zoom(0.5)", "Zoom in"),
                Binding("minus", "zoom(2)", "Zoom out"),
                Binding("left_square_bracket,left", "move(-1)", "Earlier"),
                Binding("right_square_bracket,right", "move(1)", "Later"),
                Binding("0", "all", "All epochs")]

    class ZoomChanged(Message):
        def __init__(self, zoom: tuple[int, int] | None) -> None:
            super().__init__()
            self.zoom = zoom

    view: reactive[StepView] = reactive(StepView)
    zoom: reactive[tuple[int, int] | None] = reactive(None, init=False)

    def watch_zoom(self, zoom: tuple[int, int] | None) -> None:
        self.post_message(self.ZoomChanged(zoom))

    def action_zoom(self, factor: float) -> None:
        first, last = self.zoom or (self.view.first, self.view.last)
        span = max(1, math.ceil((last - first + 1) * factor))
        last = last if factor < 1 else max(last, self.view.last)
        self.zoom = (max(1, last - span + 1), last)

    def action_move(self, direction: int) -> None:
        first, last = self.zoom or (self.view.first, self.view.last)
        shift = max(1, (last - first + 1) // 2) * direction
        if first + shift < 1:
            shift = 1 - first
        self.zoom = (first + shift, last + shift)

    def action_all(self) -> None:
        self.zoom = None

    def render(self):
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        view = self.view
        if not view.steps:
            plt.title("no step records in this log: the step chart needs them (runwatch "
                      "streams write one per optimizer step)")
            return super().render()
        plt.title(f"loss ⠤ (left) and LR • (right) of {view.steps:,} steps, epochs "
                  f"{view.first}-{view.last}   + - zoom  [ ] move  0 all")
        plt.plot(*view.loss, marker="braille", color="green", yside="left")
        plt.plot(*view.lr, marker="dot", color="magenta", yside="right")
        plt.xlabel("epoch")
        return super().render()
