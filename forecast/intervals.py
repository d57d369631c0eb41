"""Prediction intervals and the chance of reaching a target.

The width at a future epoch comes from three measured things: the run's epoch-to-epoch noise,
the disagreement of the weighted models there, and how far the forecast moves from the current
level (a forecast that promises 10 points is less certain than one that promises 1):

    scale(t) = sqrt(noise**2 + spread(t)**2 + (REL_MOVE * |pred(t) - level|)**2)

The 80% and 95% half-widths are CAL80 * scale and CAL95 * scale. The multipliers are the 80%
and 95% quantiles of |truth - prediction| / scale measured by `python -m forecast.backtest` on
the curves in tests/data/curves and the seed run (cuts at 25/50/75%); the backtest scores each
curve with multipliers learned on the other curves only (leave-one-curve-out), so its coverage
figures are not flattered by this table. Pure: numpy and math only.
"""

from __future__ import annotations

import math

import numpy as np

REL_MOVE = 0.25
CAL80 = 1.19
CAL95 = 2.18
Z80 = 1.2816  # standard normal quantile of 0.9: turns the 80% half-width into an sd


def band_scale(pred: np.ndarray, spread: np.ndarray, noise: float, level: float) -> np.ndarray:
    """scale(t) of the module docstring, per future epoch."""
    return np.sqrt(noise**2 + spread**2 + (REL_MOVE * (pred - level)) ** 2)


def bands(pred: np.ndarray, scale: np.ndarray, cal80: float = CAL80,
          cal95: float = CAL95) -> tuple[np.ndarray, ...]:
    """(lo80, hi80, lo95, hi95), clipped to 0..100."""
    def clip(x: np.ndarray) -> np.ndarray:
        return np.clip(x, 0.0, 100.0)

    return (clip(pred - cal80 * scale), clip(pred + cal80 * scale),
            clip(pred - cal95 * scale), clip(pred + cal95 * scale))


def reach_probabilities(pred: np.ndarray, scale: np.ndarray, target: float) -> np.ndarray:
    """P(accuracy at each future epoch >= target), normal with sd = CAL80 * scale / Z80."""
    sd = np.maximum(CAL80 * scale / Z80, 1e-6)
    z = (pred - target) / sd
    return np.array([0.5 * (1 + math.erf(v / math.sqrt(2))) for v in z])
