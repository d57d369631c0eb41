"""The Markdown run report: every number computed from the history and the forecast.

Sections follow the team's hand-written report: summary, epoch table (gains and phase tags),
phases, each model's prediction, the consolidated prediction with intervals, upcoming events,
incident analysis (restarts and regressions, before/after, and what the forecast said from
the epoch before), scenarios, and recommendations that follow from the scenarios. Pure: takes
the parsed history and the results, returns text.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from runwatch.forecast.engine import MIN_FIT_EPOCHS, forecast_run
from runwatch.forecast.inputs import EpochLog, History
from runwatch.forecast.result import Event, ForecastResult
from runwatch.schedule import find_jumps

FULL_TABLE_ROWS = 60  # longer runs show every k-th epoch plus the tagged ones
LOW_LR = 0.1  # below this fraction of the peak the run is annealed


@dataclass(frozen=True)
class IncidentCheck:
    """What the forecast said for an incident epoch from the epoch before it."""

    epoch: int
    predicted: float
    lo80: float
    hi80: float


def incident_checks(history: EpochLog, plan: list[float] | None, target: float,
                    h: History, result: ForecastResult, limit: int) -> dict[int, IncidentCheck]:
    """For each regression and LR rise behind (the first `limit`), the forecast made from
    the epochs before it: what it expected at the incident epoch."""
    drops = {e.epoch: e.fields["drop"] for e in result.events if e.kind == "regression"}
    jumps = ({j.epoch for j in find_jumps([float(v) for v in h.ratio_lrs()[:h.last_epoch]], 1)}
             if h.lr_known else set())
    # LR rises first, then the largest drops.
    ranked = sorted(jumps | set(drops), key=lambda e: (e not in jumps, -drops.get(e, 0.0)))
    out = {}
    for epoch in sorted(ranked[:limit]):
        known = history.upto(epoch - 1)
        if len(known) < MIN_FIT_EPOCHS:  # a forecast from fewer only holds the last value
            continue
        before = forecast_run(known, plan, target)
        hit = [p for p in before.predictions if p.epoch == epoch]
        if hit:
            out[epoch] = IncidentCheck(epoch, hit[0].acc1, hit[0].lo80, hit[0].hi80)
    return out


def phase_tags(h: History) -> dict[int, str]:
    """A tag per done epoch from its LR and the previous one's: warmup, restart, LR jump,
    LR drop, annealing, low LR, constant."""
    peak = float(h.lrs.max())
    tags = {}
    for epoch in range(1, h.last_epoch + 1):
        lr = h.lrs[epoch - 1]
        prev = h.lrs[epoch - 2] if epoch > 1 else lr
        if prev > 0 and lr / prev >= 2:
            tags[epoch] = "restart" if lr >= 0.5 * peak else "LR jump"
        elif lr > prev * 1.0001:
            tags[epoch] = "warmup"
        elif prev > 0 and lr / prev <= 0.5 and prev >= 0.1 * peak:
            tags[epoch] = "LR drop"
        elif lr < LOW_LR * peak:
            tags[epoch] = "low LR"
        elif lr < prev * 0.9999:
            tags[epoch] = "annealing"
        else:
            tags[epoch] = "constant LR"
    return tags


def _fmt(value: float | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:.{digits}f}"


def epoch_table(h: History, tags: dict[int, str], marks: dict[int, list[str]]) -> list[str]:
    rows = ["| epoch | LR | test acc1 | gain | test loss | phase | notes |",
            "|---|---|---|---|---|---|---|"]
    step = max(1, math.ceil(len(h.acc) / FULL_TABLE_ROWS))
    best = int(h.epochs[int(np.argmax(h.acc))])
    for i, epoch in enumerate(h.epochs):
        epoch = int(epoch)
        if i % step and epoch not in marks and epoch != best and i != len(h.acc) - 1 and \
                tags.get(epoch) in ("annealing", "low LR", "constant LR"):
            continue
        gain = h.acc[i] - h.acc[i - 1] if i else None
        loss = float(h.loss[i]) if h.loss is not None else None
        note = ", ".join(marks.get(epoch, []) + (["best"] if epoch == best else []))
        rows.append(f"| {epoch} | {h.lrs[epoch - 1]:.3g} | {h.acc[i]:.2f} | "
                    f"{_fmt(gain, 2) if gain is None else f'{gain:+.2f}'} | {_fmt(loss, 4)} | "
                    f"{tags.get(epoch, '')} | {note} |")
    if step > 1:
        rows.append(f"\n(every {step}th epoch of steady phases shown, plus every tagged one)")
    return rows


def phases(h: History, tags: dict[int, str]) -> list[str]:
    """Contiguous runs of one kind of LR phase, with their accuracy gain."""
    groups: list[list[int]] = []
    simple = {e: ("schedule change" if t in ("restart", "LR jump", "LR drop") else t)
              for e, t in tags.items()}
    for epoch in sorted(simple):
        if groups and simple[groups[-1][-1]] == simple[epoch] and epoch == groups[-1][-1] + 1:
            groups[-1].append(epoch)
        else:
            groups.append([epoch])
    acc = dict(zip(h.epochs.tolist(), h.acc.tolist(), strict=True))
    # "before" is the epoch before the phase, so that before + gain = end on every row.
    rows = ["| epochs | phase | LR | acc1 before -> end | gain | per epoch |",
            "|---|---|---|---|---|---|"]
    for g in groups:
        a0, a1 = acc.get(g[0]), acc.get(g[-1])
        if a0 is None or a1 is None:
            continue
        before = acc.get(g[0] - 1, a0)
        gain = a1 - before
        rows.append(f"| {g[0]}-{g[-1]} | {simple[g[0]]} | {h.lrs[g[0] - 1]:.3g} -> "
                    f"{h.lrs[g[-1] - 1]:.3g} | {before:.2f} -> {a1:.2f} | {gain:+.2f} | "
                    f"{gain / len(g):+.2f} |")
    return rows


def model_table(result: ForecastResult) -> list[str]:
    end = result.predictions[-1].epoch if result.predictions else result.last_epoch
    rows = [f"| model | kind | error on held-out recent epochs (RMSE) | weight | "
            f"epoch {end} |", "|---|---|---|---|---|"]
    for m in sorted(result.models, key=lambda m: -m.weight):
        rows.append(f"| {m.name} | {m.group} | {_fmt(m.holdout_rmse)} | {m.weight:.2f} | "
                    f"{_fmt(m.final_acc1)} |")
    return rows


def prediction_table(result: ForecastResult, events: list[Event]) -> list[str]:
    preds = result.predictions
    if not preds:
        return ["(no epochs left in the plan)"]
    keep = {p.epoch for p in preds[:5]} | {preds[-1].epoch}
    keep |= {p.epoch for p in preds[:: max(1, len(preds) // 12)]}
    for e in events:
        keep |= {e.epoch - 1, e.epoch}
    if result.eta_epoch:
        keep.add(result.eta_epoch)
    rows = ["| epoch | forecast acc1 | 80% interval | 95% interval |", "|---|---|---|---|"]
    for p in preds:
        if p.epoch in keep:
            rows.append(f"| {p.epoch} | {p.acc1:.2f} | {p.lo80:.2f} - {p.hi80:.2f} | "
                        f"{p.lo95:.2f} - {p.hi95:.2f} |")
    return rows


def event_lines(events: list[Event]) -> list[str]:
    out = []
    for e in events:
        f = e.fields
        if e.kind in ("lr_restart", "lr_jump"):
            out.append(f"- **{e.kind}** at epoch {e.epoch}: LR {f['lr_before']:.3g} -> "
                       f"{f['lr_after']:.3g} (x{f['ratio']:.0f}); forecast {f['acc_before']:.2f}"
                       f" -> {f['acc_after']:.2f}: a drop of {f['predicted_drop']:.2f} points"
                       + (f", back above {f['acc_before']:.2f} by epoch "
                          f"{f['predicted_recovery_epoch']}" if f["predicted_recovery_epoch"]
                          else ", not recovered within the plan"))
        elif e.kind == "lr_drop":
            out.append(f"- **lr_drop** at epoch {e.epoch}: LR {f['lr_before']:.3g} -> "
                       f"{f['lr_after']:.3g}; forecast gain {f['predicted_gain']:+.2f} points")
        else:
            out.append(f"- **{e.kind}** (epoch {e.epoch}): " + ", ".join(
                f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in f.items()))
    return out or ["- none"]


def incidents(h: History, checks: dict[int, IncidentCheck]) -> list[str]:
    """Before/after numbers for every regression and every LR rise behind."""
    acc = dict(zip(h.epochs.tolist(), h.acc.tolist(), strict=True))
    loss = dict(zip(h.epochs.tolist(), h.loss.tolist(), strict=True)) if h.loss is not None \
        else {}
    out = []
    for epoch in sorted(checks):
        c = checks[epoch]
        a0, a1 = acc.get(epoch - 1), acc.get(epoch)
        if a0 is None or a1 is None:
            continue
        lr0, lr1 = h.lrs[epoch - 2], h.lrs[epoch - 1]
        later = [e for e in h.epochs.tolist() if e > epoch and acc[e] >= a0]
        ratio = f" (x{lr1 / lr0:.1f})" if lr0 > 0 else ""
        text = (f"- **epoch {epoch}**: LR {lr0:.3g} -> {lr1:.3g}{ratio}; test acc1 "
                f"{a0:.2f} -> {a1:.2f} ({a1 - a0:+.2f})")
        if epoch in loss and epoch - 1 in loss:
            text += f"; test loss {loss[epoch - 1]:.4f} -> {loss[epoch]:.4f}"
        text += (f". Back above {a0:.2f} at epoch {later[0]}." if later
                 else f". Not back above {a0:.2f} by epoch {h.last_epoch}.")
        text += (f" From epoch {epoch - 1}, this forecast said {c.predicted:.2f} "
                 f"(80%: {c.lo80:.2f} - {c.hi80:.2f}) for epoch {epoch}.")
        out.append(text)
    return out or ["- none: no regression beyond the run's noise and no LR rise so far"]


def scenario_table(result: ForecastResult) -> list[str]:
    if not result.scenarios:
        if not result.predictions:
            return ["(no scenarios: the plan has no epochs left; pass a longer one with --plan)"]
        if any("scenario" in n for n in result.notes):
            return ["(no scenarios: see the notes)"]
        return ["(no scenarios: the run's plan is unknown; pass --plan)"]
    rows = ["| scenario | from epoch | final epoch | final acc1 (80%) | best acc1 (epoch) | "
            f"reaches {result.target:g}%? |", "|---|---|---|---|---|---|"]
    for s in result.scenarios:
        reach = next((e for e, _, a in s.curve if a >= result.target), None)
        rows.append(f"| {s.name} | {s.checkpoint_epoch} | {s.final_epoch} | {s.final_acc1:.2f} "
                    f"({s.lo80:.2f} - {s.hi80:.2f}) | {s.best_acc1:.2f} ({s.best_epoch}) | "
                    f"{f'epoch {reach}' if reach else 'no'} |")
    return rows


def recommendations(result: ForecastResult) -> list[str]:
    """Plain advice read off the scenarios, the events ahead and the target."""
    out = []
    if result.scenarios:
        planned = result.scenarios[0]
        best = max(result.scenarios, key=lambda s: s.final_acc1)
        switch = best is not planned and best.final_acc1 - planned.final_acc1 >= 0.5
        if not switch:
            out.append(f"Keep the plan: no scenario beats it by 0.5 points or more at its end "
                       f"({planned.final_acc1:.2f} at epoch {planned.final_epoch}).")
        else:
            clear = best.lo80 > planned.hi80
            out.append(f"Switch to **{best.name}** (from epoch {best.checkpoint_epoch}): "
                       f"{best.final_acc1:.2f} at epoch {best.final_epoch} against "
                       f"{planned.final_acc1:.2f} for the plan "
                       f"({best.final_acc1 - planned.final_acc1:+.2f} points; "
                       + ("the 80% intervals do not overlap)." if clear
                          else "the 80% intervals overlap, so the gain is not certain)."))
        close = [s.name for s in result.scenarios
                 if s is not best and best.final_acc1 - s.final_acc1 < 0.5]
        if switch and close:
            out.append(f"Within 0.5 points of it, as good within the forecast's precision: "
                       f"{', '.join(close)}.")
        reaching = [s for s in result.scenarios if s.best_acc1 >= result.target]
        if not reaching and result.best_acc1 < result.target:
            out.append(f"No scenario reaches {result.target:g}%: the best is "
                       f"{best.best_acc1:.2f} ({best.name}); a longer budget or a different "
                       "recipe is needed for the target.")
    restarts = [e for e in result.events if e.kind == "lr_restart"]
    if restarts:
        epochs = " and ".join(", ".join(str(e.epoch) for e in restarts).rsplit(", ", 1))
        drops = " and ".join(", ".join(f"{e.fields['predicted_drop']:.1f}" for e in restarts)
                             .rsplit(", ", 1))
        out.append(f"The plan restarts the LR at epoch{'s' if len(restarts) > 1 else ''} "
                   f"{epochs}: expect about {drops} points lost there; change the schedule "
                   f"before epoch {restarts[0].epoch} if that is not wanted.")
    stop = None
    for e in result.events:
        if e.kind == "early_stop_patience" and e.fields["predicted_stop_epoch"]:
            stop = e.fields["predicted_stop_epoch"]
            out.append(f"Early stopping (patience {e.fields['patience']}) is forecast to stop "
                       f"the run at epoch {stop}, before a new best.")
    if result.best_acc1 >= result.target:
        out.append(f"The target {result.target:g}% was reached at epoch {result.eta_epoch}.")
    elif result.probability_reach >= 0.5 and result.eta_epoch:
        out.append(f"On the current plan {result.target:g}% is more likely than not from "
                   f"epoch {result.eta_epoch}" + (
                       f", but only if early stopping does not end the run at epoch {stop} "
                       "first." if stop is not None and stop < result.eta_epoch else "."))
    return [f"{i}. {text}" for i, text in enumerate(out, 1)] or ["1. Nothing to change."]


def render_report(name: str, source_kind: str, h: History, result: ForecastResult,
                  checks: dict[int, IncidentCheck], plan_text: str) -> str:
    """The whole report as Markdown."""
    behind = [e for e in result.events if e.epoch <= result.last_epoch
              and e.kind not in ("lr_restart", "lr_jump", "lr_drop")]
    ahead = [e for e in result.events if e.kind in ("lr_restart", "lr_jump", "lr_drop")]
    marks: dict[int, list[str]] = {}
    for e in behind:
        if e.kind == "regression":
            marks.setdefault(e.epoch, []).append(f"regression {-e.fields['drop']:+.2f}")
    tags = phase_tags(h)
    eta = (f"epoch {result.eta_epoch}" + (f" ({result.eta_time})" if result.eta_time else "")
           if result.eta_epoch else "not within the plan")
    end = result.predictions[-1] if result.predictions else None
    lines = [
        f"# Run report: {name}", "",
        f"Source: {source_kind}. Plan: {plan_text}. Every number below is computed from the "
        "log and the plan by `runwatch report`.", "",
        "## Summary", "",
        f"- Last epoch {result.last_epoch}: test acc1 {result.last_acc1:.2f}; best "
        f"{result.best_acc1:.2f} at epoch {result.best_epoch}.",
        (f"- Forecast at the plan's end (epoch {end.epoch}): {end.acc1:.2f} (80%: "
         f"{end.lo80:.2f} - {end.hi80:.2f}; 95%: {end.lo95:.2f} - {end.hi95:.2f})."
         if end else "- The plan has no epochs left."),
        (f"- Target {result.target:g}%: reached at epoch {result.eta_epoch}."
         if result.eta_epoch is not None and result.eta_epoch <= result.last_epoch else
         f"- Target {result.target:g}%: probability {result.probability_reach:.0%} within the "
         f"plan; more likely than not: {eta}."), "",
        "## Epochs", "", *epoch_table(h, tags, marks), "",
        "## Phases", "", *phases(h, tags), "",
        "## Models", "",
        "Each model is refitted without the most recent epochs and scored on them; the weights "
        "come from those errors, and at each future epoch the consolidated forecast multiplies "
        "them by how reliable the model has been that far ahead on other finished runs. Models "
        "that ignore the LR only count where the plan keeps the LR near its current value.", "",
        *model_table(result), "",
        "## Consolidated forecast", "", *prediction_table(result, ahead), "",
        "## Upcoming events", "", *event_lines(ahead), "",
        "## Events so far", "", *event_lines(behind), "",
        "## Incidents", "", *incidents(h, checks), "",
        "## Scenarios", "", *scenario_table(result), "",
        "## Recommendations", "", *recommendations(result), "",
    ]
    if result.notes:
        lines += ["## Notes", "", *[f"- {n}" for n in result.notes], ""]
    return "\n".join(lines)
