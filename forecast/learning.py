"""What the forecast learns from finished runs, each piece learned leave-one-curve-out.

A finished curve is cut at 25/50/75% of its epochs and forecast as the monitor and
`runwatch forecast` see it by then: the metric stream a trainer writes (`stream_records`: the
whole planned LR schedule in `run_start.lr_schedule`, the optimizer in its config, the epochs so
far). `score` compares the forecast with what followed. From those scores and the finished
curves come the learned pieces, each for a curve from the OTHER curves only, so that no curve
is scored with a piece tuned on itself:

- the LR law's prior on its annealing term (`forecast.lr_law.B_PRIOR`, b against the run's LR
  jitter): `annealing_pairs`, `fit_b_prior`, `loco_b_priors`;
- the prior's gains per optimizer family (`forecast.prior.GAIN_PRIOR`): `prior_samples`,
  `fit_gain_prior`, `loco_gain_priors`;
- each model's reliability by horizon (`forecast.reliability.RELIABILITY`): `loco_reliability`;
- the band model (`forecast.combine.BANDS`): `learn_bands`, `loco_bands`.

`python -m forecast.backtest` runs it over tests/data/curves and the seed run, prints the
tables and the values learned from all curves (the constants in the library).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from runwatch.forecast.combine import BAND_TERMS, BANDS, BandModel
from runwatch.forecast.fitting import least_squares_box, minimize_bounded
from runwatch.forecast.inputs import EpochLog, prepare_history
from runwatch.forecast.lr_law import (
    B_PRIOR,
    FLAT_B_PRIOR,
    VARIANTS,
    BPrior,
    fit_lr_law,
    logit_acc,
    lr_jitter,
)
from runwatch.forecast.prior import (
    ANCHOR_EPOCHS,
    ANY,
    GAIN_PRIOR,
    GainPrior,
    prior_features,
)
from runwatch.forecast.reliability import (
    ForecastErrors,
    Reliability,
    horizon_bands,
    learn_reliability,
)
from runwatch.forecast.result import ForecastResult
from runwatch.schedule import ScheduleSpec, spec_to_dict
from runwatch.stream import SCHEMA_VERSION

CUTS = (0.25, 0.5, 0.75)
REACH_MARGINS = (0.5, 1.0, 2.0, 4.0, 8.0)  # targets scored: the best so far + these points
BAND_LEVELS = (0.5, 0.8, 0.9, 0.95, 0.99)  # the quantiles a band model keeps


@dataclass(frozen=True)
class Curve:
    """A finished run: its whole log, the LR plan it followed, its optimizer (when known) and
    its schedule (when it is one of ours)."""

    name: str
    log: EpochLog
    plan: tuple[float, ...]
    optimizer: str | None = None
    schedule: ScheduleSpec | None = None

    def known(self, share: float) -> int:
        """Epochs known at a cut: `share` of the logged ones, at least 1."""
        return max(int(round(share * len(self.log))), 1)


def stream_records(curve: Curve, n_known: int) -> list[dict]:
    """The metric stream a trainer has written by the n-th logged epoch of the curve."""
    start = {"type": "run_start", "time": 0.0, "schema": SCHEMA_VERSION, "run_id": curve.name,
             "config": {"optim": {"name": curve.optimizer}} if curve.optimizer else {},
             "lr_schedule": list(curve.plan), "epochs": len(curve.plan)}
    if curve.schedule is not None:
        start["schedule"] = spec_to_dict(curve.schedule)
    log = curve.log.head(n_known)
    columns = [n for n in ("test_acc1", "test_loss", "train_acc1", "train_loss", "lr")
               if getattr(log, n) is not None]
    epochs = [{"type": "epoch", "time": 60.0 * float(e), "epoch": int(e),
               **{n: float(getattr(log, n)[i]) for n in columns}}
              for i, e in enumerate(log.epoch)]
    return [start, *epochs]


@dataclass
class CutScore:
    """One forecast of a curve at a cut, against what followed."""

    curve: str
    cut: float
    n_known: int
    final_epoch: int
    final_true: float
    last_value: float  # the accuracy at the cut: the last-value baseline's forecast
    final_pred: float | None  # None: no forecast of the final epoch
    final_band: tuple[float, float, float, float]  # lo80, hi80, lo95, hi95 at the final epoch
    model_final: dict[str, float]  # each model's forecast of the final epoch
    next10_mae: float
    errors: np.ndarray  # truth - forecast, every future epoch with a truth
    terms: np.ndarray  # (those epochs, BAND_TERMS): the band scale's terms
    band_errors: ForecastErrors  # (horizon band, model) -> squared errors, for reliability
    reach: list[tuple[float, float, bool]]  # (target, probability_reach, reached)
    seconds: float
    result: ForecastResult = field(repr=False)

    @property
    def final_error(self) -> float:
        return math.nan if self.final_pred is None else self.final_pred - self.final_true


def score(curve: Curve, cut: float, result: ForecastResult, bands: BandModel,
          seconds: float) -> CutScore:
    """Score a forecast made from the curve's first `curve.known(cut)` epochs."""
    n = curve.known(cut)
    truth = dict(zip(curve.log.epoch.astype(int).tolist(), curve.log.test_acc1.tolist(),
                     strict=True))
    epochs = np.array([p.epoch for p in result.predictions], int)
    pred = np.array([p.acc1 for p in result.predictions])
    known = np.array([e in truth and math.isfinite(truth[e]) for e in epochs], bool)
    true = np.array([truth[e] for e in epochs[known]])
    final_epoch = int(curve.log.epoch[-1])
    at_final = np.flatnonzero(epochs == final_epoch)
    i_final = int(at_final[0]) if len(at_final) else None
    final = result.predictions[i_final] if i_final is not None else None
    nxt = slice(0, min(10, int(known.sum())))
    horizon = horizon_bands(epochs[known], result.last_epoch)
    model_final, band_errors = {}, {}
    for m in result.models:
        if not m.predictions:
            continue
        mp = np.array(m.predictions)
        if i_final is not None:
            model_final[m.name] = float(mp[i_final])
        for band in np.unique(horizon):
            inside = horizon == band
            band_errors[(int(band), m.name)] = (mp[known][inside] - true[inside]) ** 2
    terms = np.array(result.band_terms, float).reshape(len(epochs), len(BAND_TERMS))
    best = max(curve.log.test_acc1[:n][np.isfinite(curve.log.test_acc1[:n])], default=0.0)
    later = true.max() if len(true) else -math.inf
    scale = bands.scale(terms)
    reach = []
    for margin in REACH_MARGINS:
        target = best + margin
        if target < 100.0 and len(pred):
            probability = float(np.max(bands.prob_at_least(pred, scale, target)))
            reach.append((target, probability, bool(later >= target)))
    return CutScore(
        curve=curve.name, cut=cut, n_known=n, final_epoch=final_epoch,
        final_true=truth[final_epoch], last_value=float(curve.log.test_acc1[n - 1]),
        final_pred=final.acc1 if final else None,
        final_band=(final.lo80, final.hi80, final.lo95, final.hi95) if final else (math.nan,) * 4,
        model_final=model_final,
        next10_mae=float(np.mean(np.abs(pred[known][nxt] - true[nxt]))) if len(true) else math.nan,
        errors=true - pred[known], terms=terms[known], band_errors=band_errors, reach=reach,
        seconds=seconds, result=result)


def annealing_pairs(curve: Curve) -> list[tuple[float, float]]:
    """(LR jitter of the history up to each cut, b of the finished curve) for learning B_PRIOR.

    b is the mean over the law's variants of the logit-accuracy fit to the whole curve with a
    flat prior: a finished run has moved its LR enough for the data to set b.
    """
    h = prepare_history(curve.log, list(curve.plan))
    if not h.lr_known:
        return []
    peak = float(h.lrs.max())
    fits = [fit_lr_law(h.epochs, h.acc, h.lrs, v, peak, FLAT_B_PRIOR) for v in VARIANTS]
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


def prior_samples(curve: Curve, per_cut: int = 20) -> list[tuple[float, float, float]]:
    """(decades annealed, ln summed-LR ratio, logit gain) from each cut to `per_cut` epochs
    spread evenly over the rest of the curve (its last one included): what the run gained as
    its plan went on, in the terms of forecast.prior."""
    h = prepare_history(curve.log, list(curve.plan))
    if not h.lr_known:
        return []
    lrs, g = h.ratio_lrs(), logit_acc(h.acc)
    out: list[tuple[float, float, float]] = []
    for cut in CUTS:
        n = max(int(round(cut * len(h.acc))), ANCHOR_EPOCHS)
        if n >= len(h.acc):
            continue
        pick = np.unique(np.linspace(n, len(h.acc) - 1, per_cut).round().astype(int))
        decades, area = prior_features(lrs, int(h.epochs[n - 1]), h.epochs[pick])
        gain = g[pick] - float(np.mean(g[n - ANCHOR_EPOCHS:n]))
        out += zip(decades.tolist(), area.tolist(), gain.tolist(), strict=True)
    return out


def fit_gain_prior(samples: dict[str, list[tuple[float, float, float]]],
                   families: dict[str, str]) -> GainPrior:
    """(G, H) by least squares per optimizer family with at least 2 curves, and pooled (ANY);
    each curve's samples weigh the same."""
    def fit(names: list[str]) -> tuple[float, float]:
        rows = [np.array(samples[c], float) for c in names if samples[c]]
        weights = np.concatenate([np.full(len(r), 1.0 / np.sqrt(len(r))) for r in rows])
        data = np.vstack(rows)
        coef = np.linalg.lstsq(data[:, :2] * weights[:, None], data[:, 2] * weights,
                               rcond=None)[0]
        return float(coef[0]), float(coef[1])

    with_data = [c for c in samples if samples[c]]
    if not with_data:
        return GAIN_PRIOR
    gains = {ANY: fit(with_data)}
    for family in sorted({families[c] for c in with_data} - {ANY}):
        members = [c for c in with_data if families[c] == family]
        if len(members) >= 2:
            gains[family] = fit(members)
    return GainPrior(tuple(sorted(gains.items())))


def loco_gain_priors(samples: dict[str, list[tuple[float, float, float]]],
                     families: dict[str, str]) -> dict[str, GainPrior]:
    """Per curve: the gains learned on the OTHER curves."""
    return {c: fit_gain_prior({o: v for o, v in samples.items() if o != c}, families)
            for c in samples}


def loco_reliability(scores: list[CutScore]) -> dict[str, Reliability]:
    """Per curve: the multipliers learned on the OTHER curves' forecasts."""
    return {curve: learn_reliability(s.band_errors for s in scores if s.curve != curve)
            for curve in sorted({s.curve for s in scores})}


def weighted_quantile(groups: list[np.ndarray], q: float) -> float:
    """Quantile of the pooled values, each group (a curve's cut) weighing the same."""
    groups = [g for g in groups if len(g)]
    values = np.concatenate(groups)
    weights = np.concatenate([np.full(len(g), 1.0 / len(g)) for g in groups])
    order = np.argsort(values)
    cum = np.cumsum(weights[order]) / weights.sum()
    return float(values[order][min(np.searchsorted(cum, q), len(values) - 1)])


def fit_band_coefs(scores: list[CutScore], sweeps: int = 6) -> tuple[float, ...]:
    """The band scale's coefficients that make the errors most likely under a Laplace
    distribution of scale `BandModel.scale(terms)` (each forecast weighing the same): errors
    have heavy tails, and a squared-error fit would follow the few largest. Coordinate descent
    over the log coefficients (1e-4 to 20), Brent's method along each."""
    scores = [s for s in scores if len(s.errors)]
    terms = np.vstack([s.terms for s in scores])
    errors = np.abs(np.concatenate([s.errors for s in scores]))
    weights = np.concatenate([np.full(len(s.errors), 1.0 / len(s.errors)) for s in scores])

    def cost(log_coefs: np.ndarray) -> float:
        scale = np.sqrt(np.sum((terms * np.exp(log_coefs)) ** 2, axis=1)) + 1e-6
        return float(np.sum(weights * (np.log(scale) + errors / scale)))

    log_coefs = np.log(np.maximum(np.array(BANDS.coefs, float), 1e-4))
    for _ in range(sweeps):
        for j in range(len(log_coefs)):
            def along(v: float, j: int = j) -> float:
                trial = log_coefs.copy()
                trial[j] = v
                return cost(trial)

            log_coefs[j] = minimize_bounded(along, math.log(1e-4), math.log(20.0), 1e-3)[0]
    return tuple(float(v) for v in np.exp(log_coefs))


def learn_bands(scores: Iterable[CutScore]) -> BandModel:
    """A band model from scored forecasts: the coefficients (fit_band_coefs), then the
    quantiles of |truth - forecast| / scale over the future epochs, each forecast weighing
    the same."""
    scores = [s for s in scores if len(s.errors)]
    coefs = fit_band_coefs(scores)
    scale = BandModel(coefs, ((1.0, 1.0),)).scale
    z = [np.abs(s.errors) / np.maximum(scale(s.terms), 1e-9) for s in scores]
    return BandModel(coefs, tuple((q, weighted_quantile(z, q)) for q in BAND_LEVELS))


def loco_bands(scores: list[CutScore]) -> dict[str, BandModel]:
    """Per curve: the band model learned on the OTHER curves' forecasts."""
    return {curve: learn_bands(s for s in scores if s.curve != curve)
            for curve in sorted({s.curve for s in scores})}


def final_coverage(scores: Iterable[CutScore], level: int) -> float:
    """Share of forecasts whose final-epoch band (80 or 95) holds the final accuracy; a
    forecast with no final epoch counts as a miss."""
    inside = []
    for s in scores:
        lo, hi = s.final_band[:2] if level == 80 else s.final_band[2:]
        inside.append(s.final_pred is not None and lo <= s.final_true <= hi)
    return float(np.mean(inside))


def brier(scores: Iterable[CutScore]) -> float:
    """Mean squared error of probability_reach over the scored targets."""
    pairs = [(p, float(hit)) for s in scores for _, p, hit in s.reach]
    return float(np.mean([(p - hit) ** 2 for p, hit in pairs])) if pairs else math.nan


def brier_last_value(scores: list[CutScore]) -> float:
    """The Brier score of the last-value baseline: the final accuracy is the accuracy at the
    cut, give or take a normal error whose sd is the RMS of that baseline's final error on the
    OTHER curves at the same cut (learned leave-one-curve-out, as ours is)."""
    out = []
    for s in scores:
        others = [o.final_true - o.last_value for o in scores
                  if o.curve != s.curve and o.cut == s.cut]
        sd = max(float(np.sqrt(np.mean(np.square(others)))), 1e-6) if others else 1.0
        for target, _, hit in s.reach:
            p = 0.5 * (1 + math.erf((s.last_value - target) / (sd * math.sqrt(2))))
            out.append((p - float(hit)) ** 2)
    return float(np.mean(out)) if out else math.nan
