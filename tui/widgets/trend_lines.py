"""Three one-line sparklines: test accuracy, LR (bars summarised by their min, so the short
dips of a warm-restart schedule show) and the loss (of each step, bucket means; or, for a log
without steps, each epoch's train loss). Each line ends with its latest value; a line with one
value draws nothing (a single bar would fill the line)."""

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
KEYS = ("acc", "lr", "loss")


@dataclass(frozen=True)
class Trend:
    title: str
    data: tuple[float, ...] = ()
    last: str = "-"


@dataclass(frozen=True)
class Trends:
    acc: Trend = Trend("test acc")
    lr: Trend = Trend("LR")
    loss: Trend = Trend("step loss")


def _finite(values: list[float]) -> list[float]:
    return [v for v in values if math.isfinite(v)]


def trends_of(model: RunModel) -> Trends:
    points = model.epochs()
    acc = _finite([p.test_acc1 for p in points])
    lrs = _finite([p.lr for p in points])
    current_lr = format_lr(lrs[-1]) if lrs else "-"
    # The LR line covers the whole plan, so the restarts ahead are visible too.
    if model.plan and len(model.plan) >= len(lrs):
        lrs = lrs + model.plan[len(lrs):]
    if len(model.steps):
        loss, title = model.steps.loss_means(LOSS_BUCKETS), "step loss"
    else:
        loss, title = _finite([p.train_loss for p in points]), "train loss"
    return Trends(
        acc=Trend("test acc", tuple(acc), f"{acc[-1]:.2f}" if acc else "-"),
        lr=Trend("LR", tuple(lrs), current_lr),
        loss=Trend(title, tuple(loss), f"{loss[-1]:.3f}" if loss else "-"),
    )


class TrendLines(Vertical):
    trends: reactive[Trends] = reactive(Trends, init=False)

    def compose(self) -> ComposeResult:
        for key, trend in zip(KEYS, (Trends().acc, Trends().lr, Trends().loss), strict=True):
            with Horizontal(classes="trend"):
                yield Label(trend.title, id=f"title-{key}", classes="trend-title")
                yield Sparkline([], id=f"spark-{key}", summary_function=min if key == "lr"
                                else None)
                yield Label("-", id=f"last-{key}", classes="trend-last")

    def watch_trends(self, trends: Trends) -> None:
        for key, trend in zip(KEYS, (trends.acc, trends.lr, trends.loss), strict=True):
            self.query_one(f"#title-{key}", Label).update(trend.title)
            self.query_one(f"#spark-{key}", Sparkline).data = (
                list(trend.data) if len(trend.data) > 1 else [])
            self.query_one(f"#last-{key}", Label).update(trend.last)
