"""Other trainers' logs turned into metric-stream records (torch-free, pandas-free).

Pure parsing: lines and tables in, records out. `trainer/sources.py` detects the format and
follows the file; this module knows what each format's fields mean.

Every epoch record made here has our field names (docs/metric-stream.md) and all of
`EPOCH_FIELDS`: a value the log does not record is None; a value the log records as
non-finite stays a float nan/inf (it means something: divergence). `epoch` counts epochs
completed (1-based), `time` is None (these logs carry no wall-clock time), accuracies are
percent.

- DeiT-style `log.txt` (DeiT, RepViT, CF-ViT): JSON lines, `epoch` from 0, `train_lr`,
  `test_acc1` (percent). CF-ViT logs one accuracy per stage (`test_96_acc1` ...
  `test_384_acc1`): the last, highest-resolution stage is the accuracy.
- Torch7 `json_stats` (wide-residual-networks): an options table, then `json_stats: {...}`
  lines, `epoch` from 1, `lr`, `test_acc` (percent), `loss` (train), `train_time`,
  `test_time`; the options give the step schedule (`learningRateDecayRatio` at `epoch_step`).
- timm `summary.csv` (`timm.utils.update_summary`): `epoch` from 0, `train_loss`,
  `eval_loss`, `eval_top1`, `eval_top5` (percent), `lr`; appended row by row.
- Lightning CSVLogger `metrics.csv`: sparse rows keyed by `step`, `epoch` from 0, val and
  train metrics on different rows, LR in `lr-<Optimizer>` rows without an epoch;
  torchmetrics accuracies are fractions.
- Any CSV with an epoch column and an accuracy column.

A CSV accuracy column whose values all lie in [0, 1] is read as a fraction and multiplied by
100 (said in the note); DeiT, json_stats and timm accuracies are percent by construction.
"""

from __future__ import annotations

import csv
import json
import math
import re
from dataclasses import dataclass

from trainer.errors import RunwatchError
from trainer.schedule import ScheduleSpec, lr_plan

EPOCH_FIELDS = ("test_acc1", "test_acc5", "test_loss", "train_loss", "train_acc1", "lr",
                "epoch_time_s")


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
    return float(str(value).strip())


def _available(keys: object) -> str:
    return ", ".join(sorted(str(k) for k in keys)) or "none"


def missing_metric(metric: str, keys: object) -> RunwatchError:
    return RunwatchError(
        f"--metric {metric!r} is not in this log: use one of {_available(keys)}"
    )


# --- DeiT-style log.txt -------------------------------------------------------------------

_STAGE_ACC1 = re.compile(r"^test_(\d+)_acc1$")


def deit_accuracy_key(keys: list[str]) -> tuple[str | None, str]:
    """The top-1 key of a DeiT-style record and a note saying why."""
    if "test_acc1" in keys:
        return "test_acc1", "accuracy: test_acc1"
    stages = sorted((int(m.group(1)), k) for k in keys if (m := _STAGE_ACC1.match(k)))
    if not stages:
        return None, "no test_acc1 key"
    names = ", ".join(k for _, k in stages)
    key = stages[-1][1]
    return key, f"accuracy: {key} (last, highest-resolution stage of {names})"


@dataclass
class DeitLines:
    """Parses DeiT-style `log.txt` lines; the accuracy key is fixed by the first record."""

    metric: str | None = None
    acc1_key: str | None = None
    note: str = ""

    def __call__(self, line: str) -> dict | None:
        text = line.strip()
        if not text:
            return None
        raw = json.loads(text)
        if not isinstance(raw, dict) or not isinstance(raw.get("epoch"), (int, float)):
            raise ValueError("not a DeiT log record (no 'epoch')")
        if self.acc1_key is None:
            self._choose_key(raw)
        acc5_key = self.acc1_key.replace("acc1", "acc5") if self.acc1_key else None
        return epoch_record(int(raw["epoch"]) + 1, {
            "test_acc1": to_float(raw.get(self.acc1_key)),
            "test_acc5": to_float(raw.get(acc5_key)) if acc5_key != self.acc1_key else None,
            "test_loss": to_float(raw.get("test_loss")),
            "train_loss": to_float(raw.get("train_loss")),
            "train_acc1": to_float(raw.get("train_acc1")),
            "lr": to_float(raw.get("train_lr")),
        })

    def _choose_key(self, raw: dict) -> None:
        if self.metric is not None:
            if self.metric not in raw:
                raise missing_metric(self.metric, raw)
            self.acc1_key, self.note = self.metric, f"accuracy: {self.metric} (--metric)"
            return
        self.acc1_key, self.note = deit_accuracy_key(list(raw))
        self.note += "; epoch = DeiT's 0-based epoch + 1; --metric overrides"


# --- Torch7 json_stats -------------------------------------------------------------------

JSON_STATS_PREFIX = "json_stats:"
_JSON_STATS_PER_EPOCH = {"epoch", "lr", "learningRate", "test_acc", "train_acc", "loss",
                         "train_loss", "train_time", "test_time"}


@dataclass
class JsonStatsLines:
    """Parses a Torch7 log: `json_stats: {...}` lines are epochs, every other line is skipped."""

    metric: str | None = None
    first: dict | None = None

    def __call__(self, line: str) -> dict | None:
        text = line.strip()
        if not text.startswith(JSON_STATS_PREFIX):
            return None
        raw = json.loads(text[len(JSON_STATS_PREFIX):])
        if not isinstance(raw, dict) or not isinstance(raw.get("epoch"), (int, float)):
            raise ValueError("json_stats line without an 'epoch'")
        if self.first is None:
            if self.metric is not None and self.metric not in raw:
                raise missing_metric(self.metric, raw)
            self.first = raw
        times = [to_float(raw.get(k)) for k in ("train_time", "test_time")]
        return epoch_record(int(raw["epoch"]), {
            "test_acc1": to_float(raw.get(self.metric or "test_acc")),
            "train_loss": to_float(raw.get("train_loss", raw.get("loss"))),
            "train_acc1": to_float(raw.get("train_acc")),
            "lr": to_float(raw.get("lr")),
            "epoch_time_s": sum(times) if None not in times else None,
        })

    @property
    def note(self) -> str:
        return (f"accuracy: {self.metric or 'test_acc'}; train_loss: loss; "
                "epoch time: train_time + test_time; --metric overrides")

    def run_info(self) -> dict:
        """Planned epochs, the options and, when the options define it, the LR plan."""
        if self.first is None:
            return {}
        config = {k: v for k, v in self.first.items() if k not in _JSON_STATS_PER_EPOCH}
        return {"config": config, "epochs": config.get("max_epoch"),
                "lr_schedule": json_stats_plan(self.first)}


def json_stats_plan(first: dict) -> list[float] | None:
    """The step schedule of a wide-residual-networks run, from its first json_stats record.

    Its train.lua multiplies the LR by `learningRateDecayRatio` before epoch m for every m in
    `epoch_step` (the logged `lr` of epoch 60 is already decayed), so epoch m is the first at
    the new LR: ScheduleSpec milestone m - 1. The base LR is undone from the first epoch's LR.
    """
    try:
        steps = tuple(int(m) - 1 for m in first["epoch_step"])
        gamma, epochs = float(first["learningRateDecayRatio"]), int(first["max_epoch"])
        epoch, lr = int(first["epoch"]), float(first["lr"])
    except (KeyError, TypeError, ValueError):
        return None
    decays = sum(1 for m in steps if epoch > m)
    try:
        spec = ScheduleSpec("step", lr / gamma**decays, epochs, milestones=steps, gamma=gamma)
    except RunwatchError:
        return None
    return lr_plan(spec)


# --- timm summary.csv --------------------------------------------------------------------

TIMM_FIELDS = {"eval_top1": "test_acc1", "eval_top5": "test_acc5", "eval_loss": "test_loss",
               "train_loss": "train_loss", "lr": "lr"}


@dataclass
class TimmLines:
    """Parses timm `summary.csv` lines (epoch from 0); a line starting `epoch,` is the header."""

    metric: str | None = None
    header: list[str] | None = None

    def __call__(self, line: str) -> dict | None:
        if not line.strip():
            return None
        cells = next(csv.reader([line.rstrip("\r")]))
        if cells and cells[0].strip() == "epoch":
            self.header = [c.strip() for c in cells]
            if self.metric is not None and self.metric not in self.header:
                raise missing_metric(self.metric, self.header)
            return None
        if self.header is None or len(cells) != len(self.header):
            raise ValueError("summary.csv row does not match its header")
        row = dict(zip(self.header, cells, strict=True))
        values = {ours: to_float(row.get(theirs)) for theirs, ours in TIMM_FIELDS.items()}
        if self.metric is not None:
            values["test_acc1"] = to_float(row[self.metric])
        return epoch_record(int(float(row["epoch"])) + 1, values)

    @property
    def note(self) -> str:
        return (f"accuracy: {self.metric or 'eval_top1'}; test_loss: eval_loss; "
                "epoch = timm's 0-based epoch + 1; --metric overrides")


# --- CSV tables: column choice ----------------------------------------------------------


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


_EVAL_PREFIX = re.compile(r"^(test|val|valid|validation|eval)(_|$)")


def _accuracy_score(name: str, top: str) -> int | None:
    """How likely `name` is the eval top-`top` accuracy column (higher is better; None: not)."""
    n = _norm(name)
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


def _first(columns: list[str], names: tuple[str, ...]) -> str | None:
    by_norm = {_norm(c): c for c in reversed(columns)}
    return next((by_norm[n] for n in names if n in by_norm), None)


def pick_lr_column(columns: list[str]) -> str | None:
    """`lr`-like column, or the first LearningRateMonitor `lr-<Optimizer>` column."""
    named = _first(columns, ("lr", "learning_rate", "train_lr"))
    if named:
        return named
    return next((c for c in columns if c.startswith("lr-") and "momentum" not in c
                 and "weight_decay" not in c), None)


EPOCH_COLUMNS = ("epoch", "epochs", "ep")
TEST_LOSS_COLUMNS = ("test_loss", "val_loss", "val_loss_epoch", "valid_loss", "eval_loss",
                     "validation_loss")
TRAIN_LOSS_COLUMNS = ("train_loss_epoch", "train_loss", "loss")
TRAIN_ACC_COLUMNS = ("train_acc1", "train_acc1_epoch", "train_acc_epoch", "train_acc",
                     "train_top1", "train_accuracy")
ACCURACY_FIELDS = ("test_acc1", "test_acc5", "train_acc1")


@dataclass(frozen=True)
class Columns:
    """Which column of a CSV feeds which of our fields."""

    epoch: str
    fields: dict[str, str]  # our field -> their column

    def describe(self) -> str:
        return ", ".join(f"{ours}: {theirs}" for ours, theirs in self.fields.items())


def pick_columns(header: list[str], metric: str | None) -> Columns | None:
    """The epoch and metric columns of a CSV header; None without an epoch column."""
    epoch = _first(header, EPOCH_COLUMNS)
    if epoch is None:
        return None
    if metric is not None and metric not in header:
        raise missing_metric(metric, header)
    found = {
        "test_acc1": metric or pick_accuracy_column(header),
        "test_acc5": pick_accuracy_column(header, "5"),
        "test_loss": _first(header, TEST_LOSS_COLUMNS),
        "train_loss": _first(header, TRAIN_LOSS_COLUMNS),
        "train_acc1": _first(header, TRAIN_ACC_COLUMNS),
        "lr": pick_lr_column(header),
        "epoch_time_s": _first(header, ("epoch_time_s", "epoch_time")),
    }
    return Columns(epoch, {k: v for k, v in found.items() if v is not None})


# --- CSV tables: rows to records --------------------------------------------------------


def read_csv_text(text: str) -> tuple[list[str], list[dict[str, str]], int]:
    """Header, rows and the number of rows whose length is not the header's, leaving out a
    last line still being written."""
    if not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]
    lines = text.splitlines()
    if not lines:
        return [], [], 0
    reader = csv.reader(lines)
    header = [c.strip() for c in next(reader)]
    cells_of_rows = [cells for cells in reader if any(cells)]
    rows = [dict(zip(header, cells, strict=True)) for cells in cells_of_rows
            if len(cells) == len(header)]
    return header, rows, len(cells_of_rows) - len(rows)


def fraction_columns(records: list[dict]) -> list[str]:
    """Accuracy fields whose known values all lie in [0, 1]: fractions, to be shown x100."""
    out = []
    for name in ACCURACY_FIELDS:
        values = [r[name] for r in records if r[name] is not None and math.isfinite(r[name])]
        if values and max(values) <= 1.0:
            out.append(name)
    return out


def scale_fractions(records: list[dict]) -> list[str]:
    """Multiply fraction accuracy fields by 100 in place; the fields scaled."""
    scaled = fraction_columns(records)
    for record in records:
        for name in scaled:
            if record[name] is not None:
                record[name] *= 100.0
    return scaled


@dataclass
class Table:
    """Records parsed from a whole CSV, with what was chosen and how many rows were bad."""

    records: list[dict]
    note: str
    bad_rows: int = 0


def csv_table(header: list[str], rows: list[dict[str, str]], metric: str | None) -> Table:
    """Any CSV with an epoch column: one epoch record per row, in file order."""
    columns = pick_columns(header, metric)
    if columns is None:
        raise RunwatchError(
            f"this CSV has no epoch column (columns: {_available(header)}): "
            "add one named 'epoch'"
        )
    if "test_acc1" not in columns.fields:
        raise RunwatchError(
            f"this CSV has no accuracy column (columns: {_available(header)}): "
            "name one with --metric COLUMN"
        )
    records, bad = [], 0
    for row in rows:
        try:
            epoch = int(float(row[columns.epoch]))
            values = {ours: to_float(row.get(theirs)) for ours, theirs in columns.fields.items()}
        except (ValueError, TypeError):
            bad += 1
            continue
        records.append(epoch_record(epoch, values))
    notes = [columns.describe()]
    if records and min(r["epoch"] for r in records) == 0:
        for r in records:
            r["epoch"] += 1
        notes.append(f"epoch = {columns.epoch} + 1 (it counts from 0)")
    scaled = scale_fractions(records)
    if scaled:
        notes.append(f"{', '.join(scaled)} read as fractions, shown x100 as percent")
    return Table(records, "; ".join(notes) + "; --metric overrides", bad)


@dataclass
class _LightningEpoch:
    """The rows of one Lightning epoch merged so far."""

    values: dict
    filled: set[str]  # columns with a value in any of its rows
    record: dict | None = None
    steps: int = 0


def lightning_table(header: list[str], rows: list[dict[str, str]], metric: str | None,
                    settled_only: bool = False) -> Table:
    """Lightning CSVLogger rows merged into one epoch record per epoch (plus step records).

    Rows of one epoch (Lightning's 0-based `epoch`) are merged, the last value of each column
    winning. An `lr-*` row has no epoch: it belongs to the next row that has one (the
    LearningRateMonitor logs at the start of an epoch). A `*loss*_step` column becomes step
    records. With `settled_only`, the last epoch is held back while it may still gain values:
    no row after it, and a column missing that it will get (a mapped column, or `X_epoch` when
    `X_step` exists: Lightning writes the val row and the train-epoch row separately).
    """
    columns = pick_columns(header, metric)
    if columns is None:
        raise RunwatchError("this metrics.csv has no epoch column: pass a Lightning CSVLogger file")
    step_loss = next((c for c in header if c.endswith("_step") and "loss" in c), None)
    lr_col = columns.fields.get("lr")
    expected = ({c for c in columns.fields.values() if c != lr_col}
                | {c[: -len("_step")] + "_epoch" for c in header if c.endswith("_step")})
    out: list[dict] = []
    epochs: dict[int, _LightningEpoch] = {}
    pending_lr: float | None = None
    last: _LightningEpoch | None = None
    bad = 0
    for row in rows:
        try:
            epoch = int(float(row["epoch"])) if row.get("epoch") else None
            lr = to_float(row.get(lr_col)) if lr_col else None
            loss = to_float(row.get(step_loss)) if step_loss else None
            values = {ours: to_float(row.get(theirs)) for ours, theirs in columns.fields.items()
                      if ours != "lr"}
        except ValueError:
            bad += 1
            continue
        if epoch is None:
            pending_lr = lr if lr is not None else pending_lr
            last = None  # a row outside the epoch: the epoch before it is settled
            continue
        last = epochs.get(epoch)
        if last is None:
            last = epochs[epoch] = _LightningEpoch({"lr": pending_lr}, set())
            pending_lr = None
        last.values.update({k: v for k, v in values.items() if v is not None})
        last.filled.update(c for c, v in row.items() if v not in ("", None))
        if loss is not None:
            last.steps += 1
            out.append({"type": "step", "time": None, "epoch": epoch + 1, "step": last.steps,
                        "global_step": int(float(row.get("step") or 0)), "loss": loss,
                        "lr": last.values["lr"]})
        if last.record is None and any(v is not None for v in values.values()):
            last.record = epoch_record(epoch + 1, {})
            out.append(last.record)
    for merged in epochs.values():
        if merged.record is not None:
            merged.record.update({k: v for k, v in merged.values.items() if v is not None})
    if settled_only and last is not None and last.record is not None \
            and not expected <= last.filled:
        out = [r for r in out if r is not last.record]
    scaled = scale_fractions([r for r in out if r["type"] == "epoch"])
    notes = [columns.describe(), "epoch = Lightning's 0-based epoch + 1"]
    if scaled:
        notes.append(f"{', '.join(scaled)} read as fractions, shown x100 as percent")
    return Table(out, "; ".join(notes) + "; --metric overrides", bad)
