"""Reading a metric stream: whole, or followed live from the last offset.

Every record is checked at this boundary (`runwatch.stream.schema.record_problem`): a line
that is not JSON, nests too deep, is longer than `MAX_LINE_BYTES` or holds a record readers
cannot use is skipped and counted (`FollowState.bad_lines`, `last_reason`), never raised. A
path that is not a regular file (a directory, a FIFO, a device) is not opened: reading a FIFO
blocks and `/dev/zero` never ends; `FollowState.problem` says so until a file is back.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from runwatch.stream.schema import record_problem, stream_path

MAX_LINE_BYTES = 8 << 20  # a 100,000-epoch plan is ~2.4 MB; longer lines are skipped
CHUNK_BYTES = 16 << 20  # read per poll: bounded memory on any file


def loads(text: str) -> object:
    """json.loads, with nesting too deep for the parser a ValueError like any bad JSON."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("JSON nested too deep") from None


def parse_line(line: str) -> dict | None:
    """One record from one line, or None when the line is blank; ValueError for a bad line."""
    text = line.strip()
    if not text:
        return None
    record = loads(text)
    if not isinstance(record, dict) or not isinstance(record.get("type"), str):
        raise ValueError("not a stream record (no 'type')")
    return record


def not_a_file(path: Path, st: os.stat_result) -> str | None:
    """Why `path` cannot be read as a log (a directory, a FIFO, a device), or None."""
    if stat.S_ISREG(st.st_mode):
        return None
    what = ("a directory" if stat.S_ISDIR(st.st_mode) else "a FIFO" if stat.S_ISFIFO(st.st_mode)
            else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
            else "not a regular file")
    return f"{path} is {what}, not a log file"


@dataclass
class FollowState:
    """What a follower has seen so far: counts the UI shows, and why it skipped or waits.

    `bad_lines` counts skipped lines and records, `last_bad` is the start of the last one and
    `last_reason` why it was skipped; `problem` says why the file cannot be read now (it is
    a directory, a FIFO ...), "" when it can.
    """

    records: int = 0
    bad_lines: int = 0
    resets: int = 0
    missing: bool = False
    last_bad: str = ""
    last_reason: str = ""
    problem: str = ""

    def skipped(self, raw: bytes | str, reason: str) -> None:
        self.bad_lines += 1
        text = raw[:80].decode("utf-8", "replace") if isinstance(raw, bytes) else raw[:80]
        self.last_bad, self.last_reason = text, reason


def stat_log(path: Path, state: FollowState) -> os.stat_result | None:
    """The stat of a log file that can be read now, else None with `state` saying why
    (`missing`; `problem` when the path is a directory, a FIFO or a device)."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        state.missing, state.problem = True, ""
        return None
    state.problem = not_a_file(path, st) or ""
    state.missing = bool(state.problem)
    return None if state.problem else st


@dataclass
class StreamFollower:
    """Reads new complete records from a growing stream, from the last offset.

    Tolerates a partial last line (kept until its newline arrives, up to MAX_LINE_BYTES),
    blank and garbage lines (counted in `state.bad_lines`), a file that does not exist yet
    (`state.missing`), and a file truncated or replaced underneath it (starts over:
    `state.resets` counts; callers that keep records should clear them when `poll` reports
    `reset=True`).

    `parse` turns one line into a record, None for a line to skip, or raises ValueError for a
    bad line; other line-per-record logs (stream/logs) pass their own. Whatever it returns is
    checked against the schema before it is passed on.
    """

    path: Path
    state: FollowState = field(default_factory=FollowState)
    parse: Callable[[str], dict | None] = parse_line
    _offset: int = 0
    _inode: int | None = None
    _partial: bytes = b""
    _skipping: bool = False  # inside a line longer than MAX_LINE_BYTES, until its newline

    def poll(self, max_bytes: int = CHUNK_BYTES) -> tuple[list[dict], bool]:
        """(new records, reset) since the last call; reads at most `max_bytes` per call."""
        st = stat_log(self.path, self.state)
        if st is None:
            return [], False
        reset = False
        if self._inode is not None and (st.st_ino != self._inode or st.st_size < self._offset):
            self._offset, self._partial, self._skipping, reset = 0, b"", False, True
            self.state.resets += 1
            self.state.records = 0
        self._inode = st.st_ino
        if st.st_size == self._offset:
            return [], reset
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                # read(n) allocates n bytes up front: ask only for what the file holds.
                chunk = f.read(max(0, min(max_bytes, st.st_size - self._offset)))
        except (FileNotFoundError, IsADirectoryError):  # replaced between stat and open
            return [], reset
        self._offset += len(chunk)
        return self._lines(self._partial + chunk), reset

    def _lines(self, data: bytes) -> list[dict]:
        """Records of the complete lines in `data`; the rest waits in `_partial`."""
        if self._skipping:
            end = data.find(b"\n")
            if end < 0:
                return []
            data, self._skipping = data[end + 1:], False
        cut = data.rfind(b"\n")
        if cut < 0:
            self._partial = self._cap(data)
            return []
        self._partial = self._cap(data[cut + 1:])
        return self._parse_lines(data[:cut])

    def _cap(self, partial: bytes) -> bytes:
        """A partial line, or nothing (and skip to its end) once it passes MAX_LINE_BYTES."""
        if len(partial) <= MAX_LINE_BYTES:
            return partial
        self.state.skipped(partial, _too_long())
        self._skipping = True
        return b""

    def caught_up(self) -> bool:
        """True when every byte of the file has been read (a partial line may be pending)."""
        return self.state.missing or self._offset >= _size(self.path)

    def _parse_lines(self, data: bytes) -> list[dict]:
        out = []
        for raw in data.split(b"\n"):
            if len(raw) > MAX_LINE_BYTES:
                self.state.skipped(raw, _too_long())
                continue
            try:
                record = self.parse(raw.decode("utf-8"))
            except (ValueError, UnicodeDecodeError, ArithmeticError, RecursionError) as exc:
                self.state.skipped(raw, _reason(exc))
                continue
            if record is None:
                continue
            problem = record_problem(record)
            if problem is not None:
                self.state.skipped(raw, problem)
                continue
            out.append(record)
        self.state.records += len(out)
        return out


def _too_long() -> str:
    return f"a line longer than {MAX_LINE_BYTES >> 20} MiB"


def _reason(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8"
    if isinstance(exc, json.JSONDecodeError):
        return "not JSON"
    if isinstance(exc, RecursionError):
        return "nested too deep"
    return str(exc)[:80] or type(exc).__name__


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
    except (FileNotFoundError, NotADirectoryError):
        return 0
