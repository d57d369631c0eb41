"""Small real streams for the monitor's tests: records as the trainer writes them."""

from __future__ import annotations

import json
import math
from pathlib import Path

from runwatch.schedule import ScheduleSpec, lr_plan, spec_to_dict

T0 = 1_700_000_000.0  # a fixed clock: snapshots and ETAs do not depend on today
EPOCH_S = 60.0
SPEC = ScheduleSpec("cosine_restarts", 0.1, 40, t0=10, eta_min=1e-4)


def run_start(spec: ScheduleSpec = SPEC, target: float = 75.0, patience: int = 0) -> dict:
    return {"type": "run_start", "time": T0, "schema": 1, "run_id": "test-run",
            "config": {"train": {"epochs": spec.epochs, "early_stop_patience": patience}},
            "schedule": spec_to_dict(spec),
            "lr_schedule": lr_plan(spec), "epochs": spec.epochs, "target_acc1": target}


def acc_curve(epoch: int, spec: ScheduleSpec = SPEC) -> float:
    """Rises within each period, falls back at each restart (like the seed run)."""
    within = (epoch - 1) % spec.t0 + 1
    period = (epoch - 1) // spec.t0
    return 30 + 8 * period + 30 * (1 - math.exp(-within / 4))


def epoch(e: int, acc: float | None = None, spec: ScheduleSpec = SPEC, **fields) -> dict:
    acc = acc_curve(e, spec) if acc is None else acc
    record = {"type": "epoch", "time": T0 + e * EPOCH_S, "epoch": e,
              "lr": lr_plan(spec, e, e)[0], "train_loss": 3.0 - acc / 40,
              "train_acc1": acc + 2, "test_loss": 3.2 - acc / 40, "test_acc1": acc,
              "test_acc5": min(acc + 20, 100), "epoch_time_s": EPOCH_S, "images_per_s": 1234.0}
    record.update(fields)
    return record


def step(e: int, s: int, loss: float) -> dict:
    return {"type": "step", "time": T0 + (e - 1) * EPOCH_S + s * 0.1, "epoch": e, "step": s,
            "global_step": e * 100 + s, "loss": loss, "lr": 0.1, "images_per_s": 1000.0}


def run_records(epochs: int, spec: ScheduleSpec = SPEC, steps: int = 0, **start) -> list[dict]:
    out = [run_start(spec, **start)]
    for e in range(1, epochs + 1):
        out += [step(e, s, 3.0 - e / 20 - s / 1000) for s in range(1, steps + 1)]
        out.append(epoch(e, spec=spec))
    return out


def write_stream(path: Path, records: list[dict], mode: str = "w") -> Path:
    with open(path, mode, encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, separators=(",", ":")) + "\n")  # as StreamWriter
    return path


def run_async(test):
    """Runs an `async def` test with asyncio.run (no async pytest plugin needed)."""
    import asyncio
    import functools

    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        return asyncio.run(test(*args, **kwargs))

    return wrapper


def model_of(records: list[dict]):
    """A RunModel fed `records` as the app feeds it: step records folded out first."""
    from runwatch.tui.feed import StepFolder
    from runwatch.tui.run_model import RunModel

    folder = StepFolder()
    rest = folder.fold(records)
    model = RunModel()
    model.apply(rest, folder.take())
    return model
