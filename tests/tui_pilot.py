"""Helpers for the monitor's Pilot tests: an app on a small stream, waiting, reading widgets."""

from __future__ import annotations

import os
import time
from pathlib import Path

from tui_records import EPOCH_S, T0, write_stream

from runwatch.stream.sources import open_source
from runwatch.tui.app import RunwatchApp
from runwatch.tui.widgets.epoch_table import EpochTable

NOW = T0 + 12 * EPOCH_S


def make_app(path: Path, now: float = NOW, **kwargs) -> RunwatchApp:
    """The monitor on PATH (a run directory or a log), its clock stopped at `now`."""
    return RunwatchApp(open_source(path), path, clock=lambda: now, poll_s=0.05, **kwargs)


async def wait_for(pilot, condition, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "condition not met in time"
        await pilot.pause(0.05)


def text_of(widget) -> str:
    return str(widget.render())


def table_column(app, key: str) -> list[str]:
    table = app.query_one(EpochTable)
    return [str(table.get_cell_at((r, list(table.columns).index(key)))) for r in
            range(table.row_count)]


def stream_in(run_dir: Path, records: list[dict]) -> Path:
    write_stream(run_dir / "metrics.jsonl", records)
    os.utime(run_dir / "metrics.jsonl", (NOW, NOW))  # the fixed clock's "now"
    return run_dir


def fake_checkpoints(run_dir: Path) -> None:
    """Checkpoint files the panel lists (their content is never read by these tests)."""
    folder = run_dir / "checkpoints"
    folder.mkdir()
    for name in ("epoch-0004.pt", "epoch-0005.pt", "best.pt", "last.pt"):
        (folder / name).write_bytes(b"x" * 1000)
