"""Time of one whole forecast on a 450-epoch history (the monitor refreshes it every epoch).

Goal: under 300 ms on one core. The baseline, measured in the same run on the same history,
is the cheapest forecast anyone would use: the seed report's log fit (`a ln(epoch) + b`,
one polyfit); the ratio says what the full forecast (17 models, holdout scoring, bands,
events, the standard scenarios) costs on top of it.

    OMP_NUM_THREADS=1 python bench/forecast_speed.py [EPOCHS] [REPEATS]
"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np

from runwatch.forecast.curves import log_fit
from runwatch.forecast.engine import forecast_run
from runwatch.forecast.result import ForecastOptions
from runwatch.forecast.speed import synthetic_run

GOAL_MS = 300.0


def timed(fn, repeats: int) -> float:
    """Median seconds of `repeats` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 450
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    history, plan = synthetic_run(n)
    epochs = history["epoch"].to_numpy(float)
    acc = history["test_acc1"].to_numpy(float)
    future = np.arange(n + 1, len(plan) + 1, dtype=float)
    lrs = tuple(plan[n:])
    options = ForecastOptions(patience=15, scenarios=(
        ("as planned", n, lrs), ("half LR", n, tuple(v / 2 for v in lrs)),
        ("hold", n, (plan[n - 1],) * len(lrs))))
    forecast_run(history, plan, 75.0, options)  # warm imports and caches
    base = timed(lambda: log_fit(epochs, acc, future), repeats)
    full = timed(lambda: forecast_run(history, plan, 75.0, options), repeats)
    print(f"history {n} epochs, plan {len(plan)} epochs, median of {repeats}")
    print(f"baseline log fit:  {1000 * base:8.2f} ms")
    print(f"full forecast:     {1000 * full:8.2f} ms  ({full / base:.0f}x the log fit)")
    ok = 1000 * full < GOAL_MS
    verdict = "PASS" if ok else "FAIL"
    print(f"{verdict}: full forecast {1000 * full:.0f} ms (goal < {GOAL_MS:.0f} ms)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
