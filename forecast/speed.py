"""Timing of a whole forecast on a long synthetic run (for the backtest and bench/).

The synthetic run follows the LR-aware law under a 600-epoch warmup + cosine plan, with
deterministic noise, so every model has a real curve to fit.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd

from runwatch.forecast.engine import forecast_run
from runwatch.forecast.lr_law import acc_from_logit, lr_law, schedule_features


def synthetic_run(n_epochs: int, total: int = 600, seed: int = 0) -> tuple[pd.DataFrame,
                                                                           list[float]]:
    """(history of n_epochs with test loss and epoch times, plan of `total` epochs)."""
    plan = [0.1 * min(1.0, (e + 1) / 5) * (1 + math.cos(math.pi * e / total)) / 2 + 1e-5
            for e in range(total)]
    s1, eff = schedule_features(np.array(plan), 0.7, 1.0, 0.1)
    acc = acc_from_logit(lr_law(s1, eff, 2.0, 2.5, 0.6, 1.0))
    rng = np.random.default_rng(seed)
    acc = acc[:n_epochs] + rng.normal(0, 0.3, n_epochs)
    epochs = np.arange(1, n_epochs + 1)
    history = pd.DataFrame({
        "epoch": epochs, "test_acc1": acc, "test_loss": 5.0 - 0.05 * acc,
        "lr": plan[:n_epochs], "epoch_time_s": 3000.0, "time": 1.7e9 + 3000.0 * epochs,
    })
    return history, plan


def time_long_history(n_epochs: int, repeats: int = 5) -> float:
    """Best-of-`repeats` seconds for forecast_run on an n-epoch synthetic history."""
    history, plan = synthetic_run(n_epochs)
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        forecast_run(history, plan, 75.0)
        best = min(best, time.perf_counter() - start)
    return best
