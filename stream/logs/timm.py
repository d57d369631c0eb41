"""timm `summary.csv` (`timm.utils.update_summary`): `epoch` from 0, `train_loss`, `eval_loss`,
`eval_top1`, `eval_top5` (percent, never rescaled), `lr`; appended row by row."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from runwatch.stream.logs.base import Head, LogFormat, ReadOptions
from runwatch.stream.logs.fields import epoch_record, missing_metric, to_float
from runwatch.stream.logs.follow import LineLog
from runwatch.stream.logs.tables import csv_header
from runwatch.stream.reader import FollowState

KIND = "timm summary.csv"
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


def sniff(head: Head) -> bool | None:
    if not head.text:
        return None
    header = csv_header(head)
    return header is not None and header[0] == "epoch" and any(
        c.startswith("eval_") for c in header)


def open_log(path: Path, options: ReadOptions, state: FollowState) -> LineLog:
    return LineLog(path, state, KIND, TimmLines(metric=options.metric))


FORMAT = LogFormat("timm", KIND, "a timm summary.csv", ("summary.csv",), sniff, open_log)
