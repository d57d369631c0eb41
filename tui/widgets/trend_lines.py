"""Three one-line sparklines: test accuracy, LR (bars summarised by their min, so the short
dips of a warm-restart schedule show) and the step loss (downsampled buckets)."""

from __future__ import annotations

import math

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, Sparkline

from runwatch.tui.run_model import RunModel
from runwatch.tui.status import format_lr


def _finite(values: list[float]) -> list[float]:
    return [v for v in values if math.isfinite(v)]


class TrendLines(Vertical):
    def compose(self) -> ComposeResult:
        for key, title in (("acc", "test acc"), ("lr", "LR (min)"), ("loss", "step loss")):
            with Horizontal(classes="trend"):
                yield Label(title, classes="trend-title")
                summary = min if key == "lr" else None
                yield Sparkline([], id=f"spark-{key}", summary_function=summary)
                yield Label("-", id=f"last-{key}", classes="trend-last")

    def show(self, model: RunModel) -> None:
        points = model.epochs()
        acc = _finite([p.test_acc1 for p in points])
        lrs = _finite([p.lr for p in points])
        # The LR line covers the whole plan, so the restarts ahead are visible too.
        if model.plan and len(model.plan) >= len(lrs):
            lrs = lrs + model.plan[len(lrs):]
        loss = model.step_loss.means() or _finite([p.train_loss for p in points])
        self._set("acc", acc, f"{acc[-1]:.2f}" if acc else "-")
        self._set("lr", lrs, format_lr(min(lrs)) + " min" if lrs else "-")
        self._set("loss", loss, f"{loss[-1]:.3f}" if loss else "-")

    def _set(self, key: str, data: list[float], last: str) -> None:
        self.query_one(f"#spark-{key}", Sparkline).data = data
        self.query_one(f"#last-{key}", Label).update(last)
