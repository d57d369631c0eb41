"""Metrics a trainer reports (tensors, floats, fractions) as the fields of an epoch record."""

from __future__ import annotations

import math
from dataclasses import dataclass

from runwatch.stream.logs.fields import pick_fields

ACCURACIES = ("test_acc1", "test_acc5", "train_acc1")


def as_number(value: object) -> float | None:
    """A float from a tensor, numpy scalar or number; None for what is none of them."""
    try:
        number = float(value.item() if hasattr(value, "item") else value)
    except (TypeError, ValueError, RuntimeError):
        return None
    return number


@dataclass
class MetricPicker:
    """Our epoch fields from a trainer's metric names (`metric` overrides the accuracy).

    Accuracies are percent in the stream. `in_percent` None decides on the first accuracy
    seen: at most 1.0 is a fraction (torchmetrics, `evaluate`), shown x100 from then on.
    """

    metric: str | None = None
    in_percent: bool | None = None

    def fields(self, metrics: dict) -> dict:
        numbers = {str(k): v for k, v in ((k, as_number(v)) for k, v in metrics.items())
                   if v is not None}
        if self.metric is not None and self.metric not in numbers:
            return {}
        picked = pick_fields(list(numbers), self.metric)
        out = {ours: numbers[theirs] for ours, theirs in picked.items()}
        accuracy = out.get("test_acc1")
        if self.in_percent is None and accuracy is not None and math.isfinite(accuracy):
            self.in_percent = accuracy > 1.0
        if self.in_percent is False:
            out.update({k: 100.0 * out[k] for k in ACCURACIES if out.get(k) is not None})
        return out
