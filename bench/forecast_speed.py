"""Time of one whole forecast on a 450-epoch history (the monitor refreshes it every epoch).

Goal: under 300 ms on one core. The baseline, measured in the same run on the same history,
is the cheapest forecast anyone would use: the seed report's log fit (`a ln(epoch) + b`,
one polyfit); the ratio says what the full forecast (17 models, holdout scoring, bands,
events, the standard scenarios) costs on top of it.

    OMP_NUM_THREADS=1 python bench/forecast_speed.py [EPOCHS] [REPEATS]

"""

from __future__ import annotations

import math
import statistics
import sys
import time

import numpy as np

from runwatch.forecast.curves import log_fit
from runwatch.forecast.engine import forecast_run
from runwatch.forecast.inputs import EpochLog
from runwatch.forecast.lr_law import acc_from_logit, lr_law, schedule_features
from runwatch.forecast.result import ForecastOptions

GOAL_MS = 300.0


def synthetic_run(n_epochs: int, total: int = 600, seed: int = 0) -> tuple[EpochLog,
                                                                           list[float]]:
    """(history of n_epochs with test loss and epoch times, plan of `total` epochs).

    The run follows the LR-aware law under a warmup + cosine plan, with deterministic noise,
    so every model has a real curve to fit.
    """
    plan = [0.1 * min(1.0, (e + 1) / 5) * (1 + math.cos(math.pi * e / total)) / 2 + 1e-5
            for e in range(total)]
    s1, eff = schedule_features(np.array(plan), 0.7, 1.0, 0.1)
    acc = acc_from_logit(lr_law(s1, eff, 2.0, 2.5, 0.6, 1.0))
    rng = np.random.default_rng(seed)
    acc = acc[:n_epochs] + rng.normal(0, 0.3, n_epochs)
    epochs = np.arange(1, n_epochs + 1)
    history = EpochLog(epoch=epochs, test_acc1=acc, test_loss=5.0 - 0.05 * acc,
                       lr=plan[:n_epochs], epoch_time_s=np.full(n_epochs, 3000.0),
                       time=1.7e9 + 3000.0 * epochs, percent=True)
    return history, plan


def timed(fn, repeats: int) -> float:
    """Median seconds of `repeats` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def live_options(n: int, plan: list[float]) -> ForecastOptions:
    """What the monitor asks for: patience and three scenarios from the last epoch."""
    lrs = tuple(plan[n:])
    return ForecastOptions(patience=15, scenarios=(
        ("as planned", n, lrs), ("half LR", n, tuple(v / 2 for v in lrs)),
        ("hold", n, (plan[n - 1],) * len(lrs))))


def time_long_history(n: int, repeats: int = 5) -> float:
    """Median seconds of a whole forecast (as the monitor asks for it) of an n-epoch history."""
    history, plan = synthetic_run(n)
    options = live_options(n, plan)
    forecast_run(history, plan, 75.0, options)  # warm imports and caches
    return timed(lambda: forecast_run(history, plan, 75.0, options), repeats)


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 450
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    history, plan = synthetic_run(n)
    epochs, acc = history.epoch, history.test_acc1
    future = np.arange(n + 1, len(plan) + 1, dtype=float)
    base = timed(lambda: log_fit(epochs, acc, future), repeats)
    full = time_long_history(n, repeats)
    print(f"history {n} epochs, plan {len(plan)} epochs, median of {repeats}")
    print(f"baseline log fit:  {1000 * base:8.2f} ms")
    print(f"full forecast:     {1000 * full:8.2f} ms  ({full / base:.0f}x the log fit)")
    ok = 1000 * full < GOAL_MS
    verdict = "PASS" if ok else "FAIL"
    print(f"{verdict}: full forecast {1000 * full:.0f} ms (goal < {GOAL_MS:.0f} ms)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
