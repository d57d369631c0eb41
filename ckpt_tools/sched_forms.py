"""A scheduler's schedule as a function of its position, and its state at any position.

`lr_at(s, p)` is the LR of each param group after `p` steps of a run that used `s`'s settings
from its first step (the closed forms torch's classes follow); `state_at(s, p)` is the state
dict such a run's scheduler would have then, and the group fields to go with it. An edit
changes the settings (`ckpt_tools.knobs`), chooses the position (the continuity mode) and
writes `state_at`; the simulator (`schedulers.simulate`) then steps the written state and must
give `lr_at` of every following step, and the oracle replays it in torch.
"""

from __future__ import annotations

import copy
from bisect import bisect_right

from runwatch.ckpt_tools.schedulers import (
    CLOSED_FORM,
    Scheduler,
    _cyclic,
    _one_cycle,
    closed_form,
)
from runwatch.errors import RunwatchError
from runwatch.schedule import cosine_value, restart_position

# What an edit can rewrite (ChainedScheduler and ReduceLROnPlateau: only their LR scale).
POSITIONED = CLOSED_FORM + ("CosineAnnealingWarmRestarts", "OneCycleLR", "CyclicLR",
                            "SequentialLR")


def active(s: Scheduler, p: int) -> tuple[int, int]:
    """(index of the SequentialLR child in charge at outer position `p`, its own position)."""
    ms = s.fields["_milestones"]
    idx = bisect_right(ms, p)
    return idx, p - (ms[idx - 1] if idx else 0)


def main_child(s: Scheduler) -> Scheduler:
    """The schedule proper: the last child of a SequentialLR (its warmup comes first)."""
    return s.children[-1] if s.kind == "SequentialLR" else s


def warmup_length(s: Scheduler) -> int:
    """Steps before the main schedule starts (a SequentialLR's last milestone), else 0."""
    return s.fields["_milestones"][-1] if s.kind == "SequentialLR" else 0


def lr_at(s: Scheduler, groups: list[dict], p: int) -> list[float]:
    """LR of each group after `p` steps of a fresh run with these settings."""
    if p < 0:
        raise RunwatchError(f"position {p} is before the schedule starts")
    if s.kind == "SequentialLR":
        idx, q = active(s, p)
        return lr_at(s.children[idx], groups, q)
    f = s.fields
    if s.kind in CLOSED_FORM:
        return [closed_form(s.kind, f, b, p) for b in f["base_lrs"]]
    if s.kind == "CosineAnnealingWarmRestarts":
        t_cur, t_i = restart_position(p, f["T_0"], f["T_mult"])
        return [cosine_value(b, f["eta_min"], t_cur, t_i) for b in f["base_lrs"]]
    if s.kind == "ChainedScheduler" and all(_multiplies(c) for c in s.children):
        # Each child scales the LR by its own factor, in turn: the product of the factors.
        lrs = list(s.children[0].fields["base_lrs"])
        for child in s.children:
            factor = closed_form(child.kind, child.fields, 1.0, p)
            lrs = [lr * factor for lr in lrs]
        return lrs
    work = [dict(g) for g in groups]
    if s.kind == "OneCycleLR":
        return _one_cycle(dict(f, last_epoch=p), work)
    if s.kind == "CyclicLR":
        return _cyclic(dict(f, last_epoch=p), work)
    raise RunwatchError(f"a {s.kind} cannot be placed at another step (only its LR scaled)")


def _multiplies(s: Scheduler) -> bool:
    """A chainable scheduler whose step multiplies the LR by a factor of its own."""
    return s.kind in CLOSED_FORM and (s.kind != "CosineAnnealingLR" or s.fields["eta_min"] == 0)


def momentum_at(s: Scheduler, groups: list[dict], p: int) -> list[dict]:
    """The groups' momentum fields after `p` steps (OneCycleLR and CyclicLR cycle them)."""
    work = [dict(g) for g in groups]
    target = s
    if s.kind == "SequentialLR":
        idx, p = active(s, p)
        target = s.children[idx]
    if target.kind == "OneCycleLR" and target.fields["cycle_momentum"]:
        _one_cycle(dict(target.fields, last_epoch=p), work)
    elif target.kind == "CyclicLR" and target.fields["cycle_momentum"]:
        _cyclic(dict(target.fields, last_epoch=p), work)
    return work


def _leaf_state(s: Scheduler, groups: list[dict], p: int) -> dict:
    """A leaf scheduler's state_dict() after `p` steps (p = -1: not started, in a
    SequentialLR); written over a copy of the file's own dict, so other keys stay."""
    state = {k: copy.deepcopy(v) for k, v in s.raw.items() if k != "_schedulers"}
    f = s.fields
    for key in ("base_lrs", "eta_min", "T_max", "T_0", "T_mult", "gamma", "step_size",
                "total_iters", "power", "factor", "start_factor", "end_factor", "total_steps",
                "_schedule_phases", "max_lrs", "total_size", "step_ratio"):
        if key in f:
            state[key] = copy.deepcopy(f[key])
    if "milestones" in f:
        state["milestones"] = _counter_like(s.raw.get("milestones"), f["milestones"])
    state["last_epoch"] = p
    if s.kind == "CosineAnnealingWarmRestarts":
        state["T_cur"], state["T_i"] = restart_position(p, f["T_0"], f["T_mult"]) \
            if p >= 0 else (0, f["T_0"])
    elif "_step_count" in state or p >= 0:
        state["_step_count"] = max(p, 0) + 1
    state["_last_lr"] = lr_at(s, groups, max(p, 0))
    state["_is_initial"] = False
    state["_get_lr_called_within_step"] = False
    return state


def _counter_like(template: object, values: list[int]) -> object:
    """MultiStepLR keeps a collections.Counter; a file that stored a list keeps a list."""
    import collections

    if isinstance(template, (list, tuple)):
        return list(values)
    return collections.Counter(values)


def state_at(s: Scheduler, groups: list[dict], p: int) -> dict:
    """The state_dict() a run of these settings has after `p` steps (the file's other keys
    kept)."""
    if s.kind != "SequentialLR":
        return _leaf_state(s, groups, p)
    ms = s.fields["_milestones"]
    idx, _ = active(s, p)
    starts = [0, *ms]
    children = []
    for i, child in enumerate(s.children):
        if i < idx:  # finished: stopped at its last step before the next milestone
            pos = ms[i] - starts[i] - 1
        elif i == idx:
            pos = p - starts[i]
        else:  # not reached: undone to -1 by SequentialLR's constructor
            pos = -1
        children.append(_leaf_state(child, groups, pos))
    state = {k: copy.deepcopy(v) for k, v in s.raw.items() if k != "_schedulers"}
    state.update(_milestones=list(ms), last_epoch=p, _last_lr=lr_at(s, groups, p),
                 _schedulers=children)
    return state


def natural_end(s: Scheduler) -> int | None:
    """The last position the schedule is planned to train at, when the scheduler has one (a
    cosine's T_max, a OneCycleLR's total_steps, a decay's total_iters), from its start."""
    main, w = main_child(s), warmup_length(s)
    f = main.fields
    if main.kind == "CosineAnnealingLR":
        return w + f["T_max"] - 1
    if main.kind == "PolynomialLR" or (main.kind == "LinearLR" and s.kind == "SequentialLR"):
        return w + f["total_iters"] - 1
    if main.kind == "OneCycleLR":
        return w + f["total_steps"] - 1
    return None


def ramp_end(s: Scheduler) -> int:
    """The last position of a planned rise (a warmup, OneCycleLR's first phase): steps up to
    it are a ramp, and the step that ends it is not a jump."""
    if s.kind == "SequentialLR":
        return s.fields["_milestones"][0]
    if s.kind == "OneCycleLR":
        return int(s.fields["_schedule_phases"][0]["end_step"]) + 1
    if s.kind in ("LinearLR", "ConstantLR"):
        return s.fields["total_iters"]
    return -1
