"""Three one-line sparklines: test accuracy, LR (bars summarised by their min, so the short
dips of a warm-restart schedule show) and the step loss (bucket means)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import Label, Sparkline

from runwatch.tui.run_model import RunModel
from runwatch.tui.status import format_lr

LOSS_BUCKETS = 256


@dataclass(frozen=True)
class Trend:
    data: tuple[float, ...] = ()
    last: str = "-"


@dataclass(frozen=True)
class Trends:
    acc: Trend = Trend()
    lr: Trend = Trend()
    loss: Trend = Trend()


def _finite(values: list[float]) -> list[float]:
    return [v for v in values if math.isfinite(v)]


def trends_of(model: RunModel) -> Trends:
    points = model.epochs()
    acc = _finite([p.test_acc1 for p in points])
    lrs = _finite([p.lr for p in points])
    # The LR line covers the whole plan, so the restarts ahead are visible too.
    if model.plan and len(model.plan) >= len(lrs):
        lrs = lrs + model.plan[len(lrs):]
    loss = (model.steps.loss_means(LOSS_BUCKETS) if len(model.steps)
            else _finite([p.train_loss for p in points]))
    return Trends(
        acc=Trend(tuple(acc), f"{acc[-1]:.2f}" if acc else "-"),
        lr=Trend(tuple(lrs), format_lr(min(lrs)) + " min" if lrs else "-"),
        loss=Trend(tuple(loss), f"{loss[-1]:.3f}" if loss else "-"),
    )


class TrendLines(Vertical):
    trends: reactive[Trends] = reactive(Trends, init=False)

    def compose(self) -> ComposeResult:
        for key, title in (("acc", "test acc"), ("lr", "LR (min)"), ("loss", "step loss")):
            with Horizontal(classes="trend"):
                yield Label(title, classes="trend-title")
                summary = min if key == "lr" else None
                yield Sparkline([], id=f"spark-{key}", summary_function=summary)
                yield Label("-", id=f"last-{key}", classes="trend-last")

    def watch_trends(self, trends: Trends) -> None:
        for key, trend in (("acc", trends.acc), ("lr", trends.lr), ("loss", trends.loss)):
            self.query_one(f"#spark-{key}", Sparkline).data = list(trend.data)
            self.query_one(f"#last-{key}", Label).update(trend.last)
