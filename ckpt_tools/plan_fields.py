"""Edits of a stored torch scheduler whose class the training code builds (torchvision,
Lightning, hand-written loops, Accelerate, Hugging Face's param groups).

The knobs give the scheduler new settings in its own unit (`knobs.tune`); the continuity mode
chooses where the resumed run stands in the new schedule, in scheduler steps:
- keep-phase: where it stands now (the new schedule as if used from the start);
- restart: at its start (a deliberate restart, warmup included);
- match-lr: at the step whose LR is closest to the one the last step ran at, on the
  schedule's first (annealing) stretch, so the resume does not jump;
- anneal-from-current (cosine schedulers only): one cosine from that LR down to eta_min over
  the steps left.
The state written is the one a run of the new settings would have at that step
(`sched_forms.state_at`), each group's `lr` the LR of the next step. The simulator must then
give the new schedule's closed-form LRs step for step, or the plan is refused. An edit that
moves the position records by how much in the scheduler state (`stepping.edit_record`), so
the stepping unit stays readable from the file.
"""

from __future__ import annotations

import argparse
import copy

from runwatch.ckpt_tools import sched_forms
from runwatch.ckpt_tools.knobs import Tuned, tune
from runwatch.ckpt_tools.layouts.base import CheckpointView, require_schedule
from runwatch.ckpt_tools.preview import (
    TABLE_EPOCHS,
    Preview,
    epoch_of,
    last_stored_lr,
    make_preview,
)
from runwatch.ckpt_tools.schedulers import parse_scheduler
from runwatch.ckpt_tools.stepping import EDIT_RECORD, Stepping
from runwatch.errors import RunwatchError

COSINES = ("CosineAnnealingLR", "CosineAnnealingWarmRestarts")
# The flags anneal-from-current replaces (one cosine from the current LR over what is left).
ANNEAL_IGNORES = {"t0": "--t0", "t_mult": "--t-mult", "lr": "--lr", "warmup": "--warmup",
                  "warmup_steps": "--warmup-steps", "schedule": "--schedule"}


def plan_fields(view: CheckpointView, request):
    """The EditPlan of `request` on a stored scheduler (see the module's docstring)."""
    from runwatch.ckpt_tools.plan import EditPlan

    if view.optimizer is not None and not view.problems and (
            view.scheduler is None or view.scheduler.kind == "ReduceLROnPlateau"):
        return _plan_lr_only(view, request)
    require_schedule(view)
    sched, stepping = view.scheduler, view.stepping
    view.optimizer.lrs()
    groups = [g.schedule_fields() for g in view.optimizer.groups]
    before = _before(view)
    last = before.last_lr
    mode = request.continuity or "keep-phase"
    tuned = tune(sched, groups, request.knobs(), stepping)
    total = tuned.total if tuned.total is not None else view.planned_steps
    if sched.kind not in sched_forms.POSITIONED:  # ChainedScheduler: its LR scaled only
        if mode != "keep-phase":
            raise RunwatchError(f"a {sched.describe()} can only have its LR scaled "
                                "(--continuity keep-phase)")
        position, new_state, new_groups = sched.position, _scaled_state(tuned), tuned.groups
    else:
        if mode == "anneal-from-current":
            position = _anneal(tuned, stepping, total, last)
        else:
            position = _position(mode, tuned, stepping, total, last)
        new_state = sched_forms.state_at(tuned.sched, tuned.groups, position)
        new_groups = _group_fields(tuned, position)
    edited = parse_scheduler(new_state, sched.path)
    moved = Stepping(stepping.per_epoch, stepping.taken, stepping.how)
    after = make_preview(edited, new_groups, moved, view.epochs_done, total, last,
                         path=view.loaded.path)
    _check_closed_form(tuned, after, position)
    if position != sched.position:
        tuned.changes["position (steps)"] = [sched.position, position]
    plan = EditPlan(
        source=view.loaded.path, layout=view.layout.name, mode=mode,
        first_epoch=after.first_epoch, last_lr=last,
        lr_before=_rows(before), lr_after=_rows(after),
        jump_ratio=after.steps[0] / last if last else None,
        warnings=warnings(before, after, mode, _avoiding_modes(tuned), request,
                          _left(stepping, total)),
        changes=tuned.changes, unit=stepping.unit, first_step=stepping.taken,
        steps_after=after.steps, new_epochs=request.epochs,
        new_scheduler=new_state, new_groups=new_groups,
        new_record=_record(position, stepping, last),
    )
    return plan


def _scaled_state(tuned: Tuned) -> dict:
    """A ChainedScheduler's state with the new LR scale (its children's base_lrs)."""
    state = copy.deepcopy(tuned.sched.raw)
    for child, raw in zip(tuned.sched.children, state["_schedulers"], strict=True):
        raw["base_lrs"] = list(child.fields["base_lrs"])
    state["_last_lr"] = [g["lr"] for g in tuned.groups]
    return state


def _plan_lr_only(view: CheckpointView, request):
    """No scheduler (the LR stays at each group's `lr` unless the training code changes it)
    or a ReduceLROnPlateau (what follows depends on the metric): only that LR changes,
    with `initial_lr`, which a scheduler built later would start from (timm's keeps the
    checkpoint's)."""
    from runwatch.ckpt_tools.layouts.base import plateau_note
    from runwatch.ckpt_tools.plan import EditPlan

    what = "ReduceLROnPlateau: when it drops depends on the metric" if view.scheduler \
        else "no scheduler state: the LR stays where the optimizer has it"
    others = [k for k, v in vars(request).items()
              if v is not None and k not in ("lr", "oracle", "continuity")]
    if request.lr is None or others or (request.continuity or "keep-phase") != "keep-phase":
        raise RunwatchError(f"{what}; only that LR can be edited (--lr)")
    old = view.optimizer.lrs()
    new = [request.lr * lr / old[0] for lr in old]
    return EditPlan(
        source=view.loaded.path, layout=view.layout.name, mode="keep-phase",
        first_epoch=None if view.epochs_done is None else view.epochs_done + 1,
        last_lr=old[0], lr_before=[old[0]], lr_after=[new[0]], jump_ratio=new[0] / old[0],
        warnings=[plateau_note(view.scheduler) if view.scheduler else
                  f"{what} (unless the training code changes it)"],
        changes={"lr": [old[0], new[0]]}, unit="epoch", steps_after=[new[0]],
        new_groups=[{"lr": lr, "initial_lr": lr} for lr in new])


def _record(position: int, stepping: Stepping, last: float | None) -> dict:
    record = {"at": position, "offset": position - stepping.taken, "last_lr": last}
    if stepping.per_epoch is not None:  # what settled the unit, for the edited file's readers
        record["steps_per_epoch"] = stepping.per_epoch
    return record


def _left(stepping: Stepping, total: int | None) -> str:
    if total is None:
        return "the steps left"
    n = total - stepping.taken
    if stepping.per_epoch == 1:
        return f"the {n} epochs left"
    return f"the {n} {stepping.unit}s left"


def _before(view: CheckpointView) -> Preview:
    """The LRs the checkpoint resumes with; none where every planned step is trained (a
    finished run, which an edit's --epochs trains longer), with the LR its last step ran at."""
    stepping = view.stepping
    if view.planned_steps is not None and view.planned_steps <= stepping.taken:
        return Preview(stepping.per_epoch, stepping.taken, [], last_lr=last_stored_lr(view))
    return view.layout.preview(view, TABLE_EPOCHS)


def _rows(preview: Preview) -> list[float]:
    return [lr for _, lr in preview.rows()]


def _position(mode: str, tuned: Tuned, stepping: Stepping, total: int | None,
              last: float | None) -> int:
    """Where the resumed run stands in the new schedule, in scheduler steps."""
    if mode == "keep-phase":
        return stepping.taken
    if mode == "restart":
        return 0
    if last is None:
        raise RunwatchError("match-lr needs the LR the last step ran at, which this checkpoint "
                            "does not tell: use keep-phase or restart")
    s = tuned.sched
    w = sched_forms.warmup_length(s)
    natural = sched_forms.natural_end(s)
    main = sched_forms.main_child(s)
    if natural is not None:
        end = natural + 1
    elif main.kind == "CosineAnnealingWarmRestarts":
        end = w + main.fields["T_0"]
    elif main.kind == "CyclicLR":
        end = int(main.fields["total_size"])
    else:
        end = max(total or 0, stepping.taken + 1)
    candidates = range(w, max(end, w + 1))
    return min(candidates, key=lambda p: (abs(sched_forms.lr_at(s, tuned.groups, p)[0] - last),
                                          -p))


def _anneal(tuned: Tuned, stepping: Stepping, total: int | None, last: float | None) -> int:
    """One cosine from the last LR down to eta_min over the steps left; its position."""
    s = tuned.sched
    main = sched_forms.main_child(s)
    if main.kind not in COSINES:
        raise RunwatchError(f"anneal-from-current needs a cosine scheduler (CosineAnnealingLR "
                            f"or CosineAnnealingWarmRestarts); this one is {s.describe()}: use "
                            "keep-phase, match-lr or restart")
    if total is None:
        raise RunwatchError("anneal-from-current needs the planned total: pass --epochs TOTAL "
                            "(or --total-steps)")
    if last is None:
        raise RunwatchError("anneal-from-current needs the LR the last step ran at, which this "
                            "checkpoint does not tell: use keep-phase")
    w = sched_forms.warmup_length(s)
    if stepping.taken < w:
        raise RunwatchError("the run is still warming up: anneal-from-current starts after the "
                            "warmup; use keep-phase")
    remaining = total - stepping.taken
    f = main.fields
    ratios = [b / f["base_lrs"][0] for b in f["base_lrs"]]
    f["base_lrs"] = [last * r for r in ratios]
    f["eta_min"] = min(f["eta_min"], last * 0.5)
    if main.kind == "CosineAnnealingLR":
        f["T_max"] = remaining
    else:
        f["T_0"] = remaining
    for g, b in zip(tuned.groups, f["base_lrs"], strict=True):
        g["initial_lr"] = b
    return w


def _group_fields(tuned: Tuned, position: int) -> list[dict]:
    """Each group's fields at `position`: its next LR, momentum where the schedule cycles it,
    and the LRs a rebuilt scheduler takes (initial_lr, and OneCycleLR's max_lr/min_lr)."""
    lrs = sched_forms.lr_at(tuned.sched, tuned.groups, position)
    out = sched_forms.momentum_at(tuned.sched, tuned.groups, position)
    for g, lr in zip(out, lrs, strict=True):
        g["lr"] = lr
    return out


def _check_closed_form(tuned: Tuned, after: Preview, position: int) -> None:
    """The written state, stepped as torch steps it, must give the new schedule's LRs."""
    from runwatch.ckpt_tools.plan import same

    if tuned.sched.kind not in sched_forms.POSITIONED:
        return
    want = [sched_forms.lr_at(tuned.sched, tuned.groups, position + i)[0]
            for i in range(len(after.steps))]
    if not same(after.steps, want):
        raise RunwatchError(f"this edit cannot be expressed in the {tuned.sched.describe()}'s "
                            f"fields (stepped, they give {after.steps[:3]}, the schedule says "
                            f"{want[:3]}); try another --continuity")


def _avoiding_modes(tuned: Tuned) -> list[str]:
    main = sched_forms.main_child(tuned.sched)
    return ["match-lr", "anneal-from-current"] if main.kind in COSINES else ["match-lr"]


def warnings(before: Preview, after: Preview, mode: str, avoiding: list[str],
             request, left: str = "the steps left") -> list[str]:
    """Jumps of 3x or more after the resume point; at the first resumed step, the continuity
    modes that would avoid it (none after a restart, which is the jump asked for)."""
    out = []
    others = [m for m in avoiding if m != mode] if mode != "restart" else []
    for jump in after.jumps:
        epoch = epoch_of(after, jump.epoch)
        where = f"epoch {epoch}" if epoch is not None else f"step {jump.epoch + 1}"
        first = jump.epoch == after.first_step
        what = ("the first resumed " + ("epoch" if epoch is not None else "step")) if first \
            else "a restart"
        if first and mode == "restart":
            what += ", the restart asked for"
        hint = (f"; --continuity {' or '.join(others)} "
                + ("avoids it" if len(others) == 1 else "avoid it")) if first and others else ""
        out.append(f"{where} ({what}) runs at {jump.lr_after:.6g}, {jump.ratio:.3g}x the "
                   f"{jump.lr_before:.6g} before it{hint}")
    unused = [flag for key, flag in ANNEAL_IGNORES.items() if getattr(request, key) is not None]
    if mode == "anneal-from-current" and unused:
        out.append(f"{', '.join(unused)} {'has' if len(unused) == 1 else 'have'} no effect "
                   "with --continuity anneal-from-current: it anneals from the current LR to "
                   f"eta_min over {left}; use keep-phase, match-lr or restart to apply "
                   f"{'it' if len(unused) == 1 else 'them'}")
    return out


def apply_fields(view: CheckpointView, plan) -> None:
    """Set the plan's scheduler state, group fields, run arguments and record on the loaded
    tree."""
    for group, fields in zip(view.optimizer.groups, plan.new_groups, strict=True):
        group.raw.update(fields)
    for key, value in plan.new_args.items():
        if isinstance(view.args, dict):
            view.args[key] = value
        elif isinstance(view.args, argparse.Namespace):
            setattr(view.args, key, value)
    if plan.new_scheduler is None:
        return
    raw = view.scheduler.raw
    raw.clear()
    raw.update(copy.deepcopy(plan.new_scheduler))
    if plan.new_record is not None:
        raw[EDIT_RECORD] = dict(plan.new_record)
