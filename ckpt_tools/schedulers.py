"""Torch LR schedulers as plain state machines over their stored fields (torch-free).

`next_lrs` answers "which LR will the next epochs really use" from a scheduler's `state_dict()`
and the optimizer's current `lr`: the first resumed epoch runs at the optimizer's `lr`, and each
`step()` then changes it exactly as torch 2.x does, including the chainable forms
(CosineAnnealingLR, StepLR, MultiStepLR, ConstantLR, LinearLR compute from the optimizer's
current LR, so their `base_lrs` matter only for closed-form steps). Cosine values come from
`trainer.schedule.cosine_value`, the project's one cosine.
"""

from __future__ import annotations

import copy
import math
from bisect import bisect_right

from runwatch.errors import RunwatchError
from runwatch.schedule import cosine_value

# Field sets that identify a scheduler's state (SequentialLR stores no child type names).
SIGNATURES = (
    ("SequentialLR", {"_milestones", "_schedulers"}),
    ("CosineAnnealingWarmRestarts", {"T_0", "T_i", "T_cur"}),
    ("CosineAnnealingLR", {"T_max", "eta_min"}),
    ("LinearLR", {"start_factor", "end_factor", "total_iters"}),
    ("ConstantLR", {"factor", "total_iters"}),
    ("StepLR", {"step_size", "gamma"}),
    ("MultiStepLR", {"milestones", "gamma"}),
    ("LambdaLR", {"lr_lambdas"}),
)
SIMULATED = ("SequentialLR", "CosineAnnealingWarmRestarts", "CosineAnnealingLR", "LinearLR",
             "ConstantLR", "StepLR", "MultiStepLR")


def scheduler_type(state: dict) -> str:
    """The torch scheduler class a state_dict belongs to, from its fields."""
    keys = set(state)
    for name, fields in SIGNATURES:
        if fields <= keys:
            return name
    return "unknown"


def _closed_form(kind: str, s: dict, base: float) -> float:
    """`_get_closed_form_lr` at `s['last_epoch']` (what `_update_lr(epoch)` uses)."""
    e = s["last_epoch"]
    if kind == "CosineAnnealingLR":
        return cosine_value(base, s["eta_min"], e, s["T_max"])
    if kind == "LinearLR":
        return base * (s["start_factor"] + (s["end_factor"] - s["start_factor"])
                       * min(s["total_iters"], e) / s["total_iters"])
    if kind == "ConstantLR":
        return base * (s["factor"] + (e >= s["total_iters"]) * (1 - s["factor"]))
    if kind == "StepLR":
        return base * s["gamma"] ** (e // s["step_size"])
    if kind == "MultiStepLR":
        return base * s["gamma"] ** bisect_right(sorted(_milestone_list(s)), e)
    raise RunwatchError(f"{kind} has no closed form")


def _milestone_list(s: dict) -> list[int]:
    ms = s["milestones"]
    return [m for m, n in ms.items() for _ in range(n)] if isinstance(ms, dict) else list(ms)


def _get_lr(kind: str, s: dict, lrs: list[float]) -> list[float]:
    """`get_lr()` after `last_epoch` was advanced: the chainable forms."""
    e = s["last_epoch"]
    if kind == "CosineAnnealingWarmRestarts":
        return [cosine_value(b, s["eta_min"], s["T_cur"], s["T_i"]) for b in s["base_lrs"]]
    if kind == "CosineAnnealingLR":
        t, eta = s["T_max"], s["eta_min"]
        if s.get("_is_initial"):
            return lrs
        if (e - 1 - t) % (2 * t) == 0:
            return [lr + (b - eta) * (1 - math.cos(math.pi / t)) / 2
                    for lr, b in zip(lrs, s["base_lrs"], strict=True)]
        return [(1 + math.cos(math.pi * e / t)) / (1 + math.cos(math.pi * (e - 1) / t))
                * (lr - eta) + eta for lr in lrs]
    if kind == "StepLR":
        return lrs if e == 0 or e % s["step_size"] else [lr * s["gamma"] for lr in lrs]
    if kind == "MultiStepLR":
        count = _milestone_list(s).count(e)
        return [lr * s["gamma"] ** count for lr in lrs] if count else lrs
    if kind == "ConstantLR":
        if e == 0:
            return [lr * s["factor"] for lr in lrs]
        return lrs if e != s["total_iters"] else [lr / s["factor"] for lr in lrs]
    if kind == "LinearLR":
        a, b, n = s["start_factor"], s["end_factor"], s["total_iters"]
        if e == 0:
            return [lr * a for lr in lrs]
        if s.get("_is_initial") or e > n:
            return lrs
        return [lr * (1.0 + (b - a) / (n * a + (e - 1) * (b - a))) for lr in lrs]
    raise unsupported(kind, s)


def unsupported(kind: str, state: dict) -> RunwatchError:
    """The error for a scheduler whose LRs cannot be computed from its fields."""
    what = kind if kind != "unknown" else f"unrecognised scheduler (fields {sorted(state)[:4]})"
    return RunwatchError(f"cannot compute the LRs of {what}: its formula is not stored in the "
                         f"checkpoint, so it cannot be previewed or edited; supported: "
                         f"{', '.join(SIMULATED)}")


def _step(kind: str, s: dict, lrs: list[float]) -> list[float]:
    """One `scheduler.step()`; mutates `s`, returns the optimizer's new LRs."""
    if kind == "SequentialLR":
        s["last_epoch"] += 1
        idx = bisect_right(s["_milestones"], s["last_epoch"])
        child = s["_schedulers"][idx]
        child_kind = scheduler_type(child)
        if idx > 0 and s["_milestones"][idx - 1] == s["last_epoch"]:
            child["last_epoch"] = 0
            if child_kind == "CosineAnnealingWarmRestarts":
                return _get_lr(child_kind, child, lrs)
            return [_closed_form(child_kind, child, b) for b in child["base_lrs"]]
        return _step(child_kind, child, lrs)
    if kind == "CosineAnnealingWarmRestarts":
        s["T_cur"] += 1
        if s["T_cur"] >= s["T_i"]:
            s["T_cur"] %= s["T_i"]
            s["T_i"] *= s["T_mult"]
    s["last_epoch"] += 1
    s["_is_initial"] = False
    return _get_lr(kind, s, lrs)


def next_lrs(state: dict, group_lrs: list[float], count: int) -> list[list[float]]:
    """LRs (one list per param group) of the next `count` epochs, stepping once per epoch."""
    kind = scheduler_type(state)
    if kind not in SIMULATED:
        raise unsupported(kind, state)
    s = copy.deepcopy(state)
    lrs = [float(x) for x in group_lrs]
    out = [lrs]
    for _ in range(count - 1):
        lrs = [float(x) for x in _step(kind, s, lrs)]
        out.append(lrs)
    return out

