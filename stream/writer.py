"""Appending records to a metric stream (rank 0 only).

Non-finite floats are written as the `NaN` / `Infinity` tokens Python's json module reads.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from runwatch.stream.schema import RECORD_TYPES


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
