"""Reading a metric stream: whole, or followed live from the last offset."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from runwatch.stream.schema import stream_path


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
    bad line; other line-per-record logs (stream/sources.py) pass their own.
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
