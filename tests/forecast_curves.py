"""Small learning curves for the forecast's tests, built from a plan the test chooses."""

from __future__ import annotations

import numpy as np
import pandas as pd

from runwatch.forecast.lr_law import acc_from_logit, lr_law, schedule_features
from runwatch.schedule import ScheduleSpec, lr_plan

COSINE = ScheduleSpec("cosine", 0.1, 60, eta_min=1e-4)
RESTARTS = ScheduleSpec("cosine_restarts", 0.1, 60, t0=20, eta_min=1e-4)
SEED_CSV = "tests/data/seed_run/epochs.csv"


def law_curve(plan: list[float], n: int, noise: float = 0.0, seed: int = 0,
              with_loss: bool = True) -> pd.DataFrame:
    """n epochs of a run that follows the LR law under `plan` (+ Gaussian noise)."""
    s1, eff = schedule_features(np.asarray(plan, float), 1.0, np.inf, max(plan))
    acc = acc_from_logit(lr_law(s1, eff, 1.6, 2.0, 0.7, 1.0))[:n]
    acc = acc + np.random.default_rng(seed).normal(0, noise, n)
    df = pd.DataFrame({"epoch": np.arange(1, n + 1), "test_acc1": acc, "lr": plan[:n]})
    if with_loss:
        df["test_loss"] = 4.0 - 0.035 * acc
    return df


def cosine_run(n: int, noise: float = 0.2) -> tuple[pd.DataFrame, list[float]]:
    plan = lr_plan(COSINE)
    return law_curve(plan, n, noise), plan


def restart_run(n: int, noise: float = 0.2) -> tuple[pd.DataFrame, list[float]]:
    plan = lr_plan(RESTARTS)
    return law_curve(plan, n, noise), plan
