"""Weigh models by how well each predicted the most recent epochs, and combine them.

Every model is refitted without the last k epochs and scored on them, and again without the
later half of the history (root mean square error over both holdouts); its weight is
1 / (rmse**2 + noise**2), among the models within 3x of the best; at each future epoch it is
multiplied by how reliable the model has been that far ahead on other runs
(forecast.reliability). A model that
ignores the learning rate has only been validated under the LR it was fitted at, so it takes
part at a future epoch only while the plan keeps the LR within LR_BAND of the current one.

Bands and the chance of reaching a target: the width at a future epoch t grows with five
measured things: the run's epoch-to-epoch noise, the disagreement of the weighted models at t,
how far the forecast moves from the current level, how many decades of LR the plan goes
outside the range the run has trained in since its peak by t, and the horizon (epochs ahead /
epochs done); the last two in units of the room left to 100%:

    scale(t) = sqrt(sum_k (coef_k * term_k(t))**2)       (band_terms, BandModel.scale)

The coefficients make the finished runs' errors most likely under a Laplace law (heavy tails),
and the 50/80/90/95/99% quantiles of |truth - forecast| / scale turn the scale into the 80% and
95% half-widths and into the chance of reaching a target (BandModel.prob_at_least). Both are
learned by `python -m forecast.backtest` (BANDS: from all its curves; each curve is
scored with a model learned on the other curves only). On its 17 curves the learned weight of
the LR-extrapolation term is nil: in a cut run it goes with the horizon, which predicts the
errors better. Pure: numpy only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

LR_BAND = 1.5  # factor the LR may move before LR-blind models stop being trusted
KEEP_WITHIN = 3.0  # models with a holdout error over 3x the best one get no weight
LONG_HOLDOUT = 0.5  # share of the history the second, longer holdout covers

# (epochs fitted = first n of the history, epochs to predict) -> accuracy, or None on failure
Predictor = Callable[[int, np.ndarray], "np.ndarray | None"]


@dataclass(frozen=True)
class ModelSpec:
    name: str
    group: str  # "baseline", "curve", "schedule" or "prior"
    uses_plan: bool
    predict: Predictor
    from_horizon: float = 0.0  # counts from this far ahead (epochs ahead / epochs done) on


@dataclass(frozen=True)
class Scored:
    """A model's holdout error and its forecast of the future epochs (None: fit failed)."""

    spec: ModelSpec
    holdout_rmse: float | None
    future: np.ndarray | None


def holdout_size(n: int) -> int:
    """Recent epochs held out to score the models: 30% of the history, 3 to 40 epochs."""
    k = int(np.clip(round(0.3 * n), 3, 40))
    return k if n - k >= 4 else 0


def holdout_sizes(n: int) -> tuple[int, ...]:
    """The holdouts a model is scored on: the recent one, and the later half of the history.

    The long one reaches back to where the LR was higher, so a law is also judged on how it
    predicted the run's own LR changes, not only the stretch of constant LR that often ends
    a history (both fits keep at least a third of the history and 4 epochs).
    """
    k = holdout_size(n)
    if not k:
        return ()
    long = int(LONG_HOLDOUT * n)
    return (k, long) if long > k and n - long >= max(4, n // 3) else (k,)


def score_models(models: list[ModelSpec], epochs: np.ndarray, acc: np.ndarray,
                 future_epochs: np.ndarray) -> list[Scored]:
    """Holdout error of every model, then its forecast from all epochs.

    The error is the root of the mean of the squared errors over the holdouts; a model that
    fails on the long holdout but not on the recent one is scored on the recent one.
    """
    n = len(acc)
    out = []
    for spec in models:
        mse = []
        for k in holdout_sizes(n):
            held = spec.predict(n - k, epochs[n - k:])
            if held is None or not np.all(np.isfinite(held)):
                break
            mse.append(float(np.mean((held - acc[n - k:]) ** 2)))
        rmse = float(np.sqrt(np.mean(mse))) if mse else None
        future = spec.predict(n, future_epochs) if len(future_epochs) else np.array([])
        if future is not None and not np.all(np.isfinite(future)):
            future = None
        out.append(Scored(spec, rmse, future))
    return out


def lr_blind_ok(lrs: np.ndarray, last_epoch: int, future_epochs: np.ndarray, k: int) -> np.ndarray:
    """Per future epoch: True while every LR from the holdout window on stays near the last LR.

    `lrs` are compared by ratio: pass them floored above 0 (History.ratio_lrs)."""
    ref = lrs[last_epoch - 1]
    start = max(last_epoch - k, 0)
    ok = np.empty(len(future_epochs), bool)
    for i, epoch in enumerate(future_epochs):
        window = lrs[start:epoch]
        ok[i] = bool(np.all(np.abs(np.log(window / ref)) <= math.log(LR_BAND)))
    return ok


def valid_where(scored: list[Scored], blind_ok: np.ndarray, horizon: np.ndarray
                ) -> np.ndarray:
    """(models x future epochs): LR-aware models count everywhere, LR-blind ones where the
    plan keeps the LR near its current value; none before its `from_horizon` (`horizon`:
    epochs ahead / epochs done at each future epoch)."""
    lr_ok = np.array([[s.spec.uses_plan] for s in scored], bool) | blind_ok[None, :]
    return lr_ok & (horizon[None, :] >= np.array([[s.spec.from_horizon] for s in scored]))


def model_weights(scored: list[Scored], noise: float) -> np.ndarray:
    """Inverse-MSE weights from the holdout errors; equal weights when none could be scored."""
    rmse = np.array([s.holdout_rmse if s.holdout_rmse is not None and s.future is not None
                     else np.nan for s in scored])
    usable = np.array([s.future is not None for s in scored])
    if not np.isfinite(rmse).any():
        return usable / max(usable.sum(), 1)
    best = np.nanmin(rmse)
    keep = np.isfinite(rmse) & (rmse <= KEEP_WITHIN * max(best, noise))
    w = np.where(keep, 1.0 / (np.nan_to_num(rmse) ** 2 + noise**2 + 1e-9), 0.0)
    return w / w.sum()


def combine(curves: list[np.ndarray | None], weights: np.ndarray, valid: np.ndarray,
            multipliers: np.ndarray | None = None
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(prediction, model spread, each model's share) per future epoch.

    `curves`: each model's forecast (None: it has none); `valid` (models x epochs): where a
    model may count (LR-aware ones always; LR-blind ones while the LR stays near its current
    value). At each epoch the valid models' weights, times their `multipliers` there (models x
    epochs, from forecast.reliability; none: 1), are renormalised into shares; where no
    weighted model is valid, every model with a forecast counts equally.
    """
    has = np.array([c is not None for c in curves], bool)
    n_future = valid.shape[1]
    values = np.array([c if c is not None else np.zeros(n_future) for c in curves],
                      float).reshape(len(curves), n_future)
    w = np.asarray(weights, float)[:, None] * (1.0 if multipliers is None else multipliers)
    w = np.where(valid & has[:, None], w, 0.0)
    none = w.sum(axis=0) <= 0
    w[:, none] = has[:, None].astype(float)
    total = w.sum(axis=0)
    shares = np.divide(w, total, out=np.zeros_like(w), where=total > 0)
    pred = np.sum(shares * values, axis=0)
    spread = np.sqrt(np.sum(shares * (values - pred) ** 2, axis=0))
    return pred, spread, shares


@dataclass(frozen=True)
class BandModel:
    """How wide the bands are: `scale(t) = sqrt(sum_k (coef_k * term_k(t))**2)` over the terms
    of `band_terms` (BAND_TERMS), and `quantiles`, (probability, |truth - prediction| / scale)
    pairs measured on other finished runs, that turn the scale into 80%/95% half-widths."""

    coefs: tuple[float, ...]
    quantiles: tuple[tuple[float, float], ...]

    def scale(self, terms: np.ndarray) -> np.ndarray:
        return np.sqrt(np.sum((np.asarray(terms, float) * np.array(self.coefs)) ** 2, axis=-1))

    def z(self, probability: float) -> float:
        """The |z| that holds `probability` of the normalised errors (interpolated)."""
        p, z = (np.array(v, float) for v in zip(*self.quantiles, strict=True))
        return float(np.interp(probability, np.concatenate([[0.0], p]),
                               np.concatenate([[0.0], z])))

    def bands(self, pred: np.ndarray, scale: np.ndarray) -> tuple[np.ndarray, ...]:
        """(lo80, hi80, lo95, hi95), clipped to 0..100."""
        z80, z95 = self.z(0.8), self.z(0.95)
        return tuple(np.clip(v, 0.0, 100.0) for v in (pred - z80 * scale, pred + z80 * scale,
                                                     pred - z95 * scale, pred + z95 * scale))

    def prob_at_least(self, pred: np.ndarray, scale: np.ndarray, target: float) -> np.ndarray:
        """P(accuracy >= target) at each epoch, from the measured distribution of the
        normalised errors (symmetric; interpolated between its quantiles, reaching certainty
        at twice the largest one)."""
        p, z = (np.array(v, float) for v in zip(*self.quantiles, strict=True))
        inside = np.interp(np.abs(pred - target) / np.maximum(scale, 1e-9),
                           np.concatenate([[0.0], z, [2 * z[-1]]]),
                           np.concatenate([[0.0], p, [1.0]]))
        return 0.5 + 0.5 * np.sign(pred - target) * inside


BAND_TERMS = ("noise", "spread", "move", "extrapolation", "horizon")
# Learned by `python -m forecast.backtest` on all its curves (each curve is scored with a
# model learned on the others).
BANDS = BandModel(coefs=(0.588, 0.535, 0.0001, 0.0001, 0.0658),
                  quantiles=((0.5, 0.591), (0.8, 1.344), (0.9, 2.175), (0.95, 2.843),
                             (0.99, 9.368)))


def plan_extrapolation(seen: np.ndarray, ahead: np.ndarray) -> np.ndarray:
    """Per epoch ahead: how many decades the planned LRs up to it go outside the range the run
    has trained in since its peak (below the lowest LR after the peak, above the peak). `seen`
    and `ahead`: the LRs of the done epochs and of the epochs ahead, floored above 0
    (History.ratio_lrs)."""
    peak_at = int(np.argmax(seen))
    low, high = float(seen[peak_at:].min()), float(seen[peak_at])
    ahead = np.asarray(ahead, float)
    outside = np.maximum(np.maximum(np.log10(low / ahead), np.log10(ahead / high)), 0.0)
    return np.maximum.accumulate(outside) if len(outside) else outside


def band_terms(pred: np.ndarray, spread: np.ndarray, noise: float, level: float,
               extrapolation: np.ndarray, horizon: np.ndarray) -> np.ndarray:
    """(epochs, BAND_TERMS): the run's noise, the models' spread, how far the forecast moves
    from the current level, and, in units of the room left to 100% (the errors of a run at 93%
    are smaller than those of one at 60%), the decades of LR outside what the run has seen and
    the square root of the horizon (epochs ahead / epochs done)."""
    room = max(100.0 - level, 1.0)
    return np.column_stack([np.full(len(pred), noise), spread, np.abs(pred - level),
                            extrapolation * room, np.sqrt(np.maximum(horizon, 0.0)) * room])
