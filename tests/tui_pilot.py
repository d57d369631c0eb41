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


TINY_RUN = ["--set", 'model.arch="tiny_cnn"', "--set", "model.num_classes=4",
            "--set", "data.image_size=8", "--set", "data.batch_size=8",
            "--set", "data.train_size=64", "--set", "data.val_size=32",
            "--set", "schedule.t0=3", "--set", "train.epochs=5",
            "--set", "train.checkpoint_keep=10", "--set", 'train.device="cpu"']
_trained: list[Path] = []


def tiny_run(dest: Path) -> Path:
    """A real 5-epoch runwatch run (restart at epoch 4, a checkpoint per epoch) at `dest`:
    trained once per test process, copied for each test."""
    import shutil
    import tempfile

    from runwatch.cli import main

    if not _trained:
        run = Path(tempfile.mkdtemp(prefix="tui-tiny-run-")) / "run"
        assert main(["train", "--config", "smoke_cpu", "--run-dir", str(run), *TINY_RUN]) == 0
        _trained.append(run)
    shutil.copytree(_trained[0], dest)
    return dest
