"""forecast_run: history + planned LRs + target -> ForecastResult (pure, deterministic).

Steps: parse the input (forecast.inputs), fit every model and score it on the held-out recent
epochs (forecast.models, forecast.combine), combine, put calibrated bands around the result
(forecast.combine), read the chance and date of reaching the target, list the events behind
and ahead (forecast.events) and evaluate the candidate schedules (forecast.scenarios).
No I/O, no randomness: the same input gives the same result.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone

import numpy as np

from runwatch.forecast.combine import (
    band_terms,
    combine,
    holdout_size,
    lr_blind_ok,
    model_weights,
    plan_extrapolation,
    score_models,
    valid_where,
)
from runwatch.forecast.events import NOISE_FLOOR, events_ahead, events_behind
from runwatch.forecast.inputs import EpochLog, History, prepare_history
from runwatch.forecast.lr_law import noise_sd
from runwatch.forecast.models import PRIOR, build_models
from runwatch.forecast.prior import ANY, optimizer_family
from runwatch.forecast.result import (
    ForecastOptions,
    ForecastResult,
    ModelReport,
    Prediction,
    Scenario,
)
from runwatch.forecast.scenarios import Anchor, Candidate, run_scenarios

MIN_FIT_EPOCHS = 4
UNLIKELY = 0.2


def _noise(h: History) -> float:
    sd = noise_sd(h.acc)
    return max(sd, NOISE_FLOOR) if math.isfinite(sd) else 1.0


def _eta(h: History, opts: ForecastOptions, eta_epoch: int | None) -> str | None:
    epoch_time = opts.epoch_time_s or h.epoch_time_s
    now = opts.now if opts.now is not None else h.now
    if eta_epoch is None or not epoch_time or now is None or eta_epoch <= h.last_epoch:
        return None
    when = now + (eta_epoch - h.last_epoch) * epoch_time
    return datetime.fromtimestamp(when, tz=timezone.utc).isoformat(timespec="minutes")


def _reach(h: History, future: np.ndarray, probs: np.ndarray, target: float,
           notes: list[str]) -> tuple[float, int | None]:
    """(probability of reaching the target within the plan, earliest likely epoch)."""
    reached = np.nonzero(h.acc >= target)[0]
    if len(reached):
        notes.append(f"the target {target:g}% was already reached at epoch "
                     f"{int(h.epochs[reached[0]])}")
        return 1.0, int(h.epochs[reached[0]])
    if not len(probs):
        return 0.0, None
    # The best single epoch's chance: a lower bound on reaching it at any epoch.
    probability = float(probs.max())
    likely = np.nonzero(probs > 0.5)[0]
    eta = int(future[likely[0]]) if len(likely) else None
    if probability < UNLIKELY:
        notes.append(f"reaching {target:g}% by epoch {int(future[-1])} is unlikely "
                     f"(probability {probability:.0%})")
    return probability, eta


def forecast_run(history: EpochLog, plan: list[float] | None, target: float,
                 options: ForecastOptions | None = None) -> ForecastResult:
    """Forecast a run from its history and planned per-epoch LRs (epoch 1..E, or None)."""
    opts = options or ForecastOptions()
    h = prepare_history(history, plan, opts.total_epochs)
    notes = list(h.notes)
    future = np.arange(h.last_epoch + 1, h.total_epochs + 1)
    if not len(future):
        notes.append(f"no epochs left in the plan after epoch {h.last_epoch}: nothing ahead "
                     "to forecast; pass a longer plan (--plan) to see more")
    noise = _noise(h)
    n = len(h.acc)
    family = optimizer_family(opts.optimizer)
    models, fits = build_models(h, opts.b_prior, opts.gain_prior.of(family))
    if n < MIN_FIT_EPOCHS:
        notes.append(f"only {n} usable epoch(s): too few to fit models (at least "
                     f"{MIN_FIT_EPOCHS}); the forecast holds the last accuracy, with wide bands")
        scored, weights, end_weights = [], np.array([]), np.array([])
        pred = np.full(len(future), float(h.acc[-1]))
        spread = np.full(len(future), max(5.0, float(np.ptp(h.acc))))
    else:
        scored = score_models(models, h.epochs, h.acc, future)
        weights = model_weights(scored, noise)
        blind_ok = (lr_blind_ok(h.ratio_lrs(), h.last_epoch, future, holdout_size(n))
                    if h.lr_known else np.ones(len(future), bool))
        multipliers = opts.reliability.multipliers([s.spec.name for s in scored], future,
                                                   h.last_epoch)
        valid = valid_where(scored, blind_ok, (future - h.last_epoch) / h.last_epoch)
        pred, spread, shares = combine([s.future for s in scored], weights, valid, multipliers)
        end_weights = shares[:, -1] if len(future) else np.zeros(len(scored))
        if not any(s.spec.uses_plan and s.future is not None for s in scored) and h.lr_known:
            notes.append("the LR-aware laws could not be fitted: the forecast ignores the plan")
    ratio_lrs = h.ratio_lrs()
    extrapolation = (plan_extrapolation(ratio_lrs[:h.last_epoch], ratio_lrs[future - 1])
                     if h.lr_known else np.zeros(len(future)))
    terms = band_terms(pred, spread, noise, float(h.acc[-1]), extrapolation,
                       (future - h.last_epoch) / h.last_epoch)
    scale = opts.bands.scale(terms)
    lo80, hi80, lo95, hi95 = opts.bands.bands(pred, scale)
    probs = opts.bands.prob_at_least(pred, scale, target)
    probability, eta_epoch = _reach(h, future, probs, target, notes)

    prior_share = float(sum(w for s, w in zip(scored, end_weights, strict=True)
                            if s.spec.name == PRIOR))
    if prior_share >= 0.005:
        who = f"{family} runs" if family != ANY else "runs (optimizer unknown)"
        notes.append(f"the forecast of epoch {int(future[-1])} leans {prior_share:.0%} on the "
                     f"prior: what other {who} gained as their LR was annealed")
    patience = opts.patience if opts.patience and opts.patience > 0 else None  # 0: never stops
    events = events_behind(h, noise, patience, future, pred) + events_ahead(h, future, pred)
    law_weights = {s.spec.name: float(w) for s, w in zip(scored, weights, strict=True)
                   if s.spec.uses_plan}
    candidates: list[Candidate] = list(opts.scenarios)
    scenarios, scenario_notes = run_scenarios(h, fits, law_weights, candidates,
                                              Anchor(future, pred, scale),
                                              opts.reliability, opts.bands)
    notes += scenario_notes
    return ForecastResult(
        target=float(target),
        last_epoch=h.last_epoch,
        last_acc1=float(h.acc[-1]),
        best_acc1=float(h.acc.max()),
        best_epoch=int(h.epochs[int(np.argmax(h.acc))]),
        probability_reach=probability,
        eta_epoch=eta_epoch,
        eta_time=_eta(h, opts, eta_epoch),
        predictions=tuple(
            Prediction(int(e), float(p), float(a), float(b), float(c), float(d))
            for e, p, a, b, c, d in zip(future, pred, lo80, hi80, lo95, hi95, strict=True)),
        events=tuple(events),
        models=tuple(
            ModelReport(s.spec.name, s.spec.group,
                        float(s.future[-1]) if s.future is not None and len(s.future) else None,
                        s.holdout_rmse, float(w),
                        tuple(float(v) for v in s.future) if s.future is not None else (),
                        float(end_w))
            for s, w, end_w in zip(scored, weights, end_weights, strict=True)),
        scenarios=tuple(scenarios),
        notes=tuple(notes),
        prior_share=prior_share,
        band_terms=tuple(tuple(float(v) for v in row) for row in terms),
    )


def forecast_scenarios(history: EpochLog, plan: list[float] | None, checkpoint_epoch: int,
                       candidates: list[tuple[str, list[float]]]) -> tuple[Scenario, ...]:
    """Each named candidate (LRs of the epochs after `checkpoint_epoch`) -> its predicted curve
    and final accuracy, from the LR-aware laws fitted and weighted on `history`."""
    options = ForecastOptions(scenarios=tuple(
        (name, checkpoint_epoch, tuple(float(v) for v in lrs)) for name, lrs in candidates))
    return forecast_run(history, plan, 100.0, options).scenarios
