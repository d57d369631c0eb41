"""What the forecast learns from finished runs, each piece learned leave-one-curve-out.

A finished curve is cut at 25/50/75% of its epochs; the forecast sees the epochs up to the cut
and the whole planned LR schedule, and `score_cut` compares it with what followed. From those
scores and the finished curves come the three learned pieces, each for a curve from the OTHER
curves only (so no curve is scored with a piece tuned on itself):

- the LR law's prior on its annealing term (`forecast.lr_law.B_PRIOR`, b against the run's LR
  jitter): `annealing_pairs`, `fit_b_prior`, `loco_b_priors`;
- each model's reliability by horizon (`forecast.reliability.RELIABILITY`): `loco_reliability`;
- the band multipliers (`forecast.combine.CAL80/CAL95`): `loco_multipliers`, `coverage_loco`.

`python bench/forecast_backtest.py` runs it over tests/data/curves and the seed run and prints
the tables and the values learned from all curves (the constants in the library).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from runwatch.forecast.combine import CAL80
from runwatch.forecast.engine import forecast_run
from runwatch.forecast.fitting import least_squares_box
from runwatch.forecast.inputs import EpochLog, prepare_history
from runwatch.forecast.lr_law import B_PRIOR, FLAT_B_PRIOR, VARIANTS, BPrior, fit_lr_law, lr_jitter
from runwatch.forecast.reliability import (
    RELIABILITY,
    ForecastErrors,
    Reliability,
    horizon_bands,
    learn_reliability,
)
from runwatch.forecast.result import ForecastOptions, ForecastResult

CUTS = (0.25, 0.5, 0.75)


@dataclass
class CutScore:
    curve: str
    cut: float
    n_known: int
    final_true: float
    final_pred: float
    next10_mae: float
    model_final_err: dict[str, float]
    model_next10_mae: dict[str, float]
    z: np.ndarray  # |truth - prediction| / band scale, every future epoch with a truth
    band_errors: ForecastErrors  # (horizon band, model) -> squared errors, for reliability
    seconds: float
    result: ForecastResult = field(repr=False)


def band_scale_of(result: ForecastResult) -> np.ndarray:
    """The band scale behind each prediction, read back from its unclipped 80% side."""
    out = []
    for p in result.predictions:
        half = p.acc1 - p.lo80 if p.lo80 > 0 else p.hi80 - p.acc1
        out.append(max(half / CAL80, 1e-6))
    return np.array(out)


def annealing_pairs(log: EpochLog, plan: list[float] | None) -> list[tuple[float, float]]:
    """(LR jitter of the history up to each cut, b of the finished curve) for learning B_PRIOR.

    b is the mean over the law's variants of the logit-accuracy fit to the whole curve with a
    flat prior: a finished run has moved its LR enough for the data to set b.
    """
    h = prepare_history(log, plan)
    if not h.lr_known:
        return []
    peak = float(h.lrs.max())
    fits = [fit_lr_law(h.epochs, h.acc, h.lrs, v, peak, FLAT_B_PRIOR)
            for v in VARIANTS]
    bs = [f.b for f in fits if f is not None]
    if not bs:
        return []
    jitters = [lr_jitter(h.acc[:n], h.epochs[:n], h.lrs, peak)
               for n in (max(int(round(cut * len(h.acc))), 1) for cut in CUTS)]
    return [(j, float(np.mean(bs))) for j in jitters if np.isfinite(j)]


def fit_b_prior(pairs: list[tuple[float, float]]) -> BPrior:
    """b = scale * jitter**exponent by least squares over (jitter, b) pairs (B_PRIOR if < 3)."""
    if len(pairs) < 3:
        return B_PRIOR
    jitter, b = np.array(pairs, float).T
    fit = least_squares_box(lambda th: th[:, :1] * jitter[None, :] ** th[:, 1:] - b[None, :],
                            np.array([1.0, 0.3]), np.array([1e-3, 0.0]), np.array([100.0, 1.0]))
    return BPrior(scale=float(fit.x[0]), exponent=float(fit.x[1]))


def loco_b_priors(pairs: dict[str, list[tuple[float, float]]]) -> dict[str, BPrior]:
    """Per curve: the prior learned on the OTHER curves (B_PRIOR when fewer than 2 others)."""
    out = {}
    for curve in pairs:
        others = [c for c in pairs if c != curve and pairs[c]]
        out[curve] = (fit_b_prior([p for c in others for p in pairs[c]]) if len(others) >= 2
                      else B_PRIOR)
    return out


def score_cut(name: str, log: EpochLog, plan: list[float] | None, cut: float,
              b_prior: BPrior = B_PRIOR, reliability: Reliability = RELIABILITY) -> CutScore:
    """The forecast from the first `cut` of the curve's epochs, against what followed."""
    n = max(int(round(cut * len(log))), 1)
    truth = dict(zip(log.epoch.astype(int).tolist(), log.test_acc1.tolist(), strict=True))
    if not log.percent and max(abs(v) for v in truth.values()) <= 1.0:
        truth = {e: 100 * v for e, v in truth.items()}
    start = time.perf_counter()
    result = forecast_run(log.head(n), plan, 75.0,
                          ForecastOptions(b_prior=b_prior, reliability=reliability))
    seconds = time.perf_counter() - start
    epochs = np.array([p.epoch for p in result.predictions])
    pred = np.array([p.acc1 for p in result.predictions])
    known = np.array([e in truth for e in epochs], bool)
    true = np.array([truth[e] for e in epochs[known]])
    final_epoch = int(log.epoch[-1])
    final_true = truth[final_epoch]
    i_final = int(np.nonzero(epochs == final_epoch)[0][0])
    nxt = slice(0, min(10, int(known.sum())))
    bands = horizon_bands(epochs[known], result.last_epoch)
    model_final, model_next, band_errors = {}, {}, {}
    for m in result.models:
        if not m.predictions:
            continue
        mp = np.array(m.predictions)
        model_final[m.name] = float(mp[i_final] - final_true)
        model_next[m.name] = float(np.mean(np.abs(mp[known][nxt] - true[nxt])))
        for band in np.unique(bands):
            inside = bands == band
            band_errors[(int(band), m.name)] = (mp[known][inside] - true[inside]) ** 2
    z = np.abs(true - pred[known]) / band_scale_of(result)[known]
    return CutScore(name, cut, n, final_true, float(pred[i_final]),
                    float(np.mean(np.abs(pred[known][nxt] - true[nxt]))), model_final,
                    model_next, z, band_errors, seconds, result)


def weighted_quantile(groups: list[np.ndarray], q: float) -> float:
    """Quantile of the pooled values, each group (a curve's cut) weighing the same."""
    values = np.concatenate(groups)
    weights = np.concatenate([np.full(len(g), 1.0 / len(g)) for g in groups])
    order = np.argsort(values)
    cum = np.cumsum(weights[order]) / weights.sum()
    return float(values[order][np.searchsorted(cum, q)])


def loco_multipliers(scores: list[CutScore], q: float) -> dict[str, float]:
    """Per curve: the q-quantile of the OTHER curves' normalised errors (nan when alone)."""
    out = {}
    for curve in sorted({s.curve for s in scores}):
        others = [s.z for s in scores if s.curve != curve and len(s.z)]
        out[curve] = weighted_quantile(others, q) if others else float("nan")
    return out


def coverage_loco(scores: list[CutScore], q: float) -> dict[str, float]:
    """Per curve: mean over its cuts of the fraction of epochs inside its LOCO band."""
    mult = loco_multipliers(scores, q)
    return {curve: float(np.mean([np.mean(s.z <= m) for s in scores
                                  if s.curve == curve and len(s.z)]))
            for curve, m in mult.items()}


def loco_reliability(scores: list[CutScore]) -> dict[str, Reliability]:
    """Per curve: the multipliers learned on the OTHER curves' forecasts."""
    return {curve: learn_reliability(s.band_errors for s in scores if s.curve != curve)
            for curve in sorted({s.curve for s in scores})}
