"""What a run says: its stream records (docs/metric-stream.md) and its console lines.

Rank 0 alone says anything; the other ranks hold a `RunOutput` without a stream and stay
silent. The checkpoint thread appends its `checkpoint` records through the same object, one
record at a time.
"""

from __future__ import annotations

import threading
from pathlib import Path

from runwatch.errors import RunwatchError
from runwatch.stream import StreamWriter


class RunOutput:
    """Rank 0's stream and stdout (`path` given); nothing at all on other ranks (None)."""

    def __init__(self, path: Path | None) -> None:
        self._writer = None if path is None else StreamWriter(path)
        self._lock = threading.Lock()

    def record(self, record_type: str, **fields: object) -> None:
        if self._writer is None:
            return
        try:
            with self._lock:
                self._writer.write(record_type, **fields)
        except OSError as exc:  # a full disk, a folder gone: the user's to fix
            raise RunwatchError(
                f"cannot append to {self._writer.path} ({exc.strerror or exc}): free space or "
                f"make it writable, then resume from the last checkpoint") from None

    def event(self, kind: str, **fields: object) -> None:
        self.record("event", kind=kind, **fields)

    def say(self, line: str) -> None:
        if self._writer is not None:
            print(line, flush=True)

    def close(self) -> None:
        if self._writer is not None:
            with self._lock:
                self._writer.close()
