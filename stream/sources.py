"""Any run's log as metric-stream records, read once or followed live (torch-free, pandas-free).

The monitor (`runwatch watch PATH`), `runwatch forecast PATH` and `runwatch report PATH` read
through here. PATH is a run directory, our `metrics.jsonl`, or another trainer's log; the
format is detected by content (stream/foreign_logs.py says what each format's fields mean):

- `open_source(path, metric=None) -> Source`: follow live. `Source.poll()` returns
  `(new records, reset)`; on `reset=True` drop what you kept and start again from the records
  returned. A path that does not exist yet, an empty file or a run directory without a log
  yet is waited for (`source.state.missing`), not an error.
- `read_source(path, metric=None) -> (records, Source)`: everything at once; a missing path,
  an empty file, an unrecognised format or an unknown `metric` is a RunwatchError.

Append-only logs (our stream, DeiT `log.txt`, Torch7 `json_stats`, timm `summary.csv`) are
read from the last offset by `trainer.stream.StreamFollower`. CSVs that may be rewritten whole
(Lightning `metrics.csv` rewrites itself when a key appears; other scripts rewrite their CSV
every epoch) are re-parsed only when the file's size, mtime or inode changed, and only the
new records are returned, or `reset=True` with all of them when earlier ones changed.

Foreign logs start with a synthetic `run_start` record (`"synthetic": true`, `source`: kind,
path and note; `epochs` and `lr_schedule` when the log says them). Missing values are None,
logged non-finite values stay float nan/inf; `time` is None (see foreign_logs).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from runwatch.errors import RunwatchError
from runwatch.stream import STREAM_NAME, FollowState, StreamFollower, csv_logs
from runwatch.stream import foreign_logs as fl

KINDS = {
    "stream": "runwatch stream",
    "deit": "DeiT log.txt",
    "json_stats": "Torch7 json_stats log",
    "timm": "timm summary.csv",
    "lightning": "Lightning metrics.csv",
    "csv": "CSV",
}
UNDERSTOOD = ("runwatch metrics.jsonl, a DeiT/RepViT/CF-ViT log.txt, a Torch7 json_stats log, "
              "a timm summary.csv, a Lightning CSVLogger metrics.csv, or a CSV with an epoch "
              "column and an accuracy column")
LOG_NAMES = (STREAM_NAME, "log.txt", "summary.csv", "metrics.csv")
PENDING = "pending"  # sniff(): not enough content yet to tell
SNIFF_BYTES = 64 << 10
_TORCH7_OPTION = re.compile(r"^\s+\w+ : ")


def sniff(head: str) -> str | None:
    """The format of a log from its first bytes: a KINDS key, PENDING, or None (unknown)."""
    lines = head.split("\n")[:-1]  # the last piece may be a line still being written
    if any(line.startswith(fl.JSON_STATS_PREFIX) for line in lines):
        return "json_stats"
    text = [line.strip() for line in lines if line.strip()]
    if not text:
        return PENDING
    first = text[0]
    if first == "{":
        return "json_stats" if len(text) > 1 and _TORCH7_OPTION.match(lines[1]) else None
    if first.startswith("{"):
        return _sniff_json_lines(text[:20])
    if "," in first:
        return _sniff_csv_header(first)
    return None


def _sniff_json_lines(lines: list[str]) -> str | None:
    for line in lines:  # a garbage line or two may come first
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict) and isinstance(obj.get("type"), str):
            return "stream"
        if isinstance(obj, dict) and "epoch" in obj:
            return "deit"
    return None


def _sniff_csv_header(line: str) -> str | None:
    header = [c.strip() for c in line.split(",")]
    if header[0] == "epoch" and any(c.startswith("eval_") for c in header):
        return "timm"
    if "epoch" in header and "step" in header:
        return "lightning"
    if csv_logs.pick_columns(header, None) is not None:
        return "csv"
    return None


def _read_head(path: Path) -> str:
    with open(path, "rb") as f:
        return f.read(SNIFF_BYTES).decode("utf-8", "replace")


def find_log(run_dir: Path) -> Path | None:
    """The log to read in a run directory: a known name first, nested ones (Lightning's
    `lightning_logs/version_N/metrics.csv`) next, newest first; else any recognised file."""
    for name in LOG_NAMES:
        if (run_dir / name).is_file():
            return run_dir / name
    nested = [p for name in LOG_NAMES for depth in ("*", "*/*")
              for p in run_dir.glob(f"{depth}/{name}") if p.is_file()]
    if nested:
        return max(nested, key=lambda p: p.stat().st_mtime)
    others = [p for p in run_dir.iterdir() if p.is_file()
              and p.suffix in (".jsonl", ".csv", ".txt")  # not *.log: a trainer's stdout
              and sniff(_read_head(p)) not in (None, PENDING)]
    return max(others, key=lambda p: p.stat().st_mtime) if others else None


def synthetic_run_start(kind: str, path: Path, note: str, info: dict) -> dict:
    """The `run_start` a foreign log lacks: what was read, how, and any plan it states."""
    return {"type": "run_start", "time": None, "synthetic": True, "run_id": path.parent.name,
            "source": {"kind": kind, "path": str(path), "note": note},
            "config": info.get("config", {}), "epochs": info.get("epochs"),
            "lr_schedule": info.get("lr_schedule"), "target_acc1": None}


@dataclass
class _LineReader:
    """An append-only log, from the last offset; a synthetic run_start before its first line."""

    follower: StreamFollower
    synthetic: bool
    started: bool = False

    def poll(self, source: Source) -> tuple[list[dict], bool]:
        records, reset = self.follower.poll()
        if reset:
            self.started = False
        if self.synthetic and records and not self.started:
            source.note = self.follower.parse.note
            info = getattr(self.follower.parse, "run_info", dict)()
            records.insert(0, synthetic_run_start(source.kind, source.path, source.note, info))
            self.started = True
        if source.metric not in (None, "test_acc1") and not self.synthetic:
            records = [_with_metric(r, source.metric) for r in records]
        return records, reset

    def caught_up(self) -> bool:
        return self.follower.caught_up()


def _with_metric(record: dict, metric: str) -> dict:
    if record.get("type") != "epoch":
        return record
    return {**record, "test_acc1": record.get(metric)}


@dataclass
class _TableReader:
    """A CSV that may be rewritten whole, re-read only when its size, mtime or inode changed.

    When the bytes read before are unchanged (a hash of them is kept) only the rows after
    them are parsed; otherwise the file is parsed again from the start. Only records not
    returned before are returned, or all of them with reset=True when earlier ones changed.
    """

    make: Callable[[list[str], str | None], csv_logs.CsvTable | csv_logs.LightningTable]
    settled_only: bool = True
    emitted: list[dict] = field(default_factory=list)
    seen: tuple | None = None
    table: csv_logs.CsvTable | csv_logs.LightningTable | None = None
    offset: int = 0
    prefix: hashlib.blake2b = field(default_factory=hashlib.blake2b)  # of bytes[:offset]
    bad_rows: int = 0

    def poll(self, source: Source) -> tuple[list[dict], bool]:
        try:
            st = os.stat(source.path)
            key = (st.st_ino, st.st_size, st.st_mtime_ns)
            if key == self.seen:
                return [], False
            with open(source.path, "rb") as f:
                data = self._read_new(f, st.st_size)
        except FileNotFoundError:
            source.state.missing = True
            return [], False
        source.state.missing = False
        self.seen = key
        cut = data.rfind(b"\n") + 1  # a last line still being written waits
        self.offset += cut
        self.prefix.update(data[:cut])
        lines = data[:cut].decode("utf-8", "replace").splitlines()
        if self.table is None and lines:
            self.table = self.make(csv_logs.parse_header(lines.pop(0)), source.metric)
            source.kind = self.table.kind
        if self.table is None:
            return self._update(source, [])
        rows, bad = csv_logs.parse_csv_lines(self.table.header, lines)
        self.bad_rows += bad
        self.table.add(rows)
        table = self.table.table(self.settled_only)
        source.note = table.note
        source.state.bad_lines = self.bad_rows + table.bad_rows
        return self._update(source, table.records)

    def _read_new(self, f: BinaryIO, size: int) -> bytes:
        """The bytes after those read before, or the whole file when those changed."""
        appended = (self.table is not None and size >= self.offset
                    and hashlib.blake2b(f.read(self.offset)).digest() == self.prefix.digest())
        if not appended:
            self.table, self.offset, self.prefix, self.bad_rows = None, 0, hashlib.blake2b(), 0
        f.seek(self.offset)
        return f.read()

    def _update(self, source: Source, records: list[dict]) -> tuple[list[dict], bool]:
        """The records not returned before, or all of them and reset=True when earlier ones
        changed; a synthetic run_start leads the first non-empty batch after a (re)start."""
        n = len(self.emitted)
        # List equality checks identity first: unchanged step records cost next to nothing.
        same = len(records) >= n and (records[:n] == self.emitted or all(
            map(_same_record, records[:n], self.emitted)))
        self.emitted = records
        source.state.records = len(records)
        new = records[n:] if same else records
        if not same:
            source.state.resets += 1
        if new and (n == 0 or not same):
            new = [synthetic_run_start(source.kind, source.path, source.note, {}), *new]
        return new, not same

    def caught_up(self) -> bool:
        return True


def _same_record(a: dict, b: dict) -> bool:
    # nan != nan: records that differ only there compare equal as JSON text.
    return a == b or json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


class Source:
    """One run's log, followed: `poll()` -> (new records, reset).

    `kind` names the format ("DeiT log.txt" ...), `note` says which fields were picked and
    why, `state` counts records, bad lines and resets and says whether the file is missing,
    `path` is the file read (None until found), `modified` its last mtime seen.
    """

    def __init__(self, path: str | os.PathLike, metric: str | None = None,
                 live: bool = True) -> None:
        self.requested = Path(path)
        self.metric = metric
        self.live = live
        self.path: Path | None = None
        self.kind = "waiting"
        self.note = f"waiting for {self.requested}"
        self.state = FollowState(missing=True)
        self.modified: float | None = None
        self._reader: _LineReader | _TableReader | None = None

    def poll(self) -> tuple[list[dict], bool]:
        """New records since the last call, and whether the caller must start over."""
        if self._reader is None and not self.detect():
            return [], False
        records, reset = self._reader.poll(self)
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
            found = find_log(target)
            if found is None:
                self.note = f"waiting for a log in {target} ({', '.join(LOG_NAMES)})"
                return False
            target = found
        try:
            fmt = sniff(_read_head(target))
        except (FileNotFoundError, IsADirectoryError):
            return False
        except PermissionError as exc:
            raise RunwatchError(
                f"cannot read {target}: {exc.strerror}; fix its permissions") from exc
        if fmt == PENDING:
            self.state.missing = False
            self.note = f"waiting for the first complete line of {target}"
            return False
        if fmt is None:
            raise RunwatchError(f"{target}: format not recognised; runwatch reads {UNDERSTOOD}")
        self.path, self.kind = target, KINDS[fmt]
        self.note = ""
        self._reader = self._make_reader(fmt)
        return True

    def _make_reader(self, fmt: str) -> _LineReader | _TableReader:
        if fmt in ("lightning", "csv"):
            make = csv_logs.LightningTable if fmt == "lightning" else csv_logs.CsvTable
            return _TableReader(make, settled_only=self.live)
        parsers = {"deit": fl.DeitLines, "json_stats": fl.JsonStatsLines, "timm": fl.TimmLines}
        if fmt == "stream":
            return _LineReader(StreamFollower(self.path, state=self.state), synthetic=False)
        parser = parsers[fmt](metric=self.metric)
        self.note = parser.note  # DeiT's is known from the first record only
        return _LineReader(StreamFollower(self.path, state=self.state, parse=parser),
                           synthetic=True)


def open_source(path: str | os.PathLike, metric: str | None = None) -> Source:
    """A live Source on PATH; raises RunwatchError only for content it cannot read."""
    source = Source(path, metric)
    source.detect()  # a wrong file fails now, not on the first poll
    return source


def read_source(path: str | os.PathLike, metric: str | None = None) -> tuple[list[dict], Source]:
    """Every complete record of PATH, and the Source that read them (kind, note, counts)."""
    p = Path(path)
    if not p.exists():
        raise RunwatchError(f"{p} does not exist: check the path (runwatch watch waits for it)")
    if p.is_dir() and find_log(p) is None:
        raise RunwatchError(f"{p} holds no log runwatch reads: expected {UNDERSTOOD}")
    file = find_log(p) if p.is_dir() else p
    if file.stat().st_size == 0:
        raise RunwatchError(f"{file} is empty: wait for the first epoch, or pick another file")
    source = Source(p, metric, live=False)
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
        raise fl.missing_metric(metric, fields - {"time", "epoch"})
