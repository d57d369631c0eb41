"""Guess the rest of a schedule from the LRs logged so far, when no plan was given.

Only one shape is guessed: a cosine decay from the peak LR towards zero, the most common
schedule of long runs (DeiT/timm, torchvision references). From each logged epoch t epochs
after the peak, `lr / peak = (1 + cos(pi * t / T)) / 2` gives one estimate of the period T,
the start of a fitted cosine; the fit must reproduce the logged LRs within 2% of the peak, or
nothing is guessed. Steps and constants are not extrapolated: the caller holds
the last LR. Pure: numpy only.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit

REPRODUCE = 0.02
MIN_POINTS = 3


def cosine(e: np.ndarray, eta_min: float, amp: float, start: float, period: float) -> np.ndarray:
    """eta_min + amp * (1 + cos(pi * (e - start) / period)) / 2, flat at eta_min past the end."""
    t = np.clip(e - start, 0, period)
    return eta_min + amp * (1 + np.cos(np.pi * t / period)) / 2


def cosine_tail(epochs: np.ndarray, lrs: np.ndarray) -> tuple[float, float, float, float] | None:
    """(eta_min, amp, start, period) of the cosine the LRs after their peak follow, or None.

    Start and period are fitted (a timm cosine counts its warmup, so its start precedes the
    logged peak); the first guess of the period is the median of the per-epoch estimates.
    """
    peak_i = int(np.argmax(lrs))
    peak, e_peak = float(lrs[peak_i]), float(epochs[peak_i])
    e, y = epochs[peak_i:].astype(float), lrs[peak_i:] / peak
    if len(e) < MIN_POINTS + 1 or np.any(np.diff(y) > 1e-9) or y[-1] > 0.9999:
        return None  # too short, rising again after the peak, or not decaying yet
    t, x = e[1:] - e_peak, y[1:]
    use = (x > 0.02) & (x < 0.9999)
    if use.sum() < MIN_POINTS:
        return None
    guess = float(np.median(np.pi * t[use] / np.arccos(np.clip(2 * x[use] - 1, -1, 1))))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizeWarning)
            params, _ = curve_fit(cosine, e, y, p0=[0.0, 1.0, e_peak, guess],
                                  bounds=([0, 0.5, e_peak - 20, 1], [0.5, 1.5, e_peak + 1, 1e5]))
    except (RuntimeError, ValueError):
        return None
    if np.max(np.abs(cosine(e, *params) - y)) > REPRODUCE:
        return None
    eta_min, amp, start, period = (float(v) for v in params)
    return eta_min * peak, amp * peak, start, period


def cosine_lrs(fit: tuple[float, float, float, float], first: int, last: int) -> np.ndarray:
    """LRs of epochs first..last on a fitted cosine (floored at a tiny positive LR)."""
    eta_min, amp, start, period = fit
    lrs = cosine(np.arange(first, last + 1, dtype=float), eta_min, amp, start, period)
    return np.maximum(lrs, 1e-4 * (eta_min + amp))
