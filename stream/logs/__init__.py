"""Other trainers' logs (and our own stream) as metric-stream records: one module per format.

Each module defines `FORMAT`, a `runwatch.stream.logs.base.LogFormat`: its name, what it is
called, the file names a run directory is searched for, `sniff(head)` (is this file mine, by
content) and `open(path, options, state)` (a reader whose `poll()` returns stream records).
`FORMATS` lists them in the order they are tried: adding a format is adding a module and its
line here. `runwatch.stream.sources` finds, detects and follows them.
"""

from __future__ import annotations

from runwatch.stream.logs import (
    any_csv,
    deit,
    hf_trainer,
    json_stats,
    lightning_csv,
    mlflow,
    ours,
    tensorboard,
    timm,
)
from runwatch.stream.logs.base import Head, LogFormat, LogReader, ReadOptions

FORMATS: tuple[LogFormat, ...] = (
    tensorboard.FORMAT,  # binary, told by its checksums
    json_stats.FORMAT,  # before the JSON-lines formats: its options table opens with "{"
    ours.FORMAT,
    deit.FORMAT,
    timm.FORMAT,  # before the CSVs: a timm summary is also a CSV with an epoch column
    lightning_csv.FORMAT,
    any_csv.FORMAT,
    hf_trainer.FORMAT,  # a JSON document: after the JSON-lines formats, which it is not
    mlflow.FORMAT,
)
PENDING = "pending"  # detect(): not enough content yet to tell


def detect(head: Head) -> LogFormat | str | None:
    """The format of a file from its head: the first that claims it, PENDING while one
    cannot tell yet, or None when none reads it."""
    undecided = False
    for fmt in FORMATS:
        verdict = fmt.sniff(head)
        if verdict:
            return fmt
        undecided = undecided or verdict is None
    return PENDING if undecided else None


def by_name(name: str) -> LogFormat | None:
    return next((f for f in FORMATS if f.name == name), None)


__all__ = ["FORMATS", "PENDING", "Head", "LogFormat", "LogReader", "ReadOptions", "by_name",
           "detect"]
