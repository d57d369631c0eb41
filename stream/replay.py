"""Replay a finished run as if it were live, and the packaged seed run (torch-free).

`ReplaySource` has a Source's `poll()`, so the monitor's `--replay [SPEED]` and
`runwatch demo --seed-run` show a recorded run epoch by epoch. `seed_run_records()` is the
real run this project exists for (runwatch/data/seed_run/epochs.csv, its README beside it), with
the plan and timing its README states, so forecasts and wall-clock ETAs work in the demo.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from runwatch.schedule import ScheduleSpec, lr_plan, spec_to_dict
from runwatch.stream import SCHEMA_VERSION, FollowState
from runwatch.stream.sources import read_source

# From runwatch/data/seed_run/README.md ("Known configuration").
SEED_SCHEDULE = ScheduleSpec("cosine_restarts", 0.05, 100, t0=30, eta_min=1e-5)
SEED_TARGET = 75.0
SEED_EPOCH_TIME_S = 54 * 60  # "about 54 minutes"
SEED_TRAIN_ACC1 = {30: 55.69, 31: 38.11}  # "Extra points from the report"
SEED_CONFIG = {"model": "resnet50", "data": "ImageNet-1K", "image_size": 224,
               "optimizer": "sgd", "momentum": 0.9, "weight_decay": 1e-4, "batch_size": 256,
               "early_stopping_patience": 15}


class ReplaySource:
    """Releases recorded records over time: `epochs_per_second` epoch records each second.

    Records up to the first epoch record (run_start, its steps) come at once; each later
    epoch comes with the records between it and the epoch before (its steps); records after
    the last epoch (run_end) come with it. `clock` is
    injectable for tests (default `time.monotonic`); the clock starts at the first `poll()`.
    """

    def __init__(self, records: list[dict], epochs_per_second: float,
                 clock: Callable[[], float] = time.monotonic, kind: str = "replay",
                 note: str = "") -> None:
        if epochs_per_second <= 0:
            raise ValueError("epochs_per_second must be positive")
        self.records = list(records)
        self.epochs_per_second = epochs_per_second
        self.kind, self.note = kind, note
        self.path: Path | None = None
        self.modified: float | None = None
        self.state = FollowState()
        self._clock = clock
        self._start: float | None = None
        self._next = 0
        # Epoch k's batch ends just after its record; trailing records come with the last one.
        self._epoch_ends = [i + 1 for i, r in enumerate(self.records) if r.get("type") == "epoch"]

    def poll(self) -> tuple[list[dict], bool]:
        now = self._clock()
        if self._start is None:
            self._start = now
        due = int((now - self._start) * self.epochs_per_second) + 1
        end = self._epoch_ends[due - 1] if due <= len(self._epoch_ends) else len(self.records)
        out = self.records[self._next:end]
        self._next = max(self._next, end)
        self.state.records += len(out)
        return out, False

    def caught_up(self) -> bool:
        """True once every record has been released."""
        return self._next >= len(self.records)


def open_replay(path: str | os.PathLike, epochs_per_second: float, metric: str | None = None,
                clock: Callable[[], float] = time.monotonic, *, lr_tag: str | None = None,
                choice: str | None = None) -> ReplaySource:
    """PATH read whole (any format runwatch.stream.sources reads), replayed as if live."""
    records, source = read_source(path, metric, lr_tag=lr_tag, choice=choice)
    replay = ReplaySource(records, epochs_per_second, clock, kind=f"replay of {source.kind}",
                          note=source.note)
    replay.path = source.path
    return replay


def seed_run_csv() -> object:
    """The packaged seed-run log (runwatch/data/seed_run/epochs.csv, README.md beside it)."""
    return resources.files("runwatch") / "data" / "seed_run" / "epochs.csv"


def seed_run_records(start_time: float | None = None) -> list[dict]:
    """The seed run (epochs 1-31) as stream records, led by a run_start with its plan.

    The run_start carries the schedule, `lr_schedule` (100 epochs), `epochs`, `target_acc1`
    75 and `epoch_time_s`; epoch records are stamped `start_time + epoch * 54 min` (default:
    the last epoch ends now), with the two train accuracies the README reports.
    """
    with resources.as_file(seed_run_csv()) as path:
        records, _ = read_source(path)
    epochs = [r for r in records if r["type"] == "epoch"]
    if start_time is None:
        start_time = time.time() - len(epochs) * SEED_EPOCH_TIME_S
    run_start = {
        "type": "run_start", "time": start_time, "schema": SCHEMA_VERSION, "run_id": "seed-run",
        "synthetic": True, "source": {"kind": "seed run", "path": str(path),
                                      "note": "ResNet50/ImageNet-1K, plan from its README"},
        "config": SEED_CONFIG, "schedule": spec_to_dict(SEED_SCHEDULE),
        "lr_schedule": lr_plan(SEED_SCHEDULE), "epochs": SEED_SCHEDULE.epochs,
        "target_acc1": SEED_TARGET, "epoch_time_s": SEED_EPOCH_TIME_S,
    }
    for record in epochs:
        record["time"] = start_time + record["epoch"] * SEED_EPOCH_TIME_S
        record["epoch_time_s"] = float(SEED_EPOCH_TIME_S)
        record["train_acc1"] = SEED_TRAIN_ACC1.get(record["epoch"])
    return [run_start, *epochs]
