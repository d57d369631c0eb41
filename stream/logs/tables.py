"""CSVs that may be rewritten whole, followed: rows parsed only when appended, the whole file
again when the bytes read before changed (torch-free, pandas-free).

A format module gives `TableLog` a table class (`add(rows)` as rows arrive, `table(settled_only)`
renders the records so far as a `Table`); the file is re-read only when its size, mtime or inode
changed. Lightning's `metrics.csv` rewrites itself whole when a key appears; other scripts
rewrite their CSV every epoch.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from runwatch.stream.logs.base import Head
from runwatch.stream.logs.follow import Snapshot
from runwatch.stream.reader import CHUNK_BYTES, MAX_LINE_BYTES, FollowState, stat_log


def parse_header(line: str) -> list[str]:
    return [c.strip() for c in next(csv.reader([line]))]


def csv_header(head: Head) -> list[str] | None:
    """The header of a CSV: the first non-blank line, when it has a comma and is no JSON."""
    if not head.text or "," not in head.text[0] or head.text[0].startswith("{"):
        return None
    return parse_header(head.text[0])


def parse_csv_lines(header: list[str], lines: list[str]) -> tuple[list[dict[str, str]], int]:
    """Rows of complete CSV lines under `header`, and how many had the wrong number of cells."""
    cells_of_rows = [cells for cells in csv.reader(lines) if any(cells)]
    rows = [dict(zip(header, cells, strict=True)) for cells in cells_of_rows
            if len(cells) == len(header)]
    return rows, len(cells_of_rows) - len(rows)


def read_csv_text(text: str) -> tuple[list[str], list[dict[str, str]], int]:
    """Header, rows and the number of malformed rows of a CSV, leaving out a last line still
    being written."""
    lines = text[: text.rfind("\n") + 1].splitlines()
    if not lines:
        return [], [], 0
    header = parse_header(lines[0])
    return (header, *parse_csv_lines(header, lines[1:]))


@dataclass
class Table:
    """Records read from a CSV so far, with what was chosen and how many rows were bad."""

    records: list[dict]
    note: str
    bad_rows: int = 0


class RowTable(Protocol):
    kind: str
    header: list[str]

    def add(self, rows: list[dict[str, str]]) -> None: ...

    def table(self, settled_only: bool = False) -> Table: ...


class TableLog:
    """A CSV that may be rewritten whole, re-read only when its size, mtime or inode changed.

    When the bytes read before are unchanged (a hash of them is kept) only the rows after
    them are parsed; otherwise the file is parsed again from the start. Only records not
    returned before are returned, or all of them with reset=True when earlier ones changed.
    """

    def __init__(self, path: Path, state: FollowState, kind: str,
                 make: Callable[[list[str], str | None], RowTable], metric: str | None,
                 settled_only: bool = True) -> None:
        self.path, self.state, self.kind, self.note = path, state, kind, ""
        self.make, self.metric, self.settled_only = make, metric, settled_only
        self.snapshot = Snapshot(state)
        self.seen: tuple | None = None
        self.table: RowTable | None = None
        self.offset = 0
        self.prefix = hashlib.blake2b()  # of bytes[:offset]
        self.bad_rows = 0

    def poll(self) -> tuple[list[dict], bool]:
        st = stat_log(self.path, self.state)
        key = st and (st.st_ino, st.st_size, st.st_mtime_ns)
        if st is None or key == self.seen:
            return [], False
        try:
            with open(self.path, "rb") as f:
                data = self._read_new(f, st.st_size)
        except (FileNotFoundError, IsADirectoryError):  # replaced between stat and open
            return [], False
        cut = data.rfind(b"\n") + 1  # a last line still being written waits
        if cut == 0 and len(data) > MAX_LINE_BYTES:
            self.state.problem = (f"{self.path}: a line longer than {MAX_LINE_BYTES >> 20} MiB "
                                  f"at byte {self.offset}; the rest is not read")
            self.seen = key
            return [], False
        self.seen = key if self.offset + len(data) >= st.st_size else None  # more to read
        self.offset += cut
        self.prefix.update(data[:cut])
        lines = data[:cut].decode("utf-8", "replace").splitlines()
        if self.table is None and lines:
            self.table = self.make(parse_header(lines.pop(0)), self.metric)
            self.kind = self.table.kind
        if self.table is None:
            return self._update([])
        rows, bad = parse_csv_lines(self.table.header, lines)
        self.bad_rows += bad
        self.table.add(rows)
        table = self.table.table(self.settled_only)
        self.note = table.note
        new, reset = self._update(table.records)
        self.state.bad_lines = self.bad_rows + table.bad_rows + self.snapshot.invalid
        return new, reset

    def _read_new(self, f: BinaryIO, size: int) -> bytes:
        """The bytes after those read before (at most CHUNK_BYTES), or the file from its start
        when those changed."""
        appended = (self.table is not None and size >= self.offset
                    and _digest(f, self.offset) == self.prefix.digest())
        if not appended:
            self.table, self.offset, self.prefix, self.bad_rows = None, 0, hashlib.blake2b(), 0
        f.seek(self.offset)
        return f.read(max(0, min(CHUNK_BYTES, size - self.offset)))  # read(n) allocates n

    def _update(self, records: list[dict]) -> tuple[list[dict], bool]:
        return self.snapshot.update(records, self.kind, self.path, self.note)

    def caught_up(self) -> bool:
        return self.seen is not None or self.state.missing


def _digest(f: BinaryIO, size: int) -> bytes:
    """The blake2b digest of the first `size` bytes, read 1 MiB at a time."""
    h = hashlib.blake2b()
    f.seek(0)
    while size > 0:
        block = f.read(min(size, 1 << 20))
        if not block:
            break
        h.update(block)
        size -= len(block)
    return h.digest()
