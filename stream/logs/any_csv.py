"""Any CSV with an epoch column and an accuracy column (columns picked by name, `--metric`
overrides): one epoch record per row. Scripts often rewrite such a CSV every epoch
(stream/logs/tables.py follows that). An epoch column counting from 0 is shifted by one;
accuracies that are all fractions are shown x100."""

from __future__ import annotations

from pathlib import Path

from runwatch.errors import RunwatchError
from runwatch.stream.logs.base import Head, LogFormat, ReadOptions
from runwatch.stream.logs.fields import (
    as_percent,
    available_keys,
    epoch_record,
    fraction_fields,
    fraction_note,
    pick_columns,
    to_float,
)
from runwatch.stream.logs.tables import Table, TableLog, csv_header
from runwatch.stream.reader import FollowState

KIND = "CSV"


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
            except (ValueError, TypeError, OverflowError):
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
        notes += fraction_note(scaled)
        records = list(self.raw)
        if shift or scaled:
            records = [as_percent({**r, "epoch": r["epoch"] + shift}, scaled) for r in self.raw]
        return Table(records, "; ".join(notes) + "; --metric overrides", self.bad_rows)


def csv_table(header: list[str], rows: list[dict[str, str]], metric: str | None) -> Table:
    """A whole CSV with an epoch column, read at once."""
    table = CsvTable(header, metric)
    table.add(rows)
    return table.table()


def sniff(head: Head) -> bool | None:
    if not head.text:
        return None
    header = csv_header(head)
    return header is not None and pick_columns(header, None) is not None


def open_log(path: Path, options: ReadOptions, state: FollowState) -> TableLog:
    return TableLog(path, state, KIND, CsvTable, options.metric, settled_only=options.live)


FORMAT = LogFormat("csv", KIND, "a CSV with an epoch column and an accuracy column", (),
                   sniff, open_log)
