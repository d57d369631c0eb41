"""The metric stream: schema, writer and reader (torch-free; every part reads through here).

The stream is `RUN_DIR/metrics.jsonl`, one JSON object a line (see docs/metric-stream.md).
Non-finite floats are written as the `NaN` / `Infinity` tokens Python's json module reads.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

SCHEMA_VERSION = 1
STREAM_NAME = "metrics.jsonl"
RECORD_TYPES = ("run_start", "resume", "epoch", "step", "checkpoint", "event", "run_end")
END_STATUSES = ("completed", "interrupted", "diverged", "early_stopped", "failed")


def stream_path(run_dir_or_file: str | os.PathLike) -> Path:
    """The stream file of a run directory, or the path itself when it names a file."""
    p = Path(run_dir_or_file)
    return p / STREAM_NAME if p.is_dir() else p


class StreamWriter:
    """Appends records to a stream, one line each, flushed as written (rank 0 only)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - lives as long as the run

    def write(self, record_type: str, **fields: object) -> dict:
        if record_type not in RECORD_TYPES:
            raise ValueError(f"unknown record type {record_type!r}")
        record = {"type": record_type, "time": fields.pop("time", None) or time.time(), **fields}
        self._file.write(json.dumps(record, separators=(",", ":")) + "\n")
        self._file.flush()
        return record

    def event(self, kind: str, **fields: object) -> dict:
        return self.write("event", kind=kind, **fields)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> StreamWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def parse_line(line: str) -> dict | None:
    """One record from one line, or None when the line is blank."""
    text = line.strip()
    if not text:
        return None
    record = json.loads(text)
    if not isinstance(record, dict) or not isinstance(record.get("type"), str):
        raise ValueError("not a stream record (no 'type')")
    return record


@dataclass
class FollowState:
    """What a follower has seen so far: counts the UI shows, and why it restarted."""

    records: int = 0
    bad_lines: int = 0
    resets: int = 0
    missing: bool = False
    last_bad: str = ""


@dataclass
class StreamFollower:
    """Reads new complete records from a growing stream, from the last offset.

    Tolerates a partial last line (kept until its newline arrives), blank and garbage lines
    (counted in `state.bad_lines`), a file that does not exist yet (`state.missing`), and a file
    truncated or replaced underneath it (starts over: `state.resets` counts; callers that keep
    records should clear them when `poll` reports `reset=True`).

    `parse` turns one line into a record, None for a line to skip, or raises ValueError for a
    bad line; other line-per-record logs (trainer/sources.py) pass their own.
    """

    path: Path
    state: FollowState = field(default_factory=FollowState)
    parse: Callable[[str], dict | None] = parse_line
    _offset: int = 0
    _inode: int | None = None
    _partial: bytes = b""

    def poll(self, max_bytes: int = 64 << 20) -> tuple[list[dict], bool]:
        """(new records, reset) since the last call; reads at most `max_bytes` per call."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self.state.missing = True
            return [], False
        self.state.missing = False
        reset = False
        if self._inode is not None and (st.st_ino != self._inode or st.st_size < self._offset):
            self._offset, self._partial, reset = 0, b"", True
            self.state.resets += 1
            self.state.records = 0
        self._inode = st.st_ino
        if st.st_size == self._offset:
            return [], reset
        with open(self.path, "rb") as f:
            f.seek(self._offset)
            chunk = f.read(max_bytes)
        self._offset += len(chunk)
        data = self._partial + chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            self._partial = data
            return [], reset
        self._partial = data[cut + 1:]
        return self._parse_lines(data[:cut]), reset

    def caught_up(self) -> bool:
        """True when every byte of the file has been read (a partial line may be pending)."""
        return self.state.missing or self._offset >= _size(self.path)

    def _parse_lines(self, data: bytes) -> list[dict]:
        out = []
        for raw in data.split(b"\n"):
            try:
                record = self.parse(raw.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                self.state.bad_lines += 1
                self.state.last_bad = raw[:80].decode("utf-8", "replace")
                continue
            if record is not None:
                out.append(record)
        self.state.records += len(out)
        return out


def read_stream(path: str | os.PathLike) -> tuple[list[dict], FollowState]:
    """All complete records of a stream (a partial last line is left out) and the counts."""
    follower = StreamFollower(stream_path(path))
    records: list[dict] = []
    while True:
        batch, _ = follower.poll()
        records.extend(batch)
        if follower.caught_up():
            return records, follower.state


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


@dataclass
class Branches:
    """Epoch records split into the live branch and the abandoned ones.

    A `resume` (field `after_epoch`) or a `rewind` event (field `to_epoch`) makes every epoch
    recorded earlier with a higher number an abandoned branch: still in the file, never mixed
    into the live curve.
    """

    live: list[dict]
    abandoned: list[dict]


def branch_point(record: dict) -> int | None:
    """The epoch a resume or rewind record continues after, else None."""
    if record.get("type") == "resume":
        return int(record.get("after_epoch", 0))
    if record.get("type") == "event" and record.get("kind") == "rewind":
        return int(record.get("to_epoch", 0))
    return None


def split_branches(records: list[dict]) -> Branches:
    live: dict[int, dict] = {}
    abandoned: list[dict] = []
    for record in records:
        point = branch_point(record)
        if point is not None:
            for epoch in sorted(e for e in live if e > point):
                abandoned.append(live.pop(epoch))
        elif record.get("type") == "epoch" and isinstance(record.get("epoch"), int):
            previous = live.get(record["epoch"])
            if previous is not None:
                abandoned.append(previous)
            live[record["epoch"]] = record
    return Branches(live=[live[e] for e in sorted(live)], abandoned=abandoned)


def latest_plan(records: list[dict]) -> list[float] | None:
    """The planned per-epoch LRs of the newest run_start/resume record that has one."""
    for record in reversed(records):
        if record.get("type") in ("run_start", "resume") and record.get("lr_schedule"):
            return [float(x) for x in record["lr_schedule"]]
    return None
