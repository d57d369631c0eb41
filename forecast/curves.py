"""Learning-curve models that see only epochs and accuracy (no learning rate).

Each model is a plain function with its formula in the docstring. Fits return plain numbers
(a parameter array, or None when the fit failed). Two groups:

- the seed report's three baselines (`linear_recent`, `conservative`, `log_fit`), kept so a
  report can show how the hand-made forecasts compare;
- parametric families of Domhan, Springenberg & Hutter (2015), "Speeding up automatic
  hyperparameter optimization of deep neural networks by extrapolation of learning curves",
  fitted by bounded least squares on the recent part of the curve (Janoschek is left out:
  `exp(-kappa * x**delta)` is Weibull's `exp(-(kappa * x)**delta)` reparametrised).

They ignore the schedule, so they are only trusted where the planned LR stays near the LR they
were fitted under (see forecast.combine). Pure: numpy only (fits: forecast.fitting).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from runwatch.forecast.fitting import curve_fit_box

RECENT = 5  # epochs the gain-based baselines look at


def linear_recent(epochs: np.ndarray, acc: np.ndarray, future: np.ndarray) -> np.ndarray:
    """acc(e) = acc_last + g * (e - e_last), g = mean gain per epoch over the last 5 epochs."""
    k = min(RECENT, len(acc) - 1)
    gain = (acc[-1] - acc[-1 - k]) / (epochs[-1] - epochs[-1 - k]) if k > 0 else 0.0
    return np.clip(acc[-1] + gain * (future - epochs[-1]), 0.0, 100.0)


def conservative(epochs: np.ndarray, acc: np.ndarray, future: np.ndarray) -> np.ndarray:
    """acc(e) = acc_last + g * (1 - 0.5**((e - e_last) / 5)) * 5 / ln 2.

    The recent mean gain g (last 5 epochs, floored at 0) halving every 5 epochs: the gains
    shrink geometrically, so the curve levels off at acc_last + g * 5 / ln 2.
    """
    k = min(RECENT, len(acc) - 1)
    gain = max((acc[-1] - acc[-1 - k]) / (epochs[-1] - epochs[-1 - k]), 0.0) if k > 0 else 0.0
    half = float(RECENT)
    steps = future - epochs[-1]
    return np.clip(acc[-1] + gain * (1 - 0.5 ** (steps / half)) * half / np.log(2), 0.0, 100.0)


def log_fit(epochs: np.ndarray, acc: np.ndarray, future: np.ndarray) -> np.ndarray:
    """acc(e) = a * ln(e) + b, least squares over every epoch (the team's hand forecast)."""
    a, b = np.polyfit(np.log(epochs), acc, 1)
    return np.clip(a * np.log(future) + b, 0.0, 100.0)


BASELINES: dict[str, Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]] = {
    "linear_recent": linear_recent,
    "conservative": conservative,
    "log_fit": log_fit,
}


def pow3(x: np.ndarray, c: float, a: float, alpha: float) -> np.ndarray:
    """acc = c - a * x**(-alpha)."""
    return c - a * x ** (-alpha)


def log_power(x: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
    """acc = a / (1 + (x / exp(b))**(-c))."""
    return a / (1 + (x / np.exp(b)) ** (-c))


def weibull(x: np.ndarray, alpha: float, beta: float, kappa: float, delta: float) -> np.ndarray:
    """acc = alpha - (alpha - beta) * exp(-(kappa * x)**delta)."""
    return alpha - (alpha - beta) * np.exp(-((kappa * x) ** delta))


def mmf(x: np.ndarray, alpha: float, beta: float, kappa: float, delta: float) -> np.ndarray:
    """acc = alpha - (alpha - beta) / (1 + (kappa * x)**delta)  (Morgan-Mercer-Flodin)."""
    return alpha - (alpha - beta) / (1 + (kappa * x) ** delta)


def exp3(x: np.ndarray, c: float, a: float, b: float) -> np.ndarray:
    """acc = c - exp(-a * x + b)."""
    return c - np.exp(-a * x + b)


def ilog2(x: np.ndarray, c: float, a: float) -> np.ndarray:
    """acc = c - a / ln(x + 1)."""
    return c - a / np.log(x + 1)


@dataclass(frozen=True)
class Family:
    """A parametric family: its function, a starting point and bounds from the data."""

    func: Callable[..., np.ndarray]
    start: Callable[[np.ndarray, np.ndarray], list[float]]
    lower: tuple[float, ...]
    upper: tuple[float, ...]


def _top(acc: np.ndarray) -> float:
    return float(min(acc.max() + 5, 100.0))


FAMILIES: dict[str, Family] = {
    "pow3": Family(pow3, lambda x, y: [_top(y), _top(y) - y[0], 0.5],
                   (0, 0, 0.01), (100, 1e4, 5)),
    "log_power": Family(log_power, lambda x, y: [_top(y), np.log(x.mean()), 1.0],
                        (0, -10, 0.01), (100, 20, 10)),
    "weibull": Family(weibull, lambda x, y: [_top(y), y[0], 1 / x.mean(), 1.0],
                      (0, 0, 1e-6, 0.05), (100, 100, 10, 5)),
    "mmf": Family(mmf, lambda x, y: [_top(y), y[0], 1 / x.mean(), 1.0],
                  (0, 0, 1e-6, 0.05), (100, 100, 10, 5)),
    "exp3": Family(exp3, lambda x, y: [_top(y), 1 / x.mean(), np.log(max(_top(y) - y[0], 1))],
                   (0, 1e-6, -20), (100, 10, 20)),
    "ilog2": Family(ilog2, lambda x, y: [_top(y), 1.0], (0, 0), (100, 1e4)),
}


def fit_family(name: str, x: np.ndarray, y: np.ndarray, weights: np.ndarray) -> np.ndarray | None:
    """Parameters of family `name` fitted to (x, y), or None when the fit fails (does not
    converge within its evaluation budget).

    `weights` > 0 weigh each point (larger = trusted more); the start point is clipped into the
    bounds so every family starts from a valid curve.
    """
    fam = FAMILIES[name]
    lo, hi = np.array(fam.lower, float), np.array(fam.upper, float)
    p0 = np.clip(np.asarray(fam.start(x, y), float), lo + 1e-9, hi - 1e-9)
    fit = curve_fit_box(fam.func, x, y, p0, lo, hi, sigma=1 / weights)
    return fit.x if fit.converged and np.all(np.isfinite(fit.x)) else None


def predict_family(name: str, params: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The family's accuracy at x, clipped to 0..100."""
    with np.errstate(all="ignore"):
        y = FAMILIES[name].func(np.asarray(x, float), *params)
    return np.clip(np.nan_to_num(y, nan=0.0), 0.0, 100.0)
