"""Any run's log as metric-stream records, read once or followed live (torch-free, pandas-free).

The monitor (`runwatch watch PATH`), `runwatch forecast PATH` and `runwatch report PATH` read
through here. PATH is a run directory, our `metrics.jsonl`, or another trainer's log; the
format is detected by content, one module per format in `runwatch.stream.logs`:

- `open_source(path, metric=None) -> Source`: follow live. `Source.poll()` returns
  `(new records, reset)`; on `reset=True` drop what you kept and start again from the records
  returned. A path that does not exist yet, an empty file or a run directory without a log
  yet is waited for (`source.state.missing`), not an error.
- `read_source(path, metric=None) -> (records, Source)`: everything at once; a missing path,
  an empty file, an unrecognised format or an unknown `metric` is a RunwatchError.

Foreign logs start with a synthetic `run_start` record (`"synthetic": true`, `source`: kind,
path and note; `epochs` and `lr_schedule` when the log says them). Missing values are None,
logged non-finite values stay float nan/inf; `time` is None (see stream/logs/fields.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from runwatch.errors import RunwatchError
from runwatch.stream import FollowState
from runwatch.stream.logs import FORMATS, PENDING, Head, LogFormat, LogReader, ReadOptions, detect
from runwatch.stream.logs.fields import missing_metric
from runwatch.stream.reader import MAX_LINE_BYTES, not_a_file
from runwatch.stream.schema import STREAM_NAME

KINDS = {fmt.name: fmt.kind for fmt in FORMATS}
# Our stream first: a run directory holding it is ours, whatever else is there.
_OURS_FIRST = sorted(FORMATS, key=lambda fmt: STREAM_NAME not in fmt.file_names)
UNDERSTOOD = (", ".join(fmt.describes for fmt in _OURS_FIRST[:-1])
              + ", or " + _OURS_FIRST[-1].describes)
LOG_NAMES = tuple(dict.fromkeys(n for fmt in _OURS_FIRST for n in fmt.file_names))
SNIFF_BYTES = 64 << 10


def sniff(head: str | bytes) -> str | None:
    """The format of a log from its first bytes: a format's name, PENDING, or None."""
    found = detect(Head(head.encode() if isinstance(head, str) else head))
    return found.name if isinstance(found, LogFormat) else found


def _read_head(path: Path) -> Head:
    """The first SNIFF_BYTES of a regular file, or more up to its first newline (a stream's
    run_start line with a long plan), at most MAX_LINE_BYTES; RunwatchError for a directory,
    a FIFO or a device (a FIFO blocks a reader, /dev/zero never ends)."""
    problem = not_a_file(path, os.stat(path))
    if problem:
        raise RunwatchError(f"{problem}: give runwatch a log file or a run directory")
    with open(path, "rb") as f:
        data = f.read(SNIFF_BYTES)
        while b"\n" not in data and len(data) < MAX_LINE_BYTES:
            more = f.read(min(len(data), MAX_LINE_BYTES - len(data)))
            if not more:
                break
            data += more
    return Head(data)


@dataclass(frozen=True)
class Found:
    """A log found in a folder: its format, the file told by, and the log it is part of."""

    fmt: LogFormat
    path: Path
    unit: Path


LOOSE_SUFFIXES = (".jsonl", ".csv", ".txt", ".log")  # a log of any name, told by its content


def fits_its_name(path: Path, format_name: str) -> bool:
    """Whether a file read as `format_name` is that log: a *.log only as a CSV (Keras's
    CSVLogger writes training.log; a trainer's stdout with JSON-looking lines is no log)."""
    return path.suffix != ".log" or format_name == "csv"


def find_logs(run_dir: Path) -> tuple[list[Found], list[Path]]:
    """The recognised logs in a folder (by a known name, up to three folders down; else any
    recognised .jsonl/.csv/.txt beside it, or a CSV .log), and the known-named files too
    short to tell yet."""
    paths = {p for name in LOG_NAMES for depth in ("", "*/", "*/*/", "*/*/*/")
             for p in run_dir.glob(depth + name) if p.is_file()}
    if not paths:
        paths = {p for p in run_dir.iterdir() if p.is_file() and p.suffix in LOOSE_SUFFIXES}
    found, pending = [], []
    for path in sorted(paths):
        try:
            fmt = detect(_read_head(path))
        except (OSError, RunwatchError):
            continue
        if isinstance(fmt, LogFormat) and fits_its_name(path, fmt.name):
            found.append(Found(fmt, path, fmt.unit(path)))
        elif fmt == PENDING and path.name in LOG_NAMES:
            pending.append(path)
    return found, pending


def find_log(run_dir: Path, choice: str | None = None) -> Path | None:
    """The log to read in a run directory: our stream beside it wins; else the one format
    found (the newest of several of it, e.g. Lightning's version_N); `choice` (--source) names
    a format or a path inside. Several formats: RunwatchError listing them."""
    if choice is None and (run_dir / STREAM_NAME).is_file():
        return run_dir / STREAM_NAME
    found, pending = find_logs(run_dir)
    if choice is not None:
        found = [f for f in found if choice in (f.fmt.name, str(f.path.relative_to(run_dir)),
                                                str(f.unit.relative_to(run_dir)))]
        if not found:
            raise RunwatchError(f"--source {choice}: no such log in {run_dir}: "
                                f"{_listing(find_logs(run_dir)[0], run_dir) or 'none found'}")
    if not found:
        return max(pending, key=_mtime) if pending and choice is None else None
    if len({f.fmt.name for f in found}) > 1:
        raise RunwatchError(f"{run_dir} holds several logs ({_listing(found, run_dir)}): "
                            "pick one with --source NAME, or give its path")
    return max((f.path for f in found), key=_mtime)


def _listing(found: list[Found], run_dir: Path) -> str:
    units = sorted({(f.fmt.name, f.unit) for f in found})
    return ", ".join(f"{name}: {unit.relative_to(run_dir) if unit != run_dir else '.'}"
                     for name, unit in units)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


class Source:
    """One run's log, followed: `poll()` -> (new records, reset).

    `kind` names the format ("DeiT log.txt" ...), `note` says which fields were picked and
    why, `state` counts records, bad lines and resets and says whether the file is missing,
    `path` is the file read (None until found), `modified` its last mtime seen.
    """

    def __init__(self, path: str | os.PathLike, metric: str | None = None,
                 live: bool = True, lr_tag: str | None = None,
                 choice: str | None = None) -> None:
        self.requested = Path(path)
        self.metric = metric
        self.choice = choice
        self.options = ReadOptions(metric=metric, lr_tag=lr_tag, live=live)
        self.state = FollowState(missing=True)
        self.modified: float | None = None
        self._waiting = f"waiting for {self.requested}"
        self._reader: LogReader | None = None

    @property
    def path(self) -> Path | None:
        """The file read (None until found)."""
        return self._reader.path if self._reader is not None else None

    @property
    def kind(self) -> str:
        return self._reader.kind if self._reader is not None else "waiting"

    @property
    def note(self) -> str:
        return self._reader.note if self._reader is not None else self._waiting

    def poll(self) -> tuple[list[dict], bool]:
        """New records since the last call, and whether the caller must start over."""
        if self._reader is None and not self.detect():
            return [], False
        records, reset = self._reader.poll()
        try:
            self.modified = self.path.stat().st_mtime
        except FileNotFoundError:
            self.state.missing = True
        return records, reset

    def caught_up(self) -> bool:
        """Everything written so far has been returned (a partial last line may be pending)."""
        return self._reader is not None and self._reader.caught_up()

    def detect(self) -> bool:
        """Find the file and its format now; False while there is nothing to tell from yet.

        Raises RunwatchError when the file's content is no format runwatch reads.
        """
        target = self.requested
        if target.is_dir():
            found = find_log(target, self.choice)
            if found is None:
                self._waiting = f"waiting for a log in {target} ({', '.join(LOG_NAMES)})"
                return False
            target = found
        try:
            head = _read_head(target)
            fmt = detect(head)
        except (FileNotFoundError, NotADirectoryError):
            return False
        except PermissionError as exc:
            raise RunwatchError(
                f"cannot read {target}: {exc.strerror}; fix its permissions") from exc
        if fmt == PENDING and len(head.data) >= MAX_LINE_BYTES:
            raise RunwatchError(f"{target}: no line ends in its first {MAX_LINE_BYTES >> 20} MiB; "
                                f"runwatch reads {UNDERSTOOD}")
        if fmt == PENDING:
            self.state.missing = False
            self._waiting = f"waiting for the first complete line of {target}"
            return False
        if fmt is None:
            raise RunwatchError(f"{target}: format not recognised; runwatch reads {UNDERSTOOD}")
        self._reader = fmt.open(target, self.options, self.state)
        return True


def open_source(path: str | os.PathLike, metric: str | None = None, *,
                lr_tag: str | None = None, choice: str | None = None) -> Source:
    """A live Source on PATH; raises RunwatchError only for content it cannot read.

    `metric` (--metric) names the accuracy field, column or tag; `lr_tag` (--lr-tag) the LR
    tag of a log of scalars; `choice` (--source) which log of a folder holding several.
    """
    source = Source(path, metric, lr_tag=lr_tag, choice=choice)
    source.detect()  # a wrong file fails now, not on the first poll
    return source


def read_source(path: str | os.PathLike, metric: str | None = None, *,
                lr_tag: str | None = None,
                choice: str | None = None) -> tuple[list[dict], Source]:
    """Every complete record of PATH, and the Source that read them (kind, note, counts)."""
    p = Path(path)
    if not p.exists():
        raise RunwatchError(f"{p} does not exist: check the path (runwatch watch waits for it)")
    file = find_log(p, choice) if p.is_dir() else p
    if file is None:
        raise RunwatchError(f"{p} holds no log runwatch reads: expected {UNDERSTOOD}")
    problem = not_a_file(file, file.stat())
    if problem:
        raise RunwatchError(f"{problem}: give runwatch a log file or a run directory")
    if file.stat().st_size == 0:
        raise RunwatchError(f"{file} is empty: wait for the first epoch, or pick another file")
    source = Source(p, metric, live=False, lr_tag=lr_tag, choice=choice)
    if not source.detect():
        raise RunwatchError(f"{file} has no complete line yet: wait for the first epoch")
    records: list[dict] = []
    while True:
        batch, reset = source.poll()
        if reset:
            records.clear()
        records.extend(batch)
        if source.caught_up():
            break
    if metric and source.kind == KINDS["stream"]:
        _check_stream_metric(records, metric)
    return records, source


def _check_stream_metric(records: list[dict], metric: str) -> None:
    epochs = [r for r in records if r.get("type") == "epoch"]
    if epochs and not any(r.get(metric) is not None for r in epochs):
        fields = {k for r in epochs for k, v in r.items() if isinstance(v, (int, float))}
        raise missing_metric(metric, fields - {"time", "epoch"})
