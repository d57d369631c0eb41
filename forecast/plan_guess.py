"""Guess the rest of a run's plan from the LRs it has logged, when no plan was given.

Two shapes are guessed, each only when it reproduces every logged LR within 2% of the peak:

- warm restarts (`CosineAnnealingWarmRestarts`, after an optional linear warmup): the log shows
  at least one completed cycle, a cosine from the peak ended by a rise back to at least half of
  it. The period is read from the cycle (T_mult from two, else 1), eta_min from its lowest LR,
  and the schedule is assumed to go on for two more restarts after the current period;
- a cosine decay from the peak towards zero, the most common schedule of long runs (DeiT/timm,
  torchvision references), continued to the end of its period.

Steps and constants are not extrapolated (the caller holds the last LR). Every guess comes with
a note that says it is assumed. Pure: numpy only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from runwatch.errors import RunwatchError
from runwatch.forecast.fitting import curve_fit_box
from runwatch.schedule import ScheduleSpec, find_jumps, lr_plan

REPRODUCE = 0.02  # a guess must reproduce the logged LRs within 2% of the peak
MIN_POINTS = 3
RESTART_SHARE = 0.5  # a rise back to at least half the peak is a restart
MORE_RESTARTS = 2  # periods assumed after the one the run is in


@dataclass(frozen=True)
class GuessedPlan:
    """The LR of every epoch 1..len(lrs), the schedule when it is one of ours, and the note."""

    lrs: np.ndarray
    spec: ScheduleSpec | None
    note: str


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
    fit = curve_fit_box(cosine, e, y, np.array([0.0, 1.0, e_peak, guess]),
                        np.array([0, 0.5, e_peak - 20, 1]), np.array([0.5, 1.5, e_peak + 1, 1e5]))
    params = fit.x
    if not fit.converged or np.max(np.abs(cosine(e, *params) - y)) > REPRODUCE:
        return None
    eta_min, amp, start, period = (float(v) for v in params)
    return eta_min * peak, amp * peak, start, period


def cosine_lrs(fit: tuple[float, float, float, float], first: int, last: int) -> np.ndarray:
    """LRs of epochs first..last on a fitted cosine (floored at a tiny positive LR)."""
    eta_min, amp, start, period = fit
    lrs = cosine(np.arange(first, last + 1, dtype=float), eta_min, amp, start, period)
    return np.maximum(lrs, 1e-4 * (eta_min + amp))


def _restart_spec(lrs: np.ndarray) -> ScheduleSpec | None:
    """The cosine_restarts schedule that LRs of epochs 1..len(lrs) follow, when they show a
    completed cycle and the schedule reproduces all of them (epochs = len(lrs))."""
    peak = float(lrs.max())
    warmup = int(np.argmax(lrs >= (1 - REPRODUCE) * peak))  # the epochs before the first peak
    rises = [j for j in find_jumps(np.maximum(lrs, 1e-3 * peak).tolist(), 1)
             if j.epoch > warmup + 1 and j.lr_after >= RESTART_SHARE * peak]
    if not rises:
        return None
    first = rises[0].epoch
    t0 = first - 1 - warmup
    if t0 < MIN_POINTS:
        return None
    t_mult = 1
    if len(rises) > 1:
        second = rises[1].epoch - first
        if second % t0:
            return None
        t_mult = second // t0
    # The last epoch of a period runs at eta_min + (peak - eta_min) * c, c the cosine there.
    c = (1 + math.cos(math.pi * (t0 - 1) / t0)) / 2
    eta_min = max((float(lrs[first - 2]) - peak * c) / (1 - c), 0.0)
    try:
        spec = ScheduleSpec("cosine_restarts", peak, len(lrs), t0=t0, t_mult=t_mult,
                            eta_min=min(eta_min, 0.5 * peak), warmup_epochs=warmup,
                            warmup_start_factor=float(np.clip(lrs[0] / peak, 1e-3, 1.0))
                            if warmup else 0.1)
    except RunwatchError:
        return None
    if np.max(np.abs(np.array(lr_plan(spec)) - lrs)) > REPRODUCE * peak:
        return None
    return spec


def _restart_horizon(spec: ScheduleSpec, last: int) -> int:
    """The last epoch of the MORE_RESTARTS periods after the one epoch `last` is in."""
    start, period = spec.warmup_epochs + 1, spec.t0
    while start <= last:
        start, period = start + period, period * spec.t_mult
    for _ in range(MORE_RESTARTS):
        start, period = start + period, period * spec.t_mult
    return start - 1


def guess_plan(epochs: np.ndarray, lrs: np.ndarray, total_epochs: int | None = None
               ) -> GuessedPlan | None:
    """The plan the logged LRs (of `epochs`, in order) most likely follow, or None."""
    if len(lrs) == 0 or not np.all(np.isfinite(lrs)) or np.any(lrs < 0) or not lrs.max() > 0:
        return None
    last = int(epochs[-1])
    if epochs.tolist() == list(range(1, last + 1)):
        spec = _restart_spec(lrs)
        if spec is not None:
            total = total_epochs or _restart_horizon(spec, last)
            spec = replace(spec, epochs=total)
            return GuessedPlan(np.array(lr_plan(spec)), spec, (
                f"no LR plan given: the logged LRs restart a cosine every {spec.t0} epochs "
                f"(T_0={spec.t0}, T_mult={spec.t_mult}): assumed to go on to epoch {total} "
                "with its restarts (pass --plan to set the plan)"))
    fit = cosine_tail(epochs, lrs)
    if fit is None or fit[2] + fit[3] <= last + 1:
        return None
    total = total_epochs or int(round(fit[2] + fit[3]))
    return GuessedPlan(cosine_lrs(fit, 1, total), None, (
        f"no LR plan given: the logged LRs follow a cosine decay, assumed to reach its minimum "
        f"at epoch {total} (pass --plan to set the plan)"))
