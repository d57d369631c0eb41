"""What to do: the schedule changes the monitor can make, forecast and ranked (no textual here).

Each option is what the edit dialog would do (an `EditChoice` from a checkpoint epoch: the
newest one, and the best one when it is older), with the LRs it would train with; the forecast
evaluates them all as scenarios in the same call as the main forecast (`scenarios_of`). The
ranking is by the forecast's accuracy at the plan's end; among the options within MIN_GAIN of
the best (as good within the forecast's precision, as `runwatch report` says) the one that
retrains the fewest epochs is recommended, and keeping the plan when it is among them.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass

from runwatch.errors import RunwatchError
from runwatch.schedule import spec_from_dict
from runwatch.tui.run_model import RunModel
from runwatch.tui.surgery import EditChoice, preview_lrs

MIN_GAIN = 0.5  # points
KEEP = "keep the plan"


@dataclass(frozen=True)
class Option:
    key: str  # the scenario's name in the forecast
    words: str  # what it does, as the panel says it
    checkpoint: int  # the epoch it continues from
    choice: EditChoice | None  # None: keep the plan
    lrs: tuple[float, ...]  # LRs of the epochs after `checkpoint`


@dataclass(frozen=True)
class Ranked:
    option: Option
    final_epoch: int
    final_acc1: float
    lo80: float
    hi80: float
    eta_epoch: int | None  # first epoch the forecast reaches the target, if it does
    cost_epochs: int  # epochs trained again (a rewind)


@dataclass(frozen=True)
class Advice:
    ranked: tuple[Ranked, ...] = ()  # best forecast first
    recommended: Ranked | None = None
    baseline: Ranked | None = None  # the plan as it stands
    note: str = ""  # why there is no advice, when there is none

    def words(self) -> str:
        """The recommended action first, in words, with its forecast against the plan's."""
        best, plan = self.recommended, self.baseline
        if best is None:
            return self.note
        forecast = (f"{best.final_acc1:.1f}% [{best.lo80:.1f}, {best.hi80:.1f}] at epoch "
                    f"{best.final_epoch}")
        if best.option.choice is None:
            return f"Keep the plan: {forecast}; no change gains {MIN_GAIN:g} points or more"
        if plan is None:
            return f"{best.option.words}: {forecast}"
        return f"{best.option.words}: {forecast} instead of {plan.final_acc1:.1f}%"


def _choices(schedule: dict) -> list[EditChoice]:
    """Anneal from the current LR; for warm restarts, one period to the end (T_0 = the
    budget) keeping the LR or the phase."""
    out = [EditChoice(continuity="anneal-from-current")]
    try:
        spec = spec_from_dict(schedule)
    except RunwatchError:
        return out
    long_t0 = spec.epochs - spec.warmup_epochs
    if spec.name == "cosine_restarts" and long_t0 > spec.t0:
        out += [EditChoice(t0=long_t0, continuity=mode) for mode in ("match-lr", "keep-phase")]
    return out


def _words(choice: EditChoice, checkpoint: int, latest: int) -> str:
    start = f"Rewind to epoch {checkpoint} and" if checkpoint < latest else \
        f"At epoch {checkpoint},"
    if choice.continuity == "anneal-from-current":
        return f"{start} anneal from {'there' if checkpoint < latest else 'the current LR'}"
    how = "keeping the LR" if choice.continuity == "match-lr" else "keeping the phase"
    return f"{start} set T_0={choice.t0}, {how}"


def options(model: RunModel, checkpoint_epochs: Collection[int] | None) -> list[Option]:
    """Keeping the plan, and each change from the newest and the best checkpoint epoch.

    `checkpoint_epochs`: the epochs with a checkpoint file; None for a replay, which has no
    files but whose story may say what to do at any epoch.
    """
    latest, best, plan, schedule = model.latest(), model.best(), model.plan, model.schedule
    if latest is None or best is None or not plan or schedule is None or \
            latest.epoch >= len(plan):
        return []
    kept = [e for e in model.live if checkpoint_epochs is None or e in checkpoint_epochs]
    if not kept:
        return []
    starts = [max(kept)] + ([best.epoch] if best.epoch < max(kept) and best.epoch in kept
                            else [])
    out = [Option(KEEP, "Keep the plan", latest.epoch, None, tuple(plan[latest.epoch:]))]
    for start in starts:
        lr = model.live[start].lr
        last_lr = lr if math.isfinite(lr) and lr > 0 else model.planned_lr(start)
        for choice in _choices(schedule):
            try:
                lrs = preview_lrs(schedule, start, last_lr, choice)
            except (RunwatchError, TypeError, ValueError):  # a schedule this cannot continue
                continue
            out.append(Option(f"{start} {choice.continuity} {choice.t0}",
                              _words(choice, start, latest.epoch), start, choice, tuple(lrs)))
    return out


def scenarios_of(opts: list[Option]) -> tuple[tuple[str, int, tuple[float, ...]], ...]:
    """The options as the forecast's candidate schedules."""
    return tuple((o.key, o.checkpoint, o.lrs) for o in opts)


def advise(opts: list[Option], forecast: dict | None, latest_epoch: int,
           planned_epochs: int | None = None) -> Advice:
    """Rank the options by the forecast of each; recommend one. `planned_epochs`: the plan's
    length, to tell a run that has finished it from one the monitor cannot act on."""
    if not opts and planned_epochs and latest_epoch >= planned_epochs:
        return Advice(note=f"what to do: the run has finished its plan ({planned_epochs} "
                           "epochs); to train longer, `runwatch ckpt edit CHECKPOINT --epochs N "
                           "--dry-run` previews a longer plan")
    if not opts:
        return Advice(note="what to do: needs the run's schedule and a checkpoint to act on")
    scenarios = {s.get("name"): s for s in (forecast or {}).get("scenarios") or []}
    target = (forecast or {}).get("target")
    ranked = []
    for option in opts:
        s = scenarios.get(option.key)
        if s is None or s.get("final_acc1") is None:
            continue
        reach = next((p["epoch"] for p in s.get("curve") or [] if target is not None
                      and (p.get("acc1") or 0) >= target), None)
        ranked.append(Ranked(option, s["final_epoch"], s["final_acc1"], s.get("lo80") or math.nan,
                             s.get("hi80") or math.nan, reach,
                             max(latest_epoch - option.checkpoint, 0)))
    if not ranked:
        return Advice(note="what to do: waiting for the forecast of each option")
    ranked.sort(key=lambda r: -r.final_acc1)
    top = ranked[0].final_acc1
    close = [r for r in ranked if top - r.final_acc1 < MIN_GAIN]
    recommended = min(close, key=lambda r: (r.option.choice is not None, r.cost_epochs))
    baseline = next((r for r in ranked if r.option.choice is None), None)
    return Advice(tuple(ranked), recommended, baseline)
