"""Edits of a runwatch checkpoint: its stored ScheduleSpec, continued (runwatch.schedule).

The runwatch trainer builds its scheduler from the checkpoint's `schedule` and checks the
stored state against it on resume, so an edit continues the spec (`continue_schedule`: the
four continuity modes) and writes the continued spec and the scheduler fields that follow it
(`specs.encode_spec`); the "after" LRs are stepped from those fields and must equal the spec's.
"""

from __future__ import annotations

import math
import time

from runwatch.ckpt_tools import specs
from runwatch.ckpt_tools.layouts.base import CheckpointView, require_schedule
from runwatch.ckpt_tools.preview import JUMP_WARN_RATIO, TABLE_EPOCHS
from runwatch.ckpt_tools.schedulers import parse_scheduler, scheduler_type, simulate
from runwatch.errors import RunwatchError
from runwatch.schedule import (
    ScheduleSpec,
    continue_schedule,
    find_jumps,
    lr_at,
    lr_plan,
    spec_from_dict,
    spec_to_dict,
)

ANNEAL_IGNORES = {"t0": "--t0", "t_mult": "--t-mult", "base_lr": "--lr",
                  "warmup_epochs": "--warmup", "name": "--schedule"}
SPEC_FIELDS = {"t0": "t0", "t_mult": "t_mult", "eta_min": "eta_min", "lr": "base_lr",
               "schedule": "name", "epochs": "epochs", "warmup": "warmup_epochs",
               "milestones": "milestones", "gamma": "gamma"}


def spec_of(view: CheckpointView) -> ScheduleSpec:
    if not isinstance(view.schedule, dict):
        raise RunwatchError("this runwatch checkpoint stores no schedule: cannot edit it")
    return spec_from_dict(view.schedule)


def per_step(view: CheckpointView) -> ScheduleSpec | None:
    """The spec when its scheduler steps after every optimizer step, else None."""
    spec = spec_of(view)
    return spec if spec.steps_per_epoch > 1 else None


def spec_changes(request) -> dict:
    """The request as ScheduleSpec fields; flags a runwatch schedule has no field for refused."""
    steps = [f for f in ("total_steps", "warmup_steps", "step_size") if getattr(request, f)]
    if steps:
        raise RunwatchError(f"--{steps[0].replace('_', '-')}: runwatch schedules count in "
                            "epochs; use --epochs, --warmup or --milestones")
    return {spec: (tuple(getattr(request, key)) if key == "milestones" else getattr(request, key))
            for key, spec in SPEC_FIELDS.items() if getattr(request, key) is not None}


def last_lr(view: CheckpointView, spec: ScheduleSpec, done: int) -> float | None:
    """LR of the last epoch trained: the checkpoint's own epoch record says it (after an
    edit, the fields and the schedule describe the new schedule, not the epochs trained);
    else from the warm-restart fields when there are some (a checkpoint whose T_0 was changed
    alone still ran its last epoch with T_i), else the spec."""
    recorded = view.metrics.get("lr")
    if view.metrics.get("epoch") == done and isinstance(recorded, (int, float)) \
            and math.isfinite(recorded) and recorded > 0:
        return float(recorded)
    if view.scheduler is not None and view.scheduler.modelled and spec.steps_per_epoch == 1:
        from_fields = specs.last_lr_from_fields(view.scheduler.raw)
        if from_fields is not None:
            return from_fields
    return lr_at(spec, done) if done - spec.offset >= 1 else None


def plan_runwatch(view: CheckpointView, request):
    from runwatch.ckpt_tools.plan import EditPlan, same

    changes = spec_changes(request)
    if not changes and request.continuity is None:
        raise RunwatchError("nothing to change: pass a setting to edit (see --help)")
    require_schedule(view)
    if per_step(view) is not None:
        raise RunwatchError(
            "per-step schedules cannot be edited yet: the scheduler steps after every optimizer "
            "step; to change the schedule, set it in the config and resume with `runwatch train "
            "--resume-from CKPT --override-schedule`")
    if view.epochs_done is None:
        raise RunwatchError("the checkpoint stores no epoch: cannot place the resume point")
    spec = spec_of(view)
    done = view.epochs_done
    # A finished run plans no more epochs: nothing "before" (the edit's --epochs adds them).
    before = [lr for _, lr in view.layout.preview(view, TABLE_EPOCHS).rows()] \
        if spec.epochs > done else []
    mode = request.continuity or "keep-phase"
    last = last_lr(view, spec, done)
    new = specs.apply_changes(spec, changes)
    cont = continue_schedule(new, done, last if last is not None else before[0], mode)
    groups = view.optimizer.groups
    initial = [g.initial_lr if g.initial_lr is not None else g.lr for g in groups]
    ratios = [v / initial[0] for v in initial]
    new_state, group_lrs = specs.encode_spec(view.scheduler.raw, cont, done, ratios)
    count = min(TABLE_EPOCHS, max(cont.epochs - done, 1))
    after = [row[0] for row in simulate(parse_scheduler(new_state, view.scheduler.path),
                                        [{"lr": lr} for lr in group_lrs], count)]
    expected = lr_plan(cont, done + 1, done + count)
    if not same(after, expected):
        raise RunwatchError(f"this edit cannot be expressed in the checkpoint's "
                            f"{view.scheduler.kind} fields (it would give {after[:3]}, "
                            f"not {expected[:3]}); try another --continuity")
    warnings = _warnings(done + 1, last, after, mode, cont, changes)
    if view.step_in_epoch:  # a SIGTERM's last.pt: part of epoch done + 1 ran at the old LR
        ran = before[0]
        warnings.append(f"the checkpoint stopped inside epoch {done + 1}, after its step "
                        f"{view.step_in_epoch}: those steps ran at {ran:.6g}, the rest of the "
                        f"epoch runs at {after[0]:.6g} ({after[0] / ran:.3g}x); edit the "
                        f"epoch-{done:04d}.pt checkpoint to change the whole epoch")
    if before and last is not None and \
            not math.isclose(before[0], lr_at(spec, done + 1), rel_tol=1e-6):
        warnings.append(f"the optimizer's lr {before[0]:.6g} differs from the scheduler's "
                        f"{lr_at(spec, done + 1):.6g}: epoch {done + 1} runs at the optimizer's")
    return EditPlan(
        source=view.loaded.path, layout=view.layout.name, mode=mode, first_epoch=done + 1,
        last_lr=last, lr_before=before[:count], lr_after=after,
        jump_ratio=after[0] / last if last else None, warnings=warnings,
        changes={k: [_shown(getattr(spec, k)), _shown(v)] for k, v in changes.items()},
        first_step=done, steps_after=after,
        from_schedule=spec_to_dict(spec), to_schedule=spec_to_dict(cont), new_epochs=request.epochs,
        new_scheduler=new_state,
        new_groups=[{"lr": lr, "initial_lr": cont.base_lr * r}
                    for lr, r in zip(group_lrs, ratios, strict=True)],
    )


def _shown(value: object) -> object:
    """A spec field as a change shows it, old and new alike (milestones as a list, as in the
    JSON and the schedule's dict)."""
    return list(value) if isinstance(value, tuple) else value


def _warnings(first: int, last: float | None, after: list[float], mode: str,
              spec: ScheduleSpec, changes: dict) -> list[str]:
    """Jumps of 3x or more; at the resume point, the continuity modes that would avoid it
    (none after a restart: that jump is the one asked for). Steps of a warmup ramp after the
    resume point are not jumps."""
    others = [m for m in ("match-lr", "anneal-from-current") if m != mode] \
        if mode != "restart" else []
    out = []
    for jump in find_jumps(after, first, JUMP_WARN_RATIO, prev_lr=last):
        if jump.epoch > first and 2 <= jump.epoch - spec.offset <= spec.warmup_epochs + 1:
            continue
        where = "the first resumed epoch" if jump.epoch == first else "a restart"
        if jump.epoch == first and mode == "restart":
            where += ", the restart asked for"
        hint = f"; --continuity {' or '.join(others)} " + \
            ("avoids it" if len(others) == 1 else "avoid it")
        out.append(f"epoch {jump.epoch} ({where}) runs at {jump.lr_after:.6g}, "
                   f"{jump.ratio:.3g}x the {jump.lr_before:.6g} of epoch {jump.epoch - 1}"
                   + (hint if jump.epoch == first and others else ""))
    ignored = [k for k in ("t0", "t_mult") if k in changes]
    if ignored and spec.name != "cosine_restarts":
        out.append(f"{', '.join('--' + k.replace('_', '-') for k in ignored)} has no "
                   f"effect on a {spec.name} schedule")
    unused = [flag for key, flag in ANNEAL_IGNORES.items() if key in changes]
    if mode == "anneal-from-current" and unused:
        out.append(f"{', '.join(unused)} {'has' if len(unused) == 1 else 'have'} no effect "
                   f"with --continuity anneal-from-current: it anneals from the current LR "
                   f"to eta_min over the {spec.epochs - first + 1} epochs left; use keep-phase, "
                   f"match-lr or restart to apply {'it' if len(unused) == 1 else 'them'}")
    return out


def apply_runwatch(view: CheckpointView, plan) -> None:
    """The scheduler fields and group LRs, the continued spec, and an `edits` record."""
    from runwatch.ckpt_tools.plan_fields import apply_fields

    apply_fields(view, plan)
    obj = view.obj
    obj["schedule"] = plan.to_schedule
    obj["lr_scheduler_type"] = scheduler_type(plan.new_scheduler)
    obj["edits"] = [*(obj.get("edits") if isinstance(obj.get("edits"), list) else []), {
        "time": time.time(), "mode": plan.mode, "changes": plan.changes,
        "from_schedule": plan.from_schedule, "to_schedule": plan.to_schedule,
    }]
