"""A folder of runs, summarised cheaply: the data of the monitor's run list (issue 14).

`scan_runs(folder)` looks at each entry of `folder` (a run directory or a log file, any format
`runwatch.stream.sources` reads) and returns a `RunSummary`: name, format, status, epoch of
total, best accuracy. Our own streams are read at their two ends only (the `run_start` line and
the last `TAIL_BYTES`: the last epoch records carry `best_acc1`, the end carries `run_end`), so
a hundred long runs list in well under a second (bench/runs_list.py); other logs are read whole.

`RunScanner` re-scans a folder (or the paths given) for the live list: an entry whose log has
the same mtime and size keeps its summary (only its running/stalled status is re-dated), so a
re-scan of a hundred quiet runs is a stat each. `is_folder_of_runs` is the rule `runwatch watch
PATH` opens the run list by; `run_records` reads one run's records whole for its forecast.

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
from collections.abc import Sequence
from dataclasses import dataclass, replace
from fnmatch import fnmatch
from pathlib import Path

from runwatch.errors import RunwatchError
from runwatch.stream.logs import PENDING
from runwatch.stream.logs.mlflow import mlflow_run_name, run_status
from runwatch.stream.reader import MAX_LINE_BYTES, not_a_file, parse_line
from runwatch.stream.schema import STREAM_NAME, record_problem
from runwatch.stream.sources import (
    LOG_NAMES,
    LOOSE_SUFFIXES,
    SNIFF_BYTES,
    find_log,
    find_logs,
    fits_its_name,
    read_source,
    sniff,
)

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
    entry: Path | None = None  # what was listed: the run directory or the log file
    stall_s: float = STALL_MIN_S  # quiet this long while not ended: stalled


def scan_runs(folder: str | os.PathLike, now: float | None = None) -> list[RunSummary]:
    """A summary of every run in `folder`, by name."""
    return RunScanner(folder).scan(now)


def is_folder_of_runs(folder: str | os.PathLike) -> bool:
    """The rule `runwatch watch DIR` opens the run list by: DIR holds no log of its own (no
    file directly in it that runwatch reads) and at least two runs sit below it (`run_entries`).
    Anything else is one run, as before: a run directory with its logs nested one sub-folder
    down (lightning_logs/version_0) stays one run, and several logs of one run still ask
    which (--source)."""
    root = Path(folder)
    return root.is_dir() and len(run_entries(root) or ()) >= 2


def run_entries(root: Path, nested: bool = True) -> list[Path] | None:
    """The runs below `root`, or None when it holds a log of its own (it is one run): each
    sub-folder holding a run's log, and a sub-folder that itself holds several runs (an MLflow
    experiment of mlruns/, a project's lightning_logs/) stands for those runs (`nested`: one
    level of that)."""
    if (root / STREAM_NAME).is_file():
        return None
    runs: list[Path] = []
    for entry in _entries(root):
        if entry.is_file():
            if _is_log(entry):
                return None
            continue
        inner = _runs_inside(entry) if nested else None
        if inner is not None:
            runs += inner
        elif entry.is_dir() and _holds_log(entry):
            runs.append(entry)
    return runs


def _runs_inside(entry: Path) -> list[Path] | None:
    """The runs a sub-folder stands for when it holds several (an MLflow experiment, a
    lightning_logs/), else None."""
    inner = run_entries(entry, nested=False) if entry.is_dir() else None
    return inner if inner is not None and len(inner) >= 2 else None


def _entries(root: Path) -> list[Path]:
    return sorted(e for e in root.iterdir() if not e.name.startswith("."))


def _is_log(path: Path) -> bool:
    """A file of a known log name that is not another file of that name (an MLflow
    experiment's meta.yaml is no run's; one too short to tell counts), or a file of any name
    whose content is a log (as `find_logs` looks beside a run's files)."""
    known = any(fnmatch(path.name, name) for name in LOG_NAMES)
    if not known and path.suffix not in LOOSE_SUFFIXES:
        return False
    try:
        with open(path, "rb") as f:
            found = sniff(f.read(SNIFF_BYTES))
    except OSError:
        return known
    if known:
        return found is not None
    return found not in (None, PENDING) and fits_its_name(path, found)


def _holds_log(folder: Path) -> bool:
    """Whether `folder` holds a run's log of its own: a Hugging Face `checkpoint-N/` holds its
    output dir's trainer_state.json (the run is the folder above it)."""
    if (folder / STREAM_NAME).is_file():
        return True
    found, pending = find_logs(folder)
    return bool(pending) or any(f.unit.resolve().is_relative_to(folder.resolve()) for f in found)


class RunScanner:
    """The runs of a folder (entries appear and go as it changes) or of the paths given,
    re-scanned cheaply: a log is read again only when its mtime or size changed, and an
    entry's log is looked for again only when the entry itself changed."""

    def __init__(self, folder: str | os.PathLike | None = None,
                 paths: Sequence[str | os.PathLike] = ()) -> None:
        self.folder = Path(folder) if folder is not None else None
        self.paths = [Path(p) for p in paths]
        # entry -> (the entry's mtime, its log), and log -> ((mtime, size), summary)
        self._logs: dict[Path, tuple[float, Path | None]] = {}
        self._summaries: dict[Path, tuple[tuple[float, int], RunSummary]] = {}
        # a sub-folder of the folder -> (its mtime, the runs it stands for)
        self._runs_in: dict[Path, tuple[float, list[Path]]] = {}

    def entries(self) -> list[Path]:
        """The runs: the paths given, or what each sub-folder of the folder stands for (itself,
        or the runs of an MLflow experiment or a lightning_logs/), looked for again only when
        the sub-folder changed."""
        if self.folder is None:
            return list(self.paths)
        out = []
        for entry in _entries(self.folder):
            try:
                mtime = entry.stat().st_mtime
            except OSError:  # a broken link: listed, and scan says why it cannot be read
                out.append(entry)
                continue
            known = self._runs_in.get(entry)
            if known is None or known[0] != mtime:
                known = (mtime, _runs_inside(entry) or [entry])
                self._runs_in[entry] = known
            out += known[1]
        return out

    def scan(self, now: float | None = None) -> list[RunSummary]:
        """A summary of every run, in the entries' order; the unchanged ones re-dated."""
        now = time.time() if now is None else now
        out = []
        for entry in self.entries():
            try:
                log = self._log_of(entry)
                if log is None:
                    continue
                out.append(self._summary(entry, log, now))
            except (RunwatchError, OSError, ValueError) as exc:
                # The reason names the run by its place in the list, not the whole path.
                words = f"{entry.name}: {exc.strerror}" if isinstance(exc, OSError) and \
                    exc.strerror else str(exc)
                reason = words.replace(f"{self._base(entry)}{os.sep}", "")
                out.append(RunSummary(self._name(entry), entry, "?", "unreadable", None, None,
                                      None, None, 0.0, reason, entry))
        return out

    def _log_of(self, entry: Path) -> Path | None:
        if not entry.is_dir():
            entry.stat()  # a path given that is gone: unreadable, with the reason
            return entry
        mtime = entry.stat().st_mtime
        stream = entry / STREAM_NAME
        problem = not_a_file(stream, stream.stat()) if stream.exists() else None
        if problem:  # a FIFO would block a reader: say so, do not leave the run out
            raise RunwatchError(problem)
        known = self._logs.get(entry)
        if known is not None and known[0] == mtime and (known[1] is None or known[1].exists()):
            return known[1]
        log = find_log(entry)
        self._logs[entry] = (mtime, log)
        return log

    def _summary(self, entry: Path, log: Path, now: float) -> RunSummary:
        info = log.stat()
        key = (info.st_mtime, info.st_size)
        known = self._summaries.get(log)
        if known is not None and known[0] == key:
            return redate(known[1], now)
        summary = summarise(self._name(entry), log, now, entry)
        self._summaries[log] = (key, summary)
        return summary

    def _base(self, entry: Path) -> Path:
        return self.folder if self.folder is not None else entry.parent

    def _name(self, entry: Path) -> str:
        """The run's name in the list, what tells it apart first (a narrow column cuts the
        end): its folder's name, or an MLflow run's run_name, then where it sits below the
        folder listed ('version_1 (lightning_logs)', 'run-two (5068...)')."""
        name = mlflow_run_name(entry) or entry.name or str(entry)
        if self.folder is None or not entry.is_relative_to(self.folder):
            return name
        below = entry.relative_to(self.folder).parent
        return name if below == Path(".") else f"{name} ({below})"


def redate(summary: RunSummary, now: float) -> RunSummary:
    """`summary` as of `now`: a run not written to for its stall time is stalled."""
    if summary.status not in ("running", "stalled"):
        return summary
    status = "running" if now - summary.updated <= summary.stall_s else "stalled"
    return summary if status == summary.status else replace(summary, status=status)


def run_records(summary: RunSummary) -> list[dict]:
    """Every record of the run but its steps (the list's forecast and the compare view need
    its epochs, plan and events): our stream read line by line with the step lines skipped
    unparsed, another log through its reader."""
    if summary.path.name != STREAM_NAME:
        return [r for r in read_source(summary.path)[0] if r.get("type") != "step"]
    records = []
    with open(summary.path, "rb") as f:
        for raw in f:
            record = _record(raw) if raw.endswith(b"\n") else None  # not one still written
            if record is not None:
                records.append(record)
    return records


def _record(raw: bytes) -> dict | None:
    """A stream line's record; None for a step, a blank, a partial or an invalid line."""
    if not raw.strip() or raw.startswith(_STEP):
        return None
    try:
        record = parse_line(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    return record if record is not None and record_problem(record) is None else None


def summarise(name: str, log: Path, now: float, entry: Path | None = None) -> RunSummary:
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
    stall_s = _stall_after(epochs)
    status = _status(end, last, planned, updated, now, stall_s)
    if log.name == "meta.yaml":  # an MLflow run says its status
        status = _MLFLOW.get(run_status(log.parent) or "", status)
    return RunSummary(name, log, kind, status, last["epoch"] if last else None, planned,
                      best_acc1, best_epoch, updated, entry=entry or log, stall_s=stall_s)


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
    return [r for r in map(_record, (head, *lines)) if r is not None]


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
            now: float, stall_s: float) -> str:
    if end is not None:
        return _ENDED.get(end.get("status"), "failed")
    if last is not None and planned and last["epoch"] >= planned:
        return "finished"
    return "running" if now - updated <= stall_s else "stalled"


def _stall_after(epochs: list[dict]) -> float:
    """Three epochs of this run (measured, else from record times), at least STALL_MIN_S."""
    measured = [r["epoch_time_s"] for r in epochs[-5:]
                if isinstance(r.get("epoch_time_s"), (int, float))
                and math.isfinite(r["epoch_time_s"])]
    times = [r["time"] for r in epochs[-6:] if isinstance(r.get("time"), (int, float))]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False) if b > a]
    per_epoch = statistics.median(measured or gaps) if measured or gaps else 0.0
    return max(STALL_MIN_S, 3 * per_epoch)
