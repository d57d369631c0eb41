"""Lightning CSVLogger `metrics.csv`: sparse rows keyed by `step`, `epoch` from 0, val and train
metrics on different rows, LR in `lr-<Optimizer>` rows without an epoch (from
LearningRateMonitor); torchmetrics accuracies are fractions. Lightning appends rows, and
rewrites the whole file with a wider header when a new key appears (stream/logs/tables.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from runwatch.errors import RunwatchError
from runwatch.stream.logs.base import Head, LogFormat, ReadOptions
from runwatch.stream.logs.fields import (
    as_percent,
    epoch_record,
    fraction_fields,
    fraction_note,
    pick_columns,
    to_float,
)
from runwatch.stream.logs.tables import Table, TableLog, csv_header
from runwatch.stream.reader import FollowState

KIND = "Lightning metrics.csv"


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

    kind = KIND

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
            except (ValueError, OverflowError):
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
                 *fraction_note(scaled)]
        return Table(records, "; ".join(notes) + "; --metric overrides", self.bad_rows)


def lightning_table(header: list[str], rows: list[dict[str, str]], metric: str | None,
                    settled_only: bool = False) -> Table:
    """A whole Lightning metrics.csv, read at once."""
    table = LightningTable(header, metric)
    table.add(rows)
    return table.table(settled_only)


def sniff(head: Head) -> bool | None:
    if not head.text:
        return None
    header = csv_header(head)
    return header is not None and "epoch" in header and "step" in header


def open_log(path: Path, options: ReadOptions, state: FollowState) -> TableLog:
    return TableLog(path, state, KIND, LightningTable, options.metric,
                    settled_only=options.live)


FORMAT = LogFormat("lightning", KIND, "a Lightning CSVLogger metrics.csv", ("metrics.csv",),
                   sniff, open_log)
