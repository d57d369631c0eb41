"""Our field names from theirs: epoch records, numbers from log cells, and the column (or tag)
choice every log format shares (torch-free, pandas-free).

Every epoch record made from a foreign log has our field names (docs/metric-stream.md) and all
of `EPOCH_FIELDS`: a value the log does not record is None; a value the log records as
non-finite stays a float nan/inf (it means something: divergence). `epoch` counts epochs
completed (1-based), `time` is None unless the log has wall-clock times, accuracies are percent.

Columns and tags are picked by name: `pick_accuracy_column` prefers eval-prefixed, explicit
top-1 names and never takes train or best ones; `--metric` overrides. An accuracy field whose
values all lie in [0, 1] is a fraction, shown x100 (`fraction_fields`, `as_percent`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from runwatch.errors import RunwatchError

EPOCH_FIELDS = ("test_acc1", "test_acc5", "test_loss", "train_loss", "train_acc1", "lr",
                "epoch_time_s")
ACCURACY_FIELDS = ("test_acc1", "test_acc5", "train_acc1")


def epoch_record(epoch: int, values: dict) -> dict:
    """An epoch record with every field of EPOCH_FIELDS (None where unknown)."""
    return {"type": "epoch", "time": values.get("time"), "epoch": epoch,
            **{name: values.get(name) for name in EPOCH_FIELDS}}


def to_float(value: object) -> float | None:
    """A number from a log cell: None for empty/missing, nan for 'nan'; ValueError otherwise."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"not a number: {type(value).__name__}")
    return float(value.strip())


def available_keys(keys: object) -> str:
    return ", ".join(sorted(str(k) for k in keys)) or "none"


def missing_metric(metric: str, keys: object) -> RunwatchError:
    return RunwatchError(
        f"--metric {metric!r} is not in this log: use one of {available_keys(keys)}"
    )


# --- picking columns (or tags) by name ------------------------------------------------------


def norm(name: str) -> str:
    """A column or tag name reduced to lower-case words joined by `_` (`val/Acc` -> `val_acc`)."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


_EVAL_PREFIX = re.compile(r"^(test|val|valid|validation|eval)(_|$)")


def _accuracy_score(name: str, top: str) -> int | None:
    """How likely `name` is the eval top-`top` accuracy column (higher is better; None: not)."""
    n = norm(name)
    if "train" in n or "best" in n or n.endswith("_step"):
        return None
    other = "5" if top == "1" else "1"
    if re.search(rf"(acc|top|accuracy)_?{other}\b", n) or not re.search(r"acc|top", n):
        return None
    if top == "5" and not re.search(r"(acc|top)_?5", n):
        return None
    score = 2 if _EVAL_PREFIX.match(n) else 0
    return score + (1 if re.search(rf"(acc|top)_?{top}\b", n) else 0)


def pick_accuracy_column(columns: list[str], top: str = "1") -> str | None:
    """The eval top-1 (or top-5) accuracy column: eval-prefixed and explicit names first."""
    scored = [(s, -i, c) for i, c in enumerate(columns)
              if (s := _accuracy_score(c, top)) is not None]
    return max(scored)[2] if scored else None


def first_named(columns: list[str], names: tuple[str, ...]) -> str | None:
    """The first of `names` (compared normalised) that is a column, in the order of `names`."""
    by_norm = {norm(c): c for c in reversed(columns)}
    return next((by_norm[n] for n in names if n in by_norm), None)


def pick_lr_column(columns: list[str]) -> str | None:
    """`lr`-like column, or the first LearningRateMonitor `lr-<Optimizer>` column."""
    named = first_named(columns, LR_COLUMNS)
    if named:
        return named
    return next((c for c in columns if c.startswith("lr-") and "momentum" not in c
                 and "weight_decay" not in c), None)


EPOCH_COLUMNS = ("epoch", "epochs", "ep")
LR_COLUMNS = ("lr", "learning_rate", "train_lr")
TEST_LOSS_COLUMNS = ("test_loss", "val_loss", "val_loss_epoch", "valid_loss", "eval_loss",
                     "validation_loss")
TRAIN_LOSS_COLUMNS = ("train_loss_epoch", "train_loss", "loss")
TRAIN_ACC_COLUMNS = ("train_acc1", "train_acc1_epoch", "train_acc_epoch", "train_acc",
                     "train_top1", "train_accuracy", "accuracy")  # Keras: `accuracy` is train


@dataclass(frozen=True)
class Columns:
    """Which column of a log feeds which of our fields."""

    epoch: str
    fields: dict[str, str]  # our field -> their column

    def describe(self) -> str:
        return ", ".join(f"{ours}: {theirs}" for ours, theirs in self.fields.items())


def pick_fields(names: list[str], metric: str | None) -> dict[str, str]:
    """Our epoch fields -> their column (or tag) names; `metric` is the accuracy when given."""
    if metric is not None and metric not in names:
        raise missing_metric(metric, names)
    found = {
        "test_acc1": metric or pick_accuracy_column(names),
        "test_acc5": pick_accuracy_column(names, "5"),
        "test_loss": first_named(names, TEST_LOSS_COLUMNS),
        "train_loss": first_named(names, TRAIN_LOSS_COLUMNS),
        "train_acc1": first_named(names, TRAIN_ACC_COLUMNS),
        "lr": pick_lr_column(names),
        "epoch_time_s": first_named(names, ("epoch_time_s", "epoch_time")),
    }
    if found["train_acc1"] == found["test_acc1"]:
        found["train_acc1"] = None
    return {k: v for k, v in found.items() if v is not None}


def pick_columns(header: list[str], metric: str | None) -> Columns | None:
    """The epoch and metric columns of a CSV header; None without an epoch column."""
    epoch = first_named(header, EPOCH_COLUMNS)
    if epoch is None:
        return None
    return Columns(epoch, pick_fields(header, metric))


# --- fractions ----------------------------------------------------------------------------


def fraction_fields(records: list[dict]) -> list[str]:
    """Accuracy fields whose known values all lie in [0, 1]: fractions, to be shown x100."""
    out = []
    for name in ACCURACY_FIELDS:
        values = [r[name] for r in records if r[name] is not None and math.isfinite(r[name])]
        if values and max(values) <= 1.0:
            out.append(name)
    return out


def as_percent(record: dict, fields: list[str]) -> dict:
    """A copy of an epoch record with the fraction `fields` multiplied by 100."""
    out = dict(record)
    for name in fields:
        if out[name] is not None:
            out[name] *= 100.0
    return out


def fraction_note(fields: list[str]) -> list[str]:
    return [f"{', '.join(fields)} read as fractions, shown x100 as percent"] if fields else []
