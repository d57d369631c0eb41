"""How much each model is trusted at each forecast horizon, as measured on other finished runs.

A model's holdout error (forecast.combine) measures it on the stretch of history it could be
checked on: the recent epochs, under LRs the run has already seen. How well it extrapolates
over the rest of a plan, through LR drops the history has not reached, cannot be checked on
the run itself; it can be measured on finished runs. For every curve and cut, the backtest
takes each model's root mean square error over the future epochs of a horizon band (epochs
ahead / epochs known, bands split at HORIZON_EDGES) and divides the best model's RMSE on that
same forecast by it. A model's multiplier in a band is the geometric mean of that ratio over
the forecasts measured; forecast.combine multiplies each model's holdout weight by it at every
future epoch. The multipliers are learned leave-one-curve-out by `python -m forecast.backtest`
(a curve is scored with multipliers measured on the other curves only); RELIABILITY holds the
values it prints as learned from all curves. A model the table does not name (one added since the
table was learned) gets a neutral multiplier, the median of the table's multipliers in that band:
never more than the measured models, whose multipliers are all below 1. Pure: numpy only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

HORIZON_EDGES = (0.1, 0.3, 1.0)  # epochs ahead / epochs known: the bands split here


def horizon_bands(epochs: np.ndarray, last_epoch: int) -> np.ndarray:
    """Band index (0..len(HORIZON_EDGES)) of each future epoch, from its distance ahead."""
    ahead = (np.asarray(epochs, float) - last_epoch) / max(last_epoch, 1)
    return np.searchsorted(HORIZON_EDGES, ahead, side="right")


@dataclass(frozen=True)
class Reliability:
    """Per model name, its multiplier in each horizon band (empty: every model counts as 1)."""

    table: tuple[tuple[str, tuple[float, ...]], ...] = ()

    def neutral(self) -> np.ndarray:
        """Per band, the multiplier of a model the table does not name: the table's median."""
        if not self.table:
            return np.ones(len(HORIZON_EDGES) + 1)
        return np.median(np.array([row for _, row in self.table], float), axis=0)

    def multipliers(self, names: list[str], epochs: np.ndarray, last_epoch: int) -> np.ndarray:
        """(models, epochs) array of the multipliers at each future epoch."""
        rows = dict(self.table)
        neutral = self.neutral()
        bands = horizon_bands(epochs, last_epoch)
        return np.array([np.asarray(rows.get(name, neutral), float)[bands] for name in names]
                        ).reshape(len(names), len(bands))


# (band, model) -> squared errors of one forecast (one curve, one cut) over that band's epochs
ForecastErrors = Mapping[tuple[int, str], np.ndarray]


def learn_reliability(forecasts: Iterable[ForecastErrors]) -> Reliability:
    """Geometric mean over forecasts of best RMSE / model RMSE, per model and band.

    A band a model never had a forecast in gets the median of the models measured there (1
    when none was), as a model missing from the table does.
    """
    logs: dict[tuple[int, str], list[float]] = {}
    for errors in forecasts:
        for band in {b for b, _ in errors}:
            rmse = {m: float(np.sqrt(np.mean(e))) for (b, m), e in errors.items()
                    if b == band and len(e)}
            if not rmse:
                continue
            best = min(rmse.values())
            for m, value in rmse.items():
                logs.setdefault((band, m), []).append(np.log((best + 1e-9) / (value + 1e-9)))
    names = sorted({m for _, m in logs})
    measured = {key: float(np.exp(np.mean(values))) for key, values in logs.items()}
    neutral = [float(np.median([v for (b, _), v in measured.items() if b == band] or [1.0]))
               for band in range(len(HORIZON_EDGES) + 1)]
    return Reliability(tuple((m, tuple(measured.get((b, m), neutral[b])
                                       for b in range(len(neutral)))) for m in names))


# Measured by `python -m forecast.backtest` on tests/data/curves and the seed run:
# per model, its multiplier in the bands [0, 0.1), [0.1, 0.3), [0.3, 1), [1, inf) of epochs
# ahead / epochs known.
RELIABILITY = Reliability((
    ('conservative', (0.479, 0.333, 0.215, 0.112)),
    ('exp3', (0.389, 0.299, 0.210, 0.119)),
    ('ilog2', (0.249, 0.213, 0.161, 0.117)),
    ('linear_recent', (0.424, 0.238, 0.108, 0.059)),
    ('log_fit', (0.163, 0.172, 0.142, 0.154)),
    ('log_power', (0.387, 0.310, 0.199, 0.136)),
    ('lr_law_acc_p0.5_k1', (0.655, 0.618, 0.506, 0.522)),
    ('lr_law_acc_p0.5_k3', (0.681, 0.661, 0.537, 0.605)),
    ('lr_law_acc_p0.7_k1', (0.576, 0.636, 0.496, 0.389)),
    ('lr_law_acc_p1_kinf', (0.496, 0.482, 0.311, 0.258)),
    ('mmf', (0.460, 0.354, 0.212, 0.121)),
    ('pow3', (0.360, 0.324, 0.236, 0.132)),
    ('prior', (0.513, 0.331, 0.229, 0.284)),
    ('weibull', (0.480, 0.352, 0.190, 0.114)),
))
