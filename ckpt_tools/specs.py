"""A runwatch checkpoint's ScheduleSpec written back into its torch scheduler's fields.

runwatch stores the schedule it follows (`schedule`, a ScheduleSpec) beside the scheduler state
its trainer built from it. `encode_spec` writes a (continued) ScheduleSpec back into scheduler
fields at the resume
point: every field torch's `step()` reads (T_0, T_i, T_cur, T_mult, eta_min, T_max, milestones,
base_lrs, last_epoch, _last_lr), for each param group.
"""

from __future__ import annotations

import collections
import copy
from dataclasses import replace

from runwatch.ckpt_tools.schedulers import scheduler_type
from runwatch.errors import RunwatchError
from runwatch.schedule import (
    ScheduleSpec,
    cosine_value,
    lr_at,
    main_schedule_state,
)

KIND_OF_SCHEDULE = {
    "cosine_restarts": "CosineAnnealingWarmRestarts",
    "cosine": "CosineAnnealingLR",
    "step": "MultiStepLR",
    "constant": "ConstantLR",
}


def split_warmup(state: dict) -> tuple[int, float, dict, int]:
    """(warmup epochs, warmup start factor, main scheduler state, scheduler steps taken)."""
    if scheduler_type(state) == "SequentialLR":
        children = state["_schedulers"]
        first = children[0]
        if len(children) != 2 or scheduler_type(first) != "LinearLR":
            raise RunwatchError("SequentialLR other than [LinearLR warmup, main] is not "
                                "supported (cannot edit)")
        return (int(state["_milestones"][0]), float(first["start_factor"]), children[1],
                int(state["last_epoch"]))
    return 0, 0.1, state, int(state["last_epoch"])


def last_lr_from_fields(state: dict) -> float | None:
    """LR of the epoch before the resume point, read from warm-restart fields (T_cur, T_i: the
    period in use) rather than from T_0; None when not a warm-restart scheduler past its start."""
    warmup, _, main, steps = split_warmup(state)
    if scheduler_type(main) != "CosineAnnealingWarmRestarts" or steps - warmup < 1:
        return None
    t_cur, t_i, t_mult = main["T_cur"], main["T_i"], main["T_mult"]
    if t_cur == 0:  # just restarted: the last epoch ended the previous period
        t_i = t_i // t_mult if t_i % t_mult == 0 else t_i
        t_cur = t_i
    return cosine_value(float(main["base_lrs"][0]), float(main["eta_min"]), t_cur - 1, t_i)


def _common_fields(template: dict, base_lrs: list[float], last_epoch: int,
                   next_lrs: list[float]) -> dict:
    state = {k: v for k, v in template.items() if not isinstance(v, (list, dict))}
    state.update(base_lrs=base_lrs, last_epoch=last_epoch, _last_lr=next_lrs,
                 _is_initial=False, _get_lr_called_within_step=False)
    state.setdefault("_step_count", last_epoch + 1)
    return state


def _main_state(spec: ScheduleSpec, template: dict, epochs_done: int, ratios: list[float],
                next_lr: float) -> dict:
    kind = KIND_OF_SCHEDULE[spec.name]
    pos = main_schedule_state(spec, epochs_done)
    base = [spec.base_lr * r for r in ratios]
    nxt = [next_lr * r for r in ratios]
    if scheduler_type(template) != kind:
        template = {}
    if pos["in_warmup"]:  # SequentialLR restarts the main scheduler at its milestone
        pos["last_epoch"] = 0
    state = _common_fields(template, base, pos["last_epoch"], nxt)
    if kind == "CosineAnnealingWarmRestarts":
        state.update(T_0=spec.t0, T_i=pos["T_i"], T_mult=spec.t_mult, eta_min=spec.eta_min,
                     T_cur=pos["T_cur"])
    elif kind == "CosineAnnealingLR":
        state.update(T_max=spec.epochs - spec.warmup_epochs, eta_min=spec.eta_min)
    elif kind == "MultiStepLR":
        state.update(milestones=collections.Counter(m - spec.warmup_epochs
                                                    for m in spec.milestones),
                     gamma=spec.gamma)
    else:
        state.update(factor=1.0, total_iters=0)
    return state


def encode_spec(old: dict, spec: ScheduleSpec, epochs_done: int,
                ratios: list[float]) -> tuple[dict, list[float]]:
    """(new scheduler state, new `lr` of each param group) that follow `spec` after
    `epochs_done` epochs; `old` is the stored state (its other keys are kept). The runwatch
    trainer builds its scheduler from the spec, so the class may change."""
    old_warmup, _, old_main, _ = split_warmup(old)
    next_lr = lr_at(spec, epochs_done + 1)
    nxt = [next_lr * r for r in ratios]
    main = _main_state(spec, old_main, epochs_done, ratios, next_lr)
    if spec.warmup_epochs == 0:
        return main, nxt
    steps = epochs_done - spec.offset
    w = spec.warmup_epochs
    linear_template = old["_schedulers"][0] if old_warmup else {}
    linear = _common_fields(linear_template, [spec.base_lr * r for r in ratios],
                            min(max(steps, 0), w - 1), nxt)
    linear.update(start_factor=spec.warmup_start_factor, end_factor=1.0, total_iters=w)
    seq = {k: copy.deepcopy(v) for k, v in old.items() if k != "_schedulers"} if old_warmup \
        else {}
    seq.update(_milestones=[w], last_epoch=max(steps, 0), _last_lr=nxt,
               _schedulers=[linear, main])
    return seq, nxt


def apply_changes(spec: ScheduleSpec, changes: dict) -> ScheduleSpec:
    """`spec` with the requested fields changed (validated by ScheduleSpec)."""
    return replace(spec, offset=0, **changes)
