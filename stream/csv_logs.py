"""CSVs that may be rewritten whole, as metric-stream records (torch-free, pandas-free).

- Lightning CSVLogger `metrics.csv`: sparse rows keyed by `step`, `epoch` from 0, val and
  train metrics on different rows, LR in `lr-<Optimizer>` rows without an epoch (from
  LearningRateMonitor); torchmetrics accuracies are fractions. Lightning appends rows, and
  rewrites the whole file with a wider header when a new key appears.
- Any CSV with an epoch column and an accuracy column (columns picked by name; `metric`
  overrides); scripts often rewrite such a CSV every epoch.

Tables are built row by row (`add`), so a follower that sees rows appended parses only them;
`table()` renders the records so far. An accuracy field whose values all lie in [0, 1] is read
as a fraction and multiplied by 100; an epoch column counting from 0 is shifted by one; the
note says both. Records follow stream/foreign_logs.py's conventions (None = not logged).
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass, field

from runwatch.errors import RunwatchError
from runwatch.stream.foreign_logs import available_keys, epoch_record, missing_metric, to_float


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


# --- rows to records ----------------------------------------------------------------------


def parse_csv_lines(header: list[str], lines: list[str]) -> tuple[list[dict[str, str]], int]:
    """Rows of complete CSV lines under `header`, and how many had the wrong number of cells."""
    cells_of_rows = [cells for cells in csv.reader(lines) if any(cells)]
    rows = [dict(zip(header, cells, strict=True)) for cells in cells_of_rows
            if len(cells) == len(header)]
    return rows, len(cells_of_rows) - len(rows)


def read_csv_text(text: str) -> tuple[list[str], list[dict[str, str]], int]:
    """Header, rows and the number of malformed rows of a CSV, leaving out a last line still
    being written."""
    lines = text[: text.rfind("\n") + 1].splitlines()
    if not lines:
        return [], [], 0
    header = parse_header(lines[0])
    return (header, *parse_csv_lines(header, lines[1:]))


def parse_header(line: str) -> list[str]:
    return [c.strip() for c in next(csv.reader([line]))]


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


@dataclass
class Table:
    """Records read from a CSV so far, with what was chosen and how many rows were bad."""

    records: list[dict]
    note: str
    bad_rows: int = 0


def _fraction_note(fields: list[str]) -> list[str]:
    return [f"{', '.join(fields)} read as fractions, shown x100 as percent"] if fields else []


class CsvTable:
    """Any CSV with an epoch column and an accuracy column: one epoch record per row."""

    def __init__(self, header: list[str], metric: str | None) -> None:
        columns = pick_columns(header, metric)
        if columns is None:
            raise RunwatchError(
                f"this CSV has no epoch column (columns: {available_keys(header)}): "
                "add one named 'epoch'"
            )
        if "test_acc1" not in columns.fields:
            raise RunwatchError(
                f"this CSV has no accuracy column (columns: {available_keys(header)}): "
                "name one with --metric COLUMN"
            )
        self.header, self.columns = header, columns
        self.kind = f"CSV ({columns.epoch}, {columns.fields['test_acc1']})"
        self.raw: list[dict] = []  # as logged: epoch unshifted, fractions unscaled
        self.bad_rows = 0

    def add(self, rows: list[dict[str, str]]) -> None:
        for row in rows:
            try:
                epoch = int(float(row[self.columns.epoch]))
                values = {ours: to_float(row.get(theirs))
                          for ours, theirs in self.columns.fields.items()}
            except (ValueError, TypeError):
                self.bad_rows += 1
                continue
            self.raw.append(epoch_record(epoch, values))

    def table(self, settled_only: bool = False) -> Table:
        """Every row so far (a CSV row is complete once written: `settled_only` is moot)."""
        notes = [self.columns.describe()]
        shift = bool(self.raw) and min(r["epoch"] for r in self.raw) == 0
        if shift:
            notes.append(f"epoch = {self.columns.epoch} + 1 (it counts from 0)")
        scaled = fraction_fields(self.raw)
        notes += _fraction_note(scaled)
        records = list(self.raw)
        if shift or scaled:
            records = [as_percent({**r, "epoch": r["epoch"] + shift}, scaled) for r in self.raw]
        return Table(records, "; ".join(notes) + "; --metric overrides", self.bad_rows)


@dataclass
class _LightningEpoch:
    """The rows of one Lightning epoch merged so far."""

    number: int  # Lightning's, from 0
    lr: float | None
    values: dict = field(default_factory=dict)
    filled: set[str] = field(default_factory=set)  # columns with a value in any of its rows
    steps: int = 0
    has_record: bool = False


class LightningTable:
    """Lightning CSVLogger rows merged into one epoch record per epoch, plus step records.

    Rows of one epoch are merged, the last value of each column winning. An `lr-*` row has no
    epoch: it belongs to the next row that has one (LearningRateMonitor logs at the start of
    an epoch). A `*loss*_step` column becomes step records. `table(settled_only=True)` holds
    the last epoch back while it may still gain values: no row after it, and a column
    missing that it will get (a mapped column, or `X_epoch` when `X_step` exists: Lightning
    writes an epoch's val row and its train row in separate saves).
    """

    kind = "Lightning metrics.csv"

    def __init__(self, header: list[str], metric: str | None) -> None:
        columns = pick_columns(header, metric)
        if columns is None:
            raise RunwatchError("this metrics.csv has no epoch column: "
                                "pass a Lightning CSVLogger file")
        self.header, self.columns = header, columns
        self.step_loss = next((c for c in header if c.endswith("_step") and "loss" in c), None)
        self.lr_col = columns.fields.get("lr")
        self.expected = ({c for c in columns.fields.values() if c != self.lr_col}
                         | {c[: -len("_step")] + "_epoch" for c in header if c.endswith("_step")})
        self.order: list[dict | _LightningEpoch] = []  # step records and epochs, file order
        self.epochs: dict[int, _LightningEpoch] = {}
        self.pending_lr: float | None = None
        self.last: _LightningEpoch | None = None  # None once a row outside it follows
        self.bad_rows = 0

    def add(self, rows: list[dict[str, str]]) -> None:
        for row in rows:
            try:
                epoch = int(float(row["epoch"])) if row.get("epoch") else None
                lr = to_float(row.get(self.lr_col)) if self.lr_col else None
                loss = to_float(row.get(self.step_loss)) if self.step_loss else None
                values = {ours: to_float(row.get(theirs))
                          for ours, theirs in self.columns.fields.items() if ours != "lr"}
            except ValueError:
                self.bad_rows += 1
                continue
            if epoch is None:
                self.pending_lr = lr if lr is not None else self.pending_lr
                self.last = None
                continue
            self._add_epoch_row(epoch, row, values, loss)

    def _add_epoch_row(self, epoch: int, row: dict, values: dict, loss: float | None) -> None:
        merged = self.last = self.epochs.get(epoch)
        if merged is None:
            merged = self.last = self.epochs[epoch] = _LightningEpoch(epoch, self.pending_lr)
            self.pending_lr = None
        merged.values.update({k: v for k, v in values.items() if v is not None})
        merged.filled.update(c for c, v in row.items() if v not in ("", None))
        if loss is not None:
            merged.steps += 1
            self.order.append({"type": "step", "time": None, "epoch": epoch + 1,
                               "step": merged.steps, "global_step": int(float(row["step"] or 0)),
                               "loss": loss, "lr": merged.lr})
        if not merged.has_record and merged.values:
            merged.has_record = True
            self.order.append(merged)

    def table(self, settled_only: bool = False) -> Table:
        held = (self.last if settled_only and self.last is not None
                and not self.expected <= self.last.filled else None)
        epochs = {id(m): epoch_record(m.number + 1, {**m.values, "lr": m.lr})
                  for m in self.epochs.values() if m.has_record and m is not held}
        scaled = fraction_fields(list(epochs.values()))
        records = [item if isinstance(item, dict) else as_percent(epochs[id(item)], scaled)
                   for item in self.order if item is not held]
        notes = [self.columns.describe(), "epoch = Lightning's 0-based epoch + 1",
                 *_fraction_note(scaled)]
        return Table(records, "; ".join(notes) + "; --metric overrides", self.bad_rows)


def csv_table(header: list[str], rows: list[dict[str, str]], metric: str | None) -> Table:
    """A whole CSV with an epoch column, read at once."""
    table = CsvTable(header, metric)
    table.add(rows)
    return table.table()


def lightning_table(header: list[str], rows: list[dict[str, str]], metric: str | None,
                    settled_only: bool = False) -> Table:
    """A whole Lightning metrics.csv, read at once."""
    table = LightningTable(header, metric)
    table.add(rows)
    return table.table(settled_only)
