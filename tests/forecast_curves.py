"""Small learning curves for the forecast's tests, built from a plan the test chooses, and the
seed run read as `runwatch forecast` reads it."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import numpy as np

from runwatch.forecast.inputs import HISTORY_COLUMNS, EpochLog, history_from_records
from runwatch.forecast.lr_law import acc_from_logit, lr_law, schedule_features
from runwatch.schedule import ScheduleSpec, lr_plan
from runwatch.stream.sources import read_source

COSINE = ScheduleSpec("cosine", 0.1, 60, eta_min=1e-4)
RESTARTS = ScheduleSpec("cosine_restarts", 0.1, 60, t0=20, eta_min=1e-4)
SEED_CSV = "tests/data/seed_run/epochs.csv"


def law_curve(plan: list[float], n: int, noise: float = 0.0, seed: int = 0,
              with_loss: bool = True) -> EpochLog:
    """n epochs of a run that follows the LR law under `plan` (+ Gaussian noise)."""
    s1, eff = schedule_features(np.asarray(plan, float), 1.0, np.inf, max(plan))
    acc = acc_from_logit(lr_law(s1, eff, 1.6, 2.0, 0.7, 1.0))[:n]
    acc = acc + np.random.default_rng(seed).normal(0, noise, n)
    return EpochLog(epoch=np.arange(1, n + 1), test_acc1=acc, lr=plan[:n],
                    test_loss=4.0 - 0.035 * acc if with_loss else None)


def cosine_run(n: int, noise: float = 0.2) -> tuple[EpochLog, list[float]]:
    plan = lr_plan(COSINE)
    return law_curve(plan, n, noise), plan


def restart_run(n: int, noise: float = 0.2) -> tuple[EpochLog, list[float]]:
    plan = lr_plan(RESTARTS)
    return law_curve(plan, n, noise), plan


def seed_log() -> EpochLog:
    """The seed run's 31 epochs, read through the log readers as the commands read them."""
    return history_from_records(read_source(SEED_CSV)[0])


def with_time(log: EpochLog, seconds_per_epoch: float, start: float = 1.7e9) -> EpochLog:
    return replace(log, time=start + seconds_per_epoch * log.epoch)


def write_csv(log: EpochLog, path: Path) -> None:
    """The log as a CSV with the columns it has (as the curves in tests/data/curves)."""
    names = [n for n in HISTORY_COLUMNS if getattr(log, n) is not None]
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(names)
        out.writerows(zip(*(getattr(log, n).tolist() for n in names), strict=True))
