"""The run's checkpoint files, with the best one marked (no textual here).

Listed from `RUN_DIR/checkpoints/` (docs/checkpoint-layout.md) in a worker thread
(`checkpoint_files`), then matched on the UI thread to the epochs the stream names
(`checkpoint_rows`): the trainer's `checkpoint` records, a rewind event's file; `best.pt` and
`last.pt` are copies of an epoch file. A name alone says the epoch only in the patterns
trainers use (`epoch-0003.pt`, `rewind-from-0003-2.pt`: epoch 3, never the `-2` that a free
name adds; timm's `checkpoint-12.pth`, Lightning's `epoch=3-step=100.ckpt`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from runwatch.tui.run_model import RunModel

CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt")
_EPOCH_IN_NAME = re.compile(r"(?:^|[-_])(?:epoch|from|checkpoint)[-_=]?(\d+)")


@dataclass(frozen=True)
class CheckpointRow:
    path: Path
    epoch: int | None
    is_best: bool
    test_acc1: float | None
    size_mb: float


def run_dir_of(path: Path) -> Path:
    """The run directory of a stream path (its folder when it names a file)."""
    return path if path.is_dir() else path.parent


def checkpoint_files(run_dir: Path) -> list[tuple[Path, int]]:
    """(path, size in bytes) of each checkpoint file in RUN_DIR/checkpoints, by name."""
    folder = run_dir / "checkpoints"
    if not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.iterdir()):
        if path.suffix not in CHECKPOINT_SUFFIXES:
            continue
        try:
            if path.is_file():
                out.append((path, path.stat().st_size))
        except OSError:  # removed (pruned) while listing
            continue
    return out


def checkpoint_rows(files: list[tuple[Path, int]], model: RunModel) -> list[CheckpointRow]:
    by_name = {Path(m.path).name: m for m in model.checkpoints.values()}
    best = model.best()
    rows = []
    for path, size in files:
        mark = by_name.get(path.name)
        epoch = mark.epoch if mark else epoch_from_name(path.name)
        if path.stem == "best" and best is not None:
            epoch = best.epoch
        point = model.live.get(epoch) if epoch is not None else None
        is_best = path.stem == "best" or (best is not None and epoch == best.epoch
                                          and path.stem != "last")
        rows.append(CheckpointRow(path, epoch, is_best,
                                  point.test_acc1 if point else None, size / 1e6))
    return rows


def epoch_from_name(name: str) -> int | None:
    match = _EPOCH_IN_NAME.search(name)
    return int(match.group(1)) if match else None
