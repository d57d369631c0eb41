"""A folder of runs, summarised cheaply: the data of the monitor's run list (issue 14).

`scan_runs(folder)` looks at each entry of `folder` (a run directory or a log file, any format
`runwatch.stream.sources` reads) and returns a `RunSummary`: name, format, status, epoch of
total, best accuracy. Our own streams are read at their two ends only (the `run_start` line and
the last `TAIL_BYTES`: the last epoch records carry `best_acc1`, the end carries `run_end`), so
a hundred long runs list in well under a second (bench/runs_list.py); other logs are read whole.

Status: `finished` (run_end completed or early_stopped; a log without an end marker that reached
its planned epochs; an MLflow run marked finished), `failed` (failed, diverged), `stopped`
(interrupted, killed), `running` (written to within the stall time: 3 epochs, at least
`STALL_MIN_S`), else `stalled`; `unreadable` with the reason when the entry cannot be read.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from runwatch.errors import RunwatchError
from runwatch.stream.logs.mlflow import run_status
from runwatch.stream.reader import MAX_LINE_BYTES, parse_line
from runwatch.stream.schema import STREAM_NAME, record_problem
from runwatch.stream.sources import find_log, read_source

TAIL_BYTES = 256 << 10  # hundreds of epoch records, even between step records
STALL_MIN_S = 600.0
_STEP = b'{"type":"step"'
_ENDED = {"completed": "finished", "early_stopped": "finished", "failed": "failed",
          "diverged": "failed", "interrupted": "stopped"}
_MLFLOW = {"finished": "finished", "failed": "failed", "killed": "stopped"}


@dataclass(frozen=True)
class RunSummary:
    """One run of a folder, as the run list shows it."""

    name: str
    path: Path  # the log read
    kind: str  # the format ("runwatch stream", "TensorBoard events (val/acc)" ...)
    status: str  # finished | failed | stopped | running | stalled | unreadable
    epoch: int | None  # the last epoch recorded
    epochs: int | None  # planned, when the log says
    best_acc1: float | None
    best_epoch: int | None
    updated: float  # the log's mtime
    note: str = ""  # why unreadable, or what was read


def scan_runs(folder: str | os.PathLike, now: float | None = None) -> list[RunSummary]:
    """A summary of every run in `folder`, by name."""
    now = time.time() if now is None else now
    root = Path(folder)
    out = []
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("."):
            continue
        try:
            log = find_log(entry) if entry.is_dir() else entry
            if log is None:
                continue
            out.append(summarise(entry.name, log, now))
        except (RunwatchError, OSError, ValueError) as exc:
            out.append(RunSummary(entry.name, entry, "?", "unreadable", None, None, None, None,
                                  0.0, str(exc)))
    return out


def summarise(name: str, log: Path, now: float) -> RunSummary:
    """The summary of one run whose log is `log`."""
    if log.name == STREAM_NAME:
        records, kind = _stream_ends(log), "runwatch stream"
    else:
        records, source = read_source(log)
        kind = source.kind
    updated = log.stat().st_mtime
    start = next((r for r in reversed(records) if r["type"] in ("run_start", "resume")), {})
    epochs = [r for r in records if r["type"] == "epoch"]
    end = next((r for r in reversed(records) if r["type"] == "run_end"), None)
    last = epochs[-1] if epochs else None
    best_acc1, best_epoch = _best(epochs)
    planned = start.get("epochs")
    status = _status(end, last, planned, updated, now, epochs)
    if log.name == "meta.yaml":  # an MLflow run says its status
        status = _MLFLOW.get(run_status(log.parent) or "", status)
    return RunSummary(name, log, kind, status, last["epoch"] if last else None, planned,
                      best_acc1, best_epoch, updated)


def _stream_ends(path: Path) -> list[dict]:
    """The records of our stream's first line and of its last TAIL_BYTES (all of a short
    file), step records left unparsed: they say nothing the list shows."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.readline(MAX_LINE_BYTES)
        f.seek(max(size - TAIL_BYTES, len(head)))
        tail = f.read(TAIL_BYTES)
    lines = tail.split(b"\n")
    if size - TAIL_BYTES > len(head):
        lines = lines[1:]  # the first piece of the tail may be the end of a line
    records = []
    for raw in (head, *lines):
        if not raw.strip() or raw.startswith(_STEP):
            continue
        try:
            record = parse_line(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            continue
        if record is not None and record_problem(record) is None:
            records.append(record)
    return records


def _best(epochs: list[dict]) -> tuple[float | None, int | None]:
    """The best accuracy and its epoch: as the last epoch record says (our trainer writes
    best_acc1), else the highest of the epochs read."""
    if epochs and isinstance(epochs[-1].get("best_acc1"), (int, float)):
        return float(epochs[-1]["best_acc1"]), epochs[-1].get("best_epoch")
    scored = [(r["test_acc1"], r["epoch"]) for r in epochs
              if isinstance(r.get("test_acc1"), (int, float)) and math.isfinite(r["test_acc1"])]
    if not scored:
        return None, None
    acc, epoch = max(scored)
    return float(acc), epoch


def _status(end: dict | None, last: dict | None, planned: int | None, updated: float,
            now: float, epochs: list[dict]) -> str:
    if end is not None:
        return _ENDED.get(end.get("status"), "failed")
    if last is not None and planned and last["epoch"] >= planned:
        return "finished"
    return "running" if now - updated <= _stall_after(epochs) else "stalled"


def _stall_after(epochs: list[dict]) -> float:
    """Three epochs of this run (measured, else from record times), at least STALL_MIN_S."""
    measured = [r["epoch_time_s"] for r in epochs[-5:]
                if isinstance(r.get("epoch_time_s"), (int, float))
                and math.isfinite(r["epoch_time_s"])]
    times = [r["time"] for r in epochs[-6:] if isinstance(r.get("time"), (int, float))]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False) if b > a]
    per_epoch = statistics.median(measured or gaps) if measured or gaps else 0.0
    return max(STALL_MIN_S, 3 * per_epoch)
