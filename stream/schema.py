"""The metric stream's names: schema version, file name, record types, end statuses
(docs/metric-stream.md is the contract)."""

from __future__ import annotations

import os
from pathlib import Path

SCHEMA_VERSION = 1
STREAM_NAME = "metrics.jsonl"
RECORD_TYPES = ("run_start", "resume", "epoch", "step", "checkpoint", "event", "run_end")
END_STATUSES = ("completed", "interrupted", "diverged", "early_stopped", "failed")


def stream_path(run_dir_or_file: str | os.PathLike) -> Path:
    """The stream file of a run directory, or the path itself when it names a file."""
    p = Path(run_dir_or_file)
    return p / STREAM_NAME if p.is_dir() else p
