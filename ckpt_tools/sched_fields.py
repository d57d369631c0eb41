"""The checks each scheduler class's stored fields must pass before anything steps them.

`FIELDS` lists, per torch scheduler class, every field its `step()` reads and how it is
checked; each check turns a raw value into a plain number, string or list, or raises a
one-line RunwatchError naming the field's key path and what it should be (a value the
scheduler divides by must be positive, a factor in its range, ...).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from runwatch.ckpt_tools.tree import KeyPath, integer, kind_of, number, numbers, show
from runwatch.errors import RunwatchError


def pos_int(v: object, p: KeyPath) -> int:
    n = integer(v, p)
    if n < 1:
        raise RunwatchError(f"{show(p)} = {n}: it must be at least 1 (the scheduler divides "
                            "by it)")
    return n


def count(v: object, p: KeyPath) -> int:
    n = integer(v, p)
    if n < 0:
        raise RunwatchError(f"{show(p)} = {n}: a step count cannot be negative")
    return n


def position(v: object, p: KeyPath) -> int:
    """`last_epoch`: -1 for a scheduler in a SequentialLR whose turn has not come yet."""
    n = integer(v, p)
    if n < -1:
        raise RunwatchError(f"{show(p)} = {n}: a scheduler's last_epoch is at least -1")
    return n


def _fraction(low: float, high: float, open_low: bool) -> Callable:
    def check(v: object, p: KeyPath) -> float:
        x = number(v, p)
        if not ((low < x if open_low else low <= x) and x <= high):
            raise RunwatchError(f"{show(p)} = {x}: it must be in "
                                f"{'(' if open_low else '['}{low}, {high}]")
        return x
    return check


def flag(v: object, p: KeyPath) -> bool:
    if not isinstance(v, bool):
        raise RunwatchError(f"{show(p)} is {kind_of(v)}, not true or false")
    return v


def _choice(*options: str) -> Callable:
    def check(v: object, p: KeyPath) -> str:
        if v not in options:
            raise RunwatchError(f"{show(p)} is {v!r:.40}: expected one of {', '.join(options)}")
        return v
    return check


def _milestones(v: object, p: KeyPath) -> list[int]:
    """MultiStepLR's Counter (or a plain list) as a sorted list, repeats kept."""
    if isinstance(v, dict):
        out = []
        for m, n in v.items():
            out += [integer(m, p)] * count(n, (*p, m))
        if len(out) > 100_000:
            raise RunwatchError(f"{show(p)}: more milestones than any schedule has")
        return sorted(out)
    if isinstance(v, (list, tuple)):
        return sorted(integer(m, (*p, i)) for i, m in enumerate(v))
    raise RunwatchError(f"{show(p)} is {kind_of(v)}, not a list of milestones")


def _any_number(v: object, p: KeyPath) -> float:
    """A number that may be infinite (ReduceLROnPlateau's `best` starts at inf)."""
    if isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isnan(v):
        return float(v)
    raise RunwatchError(f"{show(p)} is {kind_of(v)}, not a number")


def _phases(v: object, p: KeyPath) -> list[dict]:
    if not isinstance(v, list) or not v:
        raise RunwatchError(f"{show(p)} is {kind_of(v)}, not OneCycleLR's list of phases")
    out, start = [], 0.0
    keys = ("start_lr", "end_lr", "start_momentum", "end_momentum")
    for i, phase in enumerate(v):
        if not isinstance(phase, dict):
            raise RunwatchError(f"{show((*p, i))} is {kind_of(phase)}, not a phase")
        end = number(phase.get("end_step"), (*p, i, "end_step"))
        if end <= start:
            raise RunwatchError(f"{show((*p, i, 'end_step'))} = {end}: each phase must end after "
                                "the one before (too few total_steps for pct_start)")
        names = {k: phase.get(k) for k in keys}
        if not all(isinstance(n, str) for n in names.values()):
            raise RunwatchError(f"{show((*p, i))}: its start/end names are not strings")
        out.append({"end_step": end, **names})
        start = end
    return out


def _some_numbers(v: object, p: KeyPath) -> list[float]:
    out = numbers(v, p)
    if not out:
        raise RunwatchError(f"{show(p)} is empty: a scheduler has one entry per param group")
    return out


BASE = {"last_epoch": position, "base_lrs": _some_numbers}
# What each modelled class's step() reads, and how each field is checked.
FIELDS: dict[str, dict[str, Callable]] = {
    "StepLR": {**BASE, "step_size": pos_int, "gamma": number},
    "MultiStepLR": {**BASE, "milestones": _milestones, "gamma": number},
    "ExponentialLR": {**BASE, "gamma": number},
    "PolynomialLR": {**BASE, "total_iters": pos_int, "power": number},
    "ConstantLR": {**BASE, "factor": _fraction(0.0, 1.0, True), "total_iters": count},
    "LinearLR": {**BASE, "start_factor": _fraction(0.0, 1.0, True),
                 "end_factor": _fraction(0.0, 1.0, False), "total_iters": pos_int},
    "CosineAnnealingLR": {**BASE, "T_max": pos_int, "eta_min": number},
    "CosineAnnealingWarmRestarts": {**BASE, "T_0": pos_int, "T_i": pos_int, "T_mult": pos_int,
                                    "T_cur": count, "eta_min": number},
    "OneCycleLR": {**BASE, "total_steps": pos_int, "_schedule_phases": _phases,
                   "_anneal_func_type": _choice("cos", "linear"), "cycle_momentum": flag},
    "CyclicLR": {**BASE, "max_lrs": numbers, "total_size": number,
                 "step_ratio": _fraction(0.0, 1.0, True),
                 "mode": _choice("triangular", "triangular2", "exp_range"), "gamma": number,
                 "scale_mode": _choice("cycle", "iterations"), "cycle_momentum": flag},
    "ReduceLROnPlateau": {"last_epoch": count, "factor": number, "patience": count,
                          "cooldown": count, "cooldown_counter": count,
                          "num_bad_epochs": count, "best": _any_number,
                          "mode": _choice("min", "max"), "threshold": number,
                          "threshold_mode": _choice("rel", "abs"), "min_lrs": numbers,
                          "eps": number},
    "SequentialLR": {"last_epoch": count},
    "ChainedScheduler": {},
}
OPTIONAL = {"_step_count": count, "_is_initial": flag}
