"""What-if: candidate schedules from a checkpoint, and the LR-aware laws re-run under them.

- `parse_plan("cosine_restarts:lr=0.05,t0=30,eta_min=1e-5,epochs=100")` -> ScheduleSpec
  (`seed` is the seed run's configured plan, runwatch.stream.replay.SEED_SCHEDULE);
- `standard_scenarios(...)` -> the candidates every forecast compares: continue as planned;
  T_0 changed keeping the phase (and matching the LR); anneal from the current LR over the
  remaining budget; rewind to the best epoch then one new cosine; a different peak LR.

A candidate is (name, checkpoint epoch c, LRs of the epochs after c). The run's state at c is
what the laws need (summed LR and current LR up to c), so the laws fitted on the whole history
predict any candidate without refitting; their weights are the ones their holdout errors
earned, times their reliability at each epoch's horizon (forecast.reliability), as in the main
forecast.

Anchored on the main forecast: the laws alone would say something else for the plan as it
stands than the main forecast, which also weighs the LR-blind curves and the prior, so
"continue as planned" would disagree with the number shown beside it. Only the laws can tell
one schedule from another, so a scenario is the main forecast plus what the laws say the
change of schedule changes: at each epoch, the scenario's law curve shifted by (main forecast
- the laws' curve for the plan) at that epoch, the nearest forecast epoch outside the
forecast's range (a rewind's retrained epochs, epochs past the plan's end). Its band is the
main forecast's, widened by whatever the laws are less sure of under the candidate than under
the plan. The plan itself thus gets exactly the main forecast and its band. Pure: numpy only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from runwatch.errors import RunwatchError
from runwatch.forecast.combine import BANDS, BandModel, band_terms, combine, plan_extrapolation
from runwatch.forecast.inputs import LR_FLOOR, History
from runwatch.forecast.lr_law import LawFit, noise_sd, predict_lr_law
from runwatch.forecast.reliability import RELIABILITY, Reliability
from runwatch.forecast.result import Scenario
from runwatch.schedule import SCHEDULE_NAMES, ScheduleSpec, continue_schedule, lr_plan
from runwatch.stream.replay import SEED_SCHEDULE

Candidate = tuple[str, int, tuple[float, ...]]
PLAN_KEYS = {"lr": "base_lr", "epochs": "epochs", "t0": "t0", "t_mult": "t_mult",
             "eta_min": "eta_min", "warmup": "warmup_epochs",
             "warmup_start_factor": "warmup_start_factor", "milestones": "milestones",
             "gamma": "gamma"}
PLAN_SYNTAX = ("NAME:key=value,... with NAME cosine_restarts|cosine|step|constant and keys "
               f"{', '.join(PLAN_KEYS)} (milestones as 60/120/160), or 'seed'")
PEAK_FACTOR = 0.5


def acc_at_checkpoint(h: History, checkpoint_epoch: int) -> float:
    """Observed accuracy of the checkpoint epoch (the nearest earlier usable epoch)."""
    i = int(np.searchsorted(h.epochs, checkpoint_epoch, side="right")) - 1
    return float(h.acc[max(i, 0)])


@dataclass(frozen=True)
class Anchor:
    """The main forecast the scenarios are anchored on: its epochs, prediction and band scale
    (BandModel.scale) at each."""

    epochs: np.ndarray
    pred: np.ndarray
    scale: np.ndarray


@dataclass(frozen=True)
class _LawCurve:
    epochs: np.ndarray
    lrs: np.ndarray  # LRs of `epochs`
    pred: np.ndarray
    scale: np.ndarray  # the band's scale at each epoch


def _law_curve(h: History, fits: dict[str, LawFit], weights: dict[str, float],
               checkpoint: int, after: np.ndarray, reliability: Reliability,
               bands: BandModel) -> _LawCurve:
    """The weighted laws' prediction and band scale for the epochs after `checkpoint`."""
    lrs = np.concatenate([h.lrs[:checkpoint], after])
    epochs = np.arange(checkpoint + 1, len(lrs) + 1)
    names = list(fits)
    curves = [predict_lr_law(fits[m], lrs)[checkpoint:] for m in names]
    pred, spread, _ = combine(curves, np.array([weights.get(m, 0.0) for m in names]),
                              np.ones((len(names), len(epochs)), bool),
                              reliability.multipliers(names, epochs, h.last_epoch))
    level = acc_at_checkpoint(h, checkpoint)
    noise = max(noise_sd(h.acc), 0.1) if len(h.acc) >= 4 else 1.0
    ahead = np.maximum(lrs[checkpoint:], LR_FLOOR * float(h.lrs.max()))
    extrapolation = plan_extrapolation(h.ratio_lrs()[:h.last_epoch], ahead)
    terms = band_terms(pred, spread, noise, level, extrapolation,
                       (epochs - h.last_epoch) / h.last_epoch)
    return _LawCurve(epochs, lrs[checkpoint:], pred, bands.scale(terms))


def run_scenario(h: History, fits: dict[str, LawFit], weights: dict[str, float],
                 candidate: Candidate, anchor: tuple[Anchor, _LawCurve] | None = None,
                 reliability: Reliability = RELIABILITY, bands: BandModel = BANDS) -> Scenario:
    """One candidate's curve, with an 80% band on its final accuracy: anchored on the main
    forecast (`anchor`: it and the laws' curve for the plan; module docstring), or the laws'
    own curve when there is no forecast to anchor on."""
    name, checkpoint, after = candidate
    own = _law_curve(h, fits, weights, checkpoint, np.asarray(after, float), reliability, bands)
    pred, scale = own.pred, float(own.scale[-1])
    if anchor is not None:
        main, planned = anchor
        at = np.clip(own.epochs - int(main.epochs[0]), 0, len(main.epochs) - 1)
        pred = np.clip(pred + main.pred[at] - planned.pred[at], 0.0, 100.0)
        extra = max(scale**2 - float(planned.scale[at[-1]]) ** 2, 0.0)
        scale = math.sqrt(float(main.scale[at[-1]]) ** 2 + extra)
    half = bands.z(0.8) * scale
    best = int(np.argmax(pred))
    return Scenario(
        name=name, checkpoint_epoch=checkpoint, final_epoch=int(own.epochs[-1]),
        final_acc1=float(pred[-1]), lo80=float(max(pred[-1] - half, 0.0)),
        hi80=float(min(pred[-1] + half, 100.0)), best_acc1=float(pred[best]),
        best_epoch=int(own.epochs[best]),
        curve=tuple((int(e), float(lr), float(a))
                    for e, lr, a in zip(own.epochs, own.lrs, pred, strict=True)),
    )


def run_scenarios(h: History, fits: dict[str, LawFit | None], weights: dict[str, float],
                  candidates: list[Candidate], main: Anchor | None = None,
                  reliability: Reliability = RELIABILITY,
                  bands: BandModel = BANDS) -> tuple[list[Scenario], list[str]]:
    """Every candidate that can be evaluated, anchored on the `main` forecast when it has
    epochs ahead, and notes on the ones that cannot."""
    usable = {m: f for m, f in fits.items() if f is not None}
    if not candidates:
        return [], []
    if not usable:
        return [], ["scenarios need the LR-aware laws, which could not be fitted "
                    "(no LR known or too few epochs)"]
    anchor = None
    if main is not None and len(main.epochs):
        anchor = main, _law_curve(h, usable, weights, h.last_epoch, h.lrs[h.last_epoch:],
                                  reliability, bands)
    out, notes = [], []
    for candidate in candidates:
        name, checkpoint, after = candidate
        if not 1 <= checkpoint <= h.last_epoch or not after:
            notes.append(f"scenario {name!r} skipped: checkpoint epoch {checkpoint} is not a "
                         f"done epoch (1..{h.last_epoch}) or it has no epochs after it")
            continue
        out.append(run_scenario(h, usable, weights, candidate, anchor, reliability, bands))
    return out, notes


def _value(key: str, text: str) -> object:
    if key == "milestones":
        return tuple(int(m) for m in text.split("/") if m)
    if key in ("epochs", "t0", "t_mult", "warmup_epochs"):
        return int(text)
    return float(text)


def parse_plan(text: str) -> ScheduleSpec:
    """A ScheduleSpec from the concise syntax; RunwatchError naming the bad part."""
    if text.strip() == "seed":
        return SEED_SCHEDULE
    name, _, body = text.strip().partition(":")
    if name.strip() not in SCHEDULE_NAMES:  # a typo in the name first, before its keys
        raise RunwatchError(f"unknown schedule {name.strip()!r} in --plan: write {PLAN_SYNTAX}")
    values: dict[str, object] = {}
    for item in filter(None, body.split(",")):
        key, sep, raw = item.partition("=")
        field_name = PLAN_KEYS.get(key.strip())
        if not sep or field_name is None:
            raise RunwatchError(f"bad plan item {item!r}: write {PLAN_SYNTAX}")
        try:
            values[field_name] = _value(field_name, raw.strip())
        except ValueError:
            raise RunwatchError(f"bad number in plan item {item!r}: write {PLAN_SYNTAX}") from None
    if "base_lr" not in values or "epochs" not in values:
        raise RunwatchError(f"the plan needs lr= and epochs=: write {PLAN_SYNTAX}")
    return ScheduleSpec(name=name.strip(), **values)


def standard_scenarios(plan: list[float], checkpoint_epoch: int, last_lr: float,
                       best_epoch: int, spec: ScheduleSpec | None = None
                       ) -> tuple[list[Candidate], list[str]]:
    """The standard candidates from `checkpoint_epoch` to the end of `plan`, and notes.

    Without a spec (a foreign log), the LR-shape alternatives are built from the plan's
    own LRs: its peak for the new cosine, its LRs scaled for the different peak.
    """
    total = len(plan)
    c = checkpoint_epoch
    notes: list[str] = []
    if c >= total:
        return [], [f"no scenarios: the plan ends at epoch {total}, the checkpoint is at {c}"]
    peak = max(plan)
    if not peak > 0:
        return [], ["no scenarios: every planned LR is 0"]
    eta_min = spec.eta_min if spec is not None else min(plan)
    out: list[Candidate] = [("continue as planned", c, tuple(plan[c:]))]
    if spec is not None and spec.name == "cosine_restarts":
        long_t0 = max(spec.epochs - spec.warmup_epochs, spec.t0 + 1)
        longer = replace(spec, t0=long_t0, t_mult=1)
        for mode in ("keep-phase", "match-lr"):
            new = continue_schedule(longer, c, last_lr, mode)
            out.append((f"T_0={long_t0}, {mode}", c, tuple(lr_plan(new, c + 1, total))))
    else:
        notes.append("T_0 scenarios need a cosine_restarts plan: skipped")
    base = spec if spec is not None else ScheduleSpec("constant", base_lr=peak, epochs=total)
    if last_lr > 0:
        annealed = continue_schedule(replace(base, epochs=total), c, last_lr,
                                     "anneal-from-current")
        out.append(("anneal from current LR", c, tuple(lr_plan(annealed, c + 1, total))))
    else:
        notes.append(f"'anneal from current LR' skipped: the LR at epoch {c} is already 0")
    if best_epoch < total:
        cosine = ScheduleSpec("cosine", base_lr=peak, epochs=total - best_epoch,
                              eta_min=min(eta_min, peak / 2))
        # At the best epoch already there is nothing to rewind: say what it is.
        name = (f"new cosine from here (epoch {c}, the best)" if best_epoch == c
                else f"rewind to best (epoch {best_epoch}), new cosine")
        out.append((name, best_epoch,
                    tuple(lr_plan(cosine))))
    if spec is not None:
        lower = replace(spec, base_lr=spec.base_lr * PEAK_FACTOR,
                        eta_min=min(spec.eta_min, spec.base_lr * PEAK_FACTOR / 2))
        out.append((f"peak LR x{PEAK_FACTOR:g}", c, tuple(lr_plan(lower, c + 1, total))))
    else:
        out.append((f"peak LR x{PEAK_FACTOR:g}", c, tuple(v * PEAK_FACTOR for v in plan[c:])))
    return out, notes
