"""Plan a schedule edit: the LRs before and after, the jump at the resume point, the new fields.

Planning never writes; `ckpt_tools.edit.write_edit` applies a plan. The "after" LRs are not
taken from the new ScheduleSpec alone: they are recomputed from the new scheduler fields the
way the scheduler will step them (`schedulers.next_lrs`), and the plan is refused when the two
disagree, so the preview is what the resumed run will use.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from runwatch.ckpt_tools import specs, timm_sched
from runwatch.ckpt_tools.layouts import CheckpointView, args_get, detect, edit_record
from runwatch.ckpt_tools.load import LoadedCheckpoint, load_checkpoint
from runwatch.ckpt_tools.schedulers import next_lrs
from runwatch.errors import RunwatchError
from runwatch.schedule import (
    CONTINUITY_MODES,
    SCHEDULE_NAMES,
    ScheduleSpec,
    continue_schedule,
    find_jumps,
    lr_at,
    lr_plan,
    spec_from_dict,
    spec_to_dict,
)

TABLE_EPOCHS = 10
# The ScheduleSpec fields anneal-from-current replaces (one cosine from the current LR over the
# epochs left), by the flag that sets them.
ANNEAL_IGNORES = {"t0": "--t0", "t_mult": "--t-mult", "base_lr": "--lr",
                  "warmup_epochs": "--warmup", "name": "--schedule"}
JUMP_WARN_RATIO = 3.0
REL_TOL = 1e-9
# How another trainer resumes from the written file OUT (a runwatch checkpoint has an exact
# command instead: `ckpt_tools.rewind.edit_resume_command`).
RESUME_HINTS = {
    "torchvision": "torchvision's train.py builds its scheduler from the command line, then "
                   "loads the edited fields: resume with --resume OUT and the "
                   "--lr-scheduler/--epochs you started with",
    "lightning": "resume with Trainer.fit(..., ckpt_path=OUT): Lightning loads the edited "
                 "optimizer and scheduler state into the ones configure_optimizers builds",
}


@dataclass
class EditRequest:
    """What to change; None leaves a field as the checkpoint has it."""

    t0: int | None = None
    t_mult: int | None = None
    eta_min: float | None = None
    lr: float | None = None
    schedule: str | None = None
    epochs: int | None = None
    warmup: int | None = None
    continuity: str | None = None

    def changes(self) -> dict:
        """ScheduleSpec fields to change, after checking each value's range."""
        checks = (("t0", 1), ("t_mult", 1), ("epochs", 1), ("warmup", 0))
        for name, low in checks:
            value = getattr(self, name)
            if value is not None and value < low:
                flag = "--" + name.replace("_", "-")
                raise RunwatchError(f"{flag} {value} is out of range: it must be at least {low}")
        if self.lr is not None and not (self.lr > 0 and math.isfinite(self.lr)):
            raise RunwatchError(f"--lr {self.lr} is out of range: it must be a positive number")
        if self.eta_min is not None and not (self.eta_min >= 0 and math.isfinite(self.eta_min)):
            raise RunwatchError(f"--eta-min {self.eta_min} is out of range: it must be >= 0")
        if self.schedule is not None and self.schedule not in SCHEDULE_NAMES:
            raise RunwatchError(f"--schedule {self.schedule!r}: use one of "
                                f"{', '.join(SCHEDULE_NAMES)}")
        if self.continuity is not None and self.continuity not in CONTINUITY_MODES:
            raise RunwatchError(f"--continuity {self.continuity!r}: use one of "
                                f"{', '.join(CONTINUITY_MODES)}")
        names = {"t0": "t0", "t_mult": "t_mult", "eta_min": "eta_min", "lr": "base_lr",
                 "schedule": "name", "epochs": "epochs", "warmup": "warmup_epochs"}
        return {spec_field: getattr(self, key) for key, spec_field in names.items()
                if getattr(self, key) is not None}


@dataclass
class EditPlan:
    source: Path
    layout: str
    mode: str
    first_epoch: int
    last_lr: float | None
    lr_before: list[float]
    lr_after: list[float]
    jump_ratio: float | None
    warnings: list[str]
    changes: dict
    from_schedule: dict | None = None
    to_schedule: dict | None = None
    resume_hint: str = ""
    source_stamp: tuple[int, int, int] = field(default=(), repr=False)
    # The new fields, applied by write_edit: scheduler state, group lrs / initial_lrs, args.
    new_scheduler: dict | None = field(default=None, repr=False)
    new_group_lrs: list[float] = field(default_factory=list, repr=False)
    new_initial_lrs: list[float] = field(default_factory=list, repr=False)
    new_args: dict = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict:
        out = {k: v for k, v in asdict(self).items()
               if not k.startswith("new_") and k != "source_stamp"}
        out["source"] = str(self.source)
        return out


def _group_values(view: CheckpointView, key: str) -> list[float]:
    groups = view.param_groups
    values = [g.get(key) for g in groups]
    if not values or any(not isinstance(v, (int, float)) for v in values):
        raise RunwatchError(f"the optimizer's param groups have no numeric {key!r}: the LR is a "
                            "tensor or missing; cannot edit this optimizer")
    return [float(v) for v in values]


def require_resumable(view: CheckpointView) -> None:
    if view.optimizer is None or not view.param_groups:
        raise RunwatchError(f"{view.layout} checkpoint has no optimizer state: nothing to edit "
                            "(it holds weights only); pick a full training checkpoint")
    if view.scheduler is None and view.layout != "timm":
        raise RunwatchError(f"{view.layout} checkpoint has no scheduler state: its LR comes from "
                            "the trainer's code; edit the optimizer there")


def per_step_schedule(view: CheckpointView) -> ScheduleSpec | None:
    """The schedule of a runwatch checkpoint whose scheduler steps after every optimizer step
    (`steps_per_epoch` > 1), else None."""
    if view.layout != "runwatch" or not isinstance(view.schedule, dict):
        return None
    spec = spec_from_dict(view.schedule)
    return spec if spec.steps_per_epoch > 1 else None


def upcoming_lrs(view: CheckpointView, count: int = TABLE_EPOCHS) -> list[float]:
    """LR of the next `count` epochs (first param group) as the resumed run will use them."""
    require_resumable(view)
    if view.stepping_problem:
        raise RunwatchError(view.stepping_problem)
    per_step = per_step_schedule(view)
    if per_step is not None:  # LR of each epoch's first step; the trainer checks the state
        done = view.epochs_done or 0
        return lr_plan(per_step, done + 1, done + count)
    if view.layout == "timm":
        initial = _group_values(view, "initial_lr")
        rows = timm_sched.timm_next_lrs(view.args, initial, view.epochs_done or 0, count)
    else:
        rows = next_lrs(view.scheduler, _group_values(view, "lr"), count)
    return [row[0] for row in rows]


def _last_lr(view: CheckpointView, spec: ScheduleSpec, epochs_done: int) -> float | None:
    """LR of the last epoch trained: a runwatch checkpoint's own epoch record says it (after an
    edit, the fields and the schedule describe the new schedule, not the epochs trained);
    else from the warm-restart fields when there are some (a checkpoint whose T_0 was changed
    alone still ran its last epoch with T_i), else the spec."""
    recorded = view.metrics.get("lr") if view.layout == "runwatch" else None
    if view.metrics.get("epoch") == epochs_done and isinstance(recorded, (int, float)) \
            and math.isfinite(recorded) and recorded > 0:
        return float(recorded)
    record = edit_record(view.scheduler)
    if record and record["at"] == view.scheduler.get("last_epoch"):
        return record["last_lr"]  # an edit's: the fields now describe the new schedule
    if view.scheduler is not None and spec.steps_per_epoch == 1:
        from_fields = specs.last_lr_from_fields(view.scheduler)
        if from_fields is not None:
            return from_fields
    return lr_at(spec, epochs_done) if epochs_done - spec.offset >= 1 else None


def last_trained_lr(view: CheckpointView) -> float | None:
    """LR the last trained epoch used, from the schedule; None when it cannot be known."""
    done = view.epochs_done
    if not done:
        return None
    try:
        if view.layout == "timm":
            initial = _group_values(view, "initial_lr")[0]
            return timm_sched.timm_cosine(view.args).lr(initial, done - 1)
        return _last_lr(view, specs.current_spec(view, None), done)
    except RunwatchError:
        return None


def _jump_warnings(first: int, last_lr: float | None, after: list[float],
                   mode: str | None = None, spec: ScheduleSpec | None = None) -> list[str]:
    """Jumps of 3x or more; at the resume point, the continuity modes that would avoid it
    (none is offered when `mode` is None: the layout allows keep-phase only). Steps of a
    warmup ramp of `spec` after the resume point are not jumps."""
    others = [m for m in ("match-lr", "anneal-from-current") if mode is not None and m != mode]
    out = []
    for jump in find_jumps(after, first, JUMP_WARN_RATIO, prev_lr=last_lr):
        if spec is not None and jump.epoch > first and \
                2 <= jump.epoch - spec.offset <= spec.warmup_epochs:
            continue
        where = "the first resumed epoch" if jump.epoch == first else "a restart"
        hint = f"; --continuity {' or '.join(others)} " + \
            ("avoids it" if len(others) == 1 else "avoid it")
        out.append(f"epoch {jump.epoch} ({where}) runs at {jump.lr_after:.6g}, "
                   f"{jump.ratio:.3g}x the {jump.lr_before:.6g} of epoch {jump.epoch - 1}"
                   + (hint if jump.epoch == first and others else ""))
    return out


def _same(a: list[float], b: list[float]) -> bool:
    return len(a) == len(b) and all(math.isclose(x, y, rel_tol=REL_TOL, abs_tol=1e-15)
                                    for x, y in zip(a, b, strict=True))


def plan_edit(path: str | Path, request: EditRequest) -> EditPlan:
    """Plan `request` on the checkpoint at `path` (nothing is written).

    Tensor CRCs are checked when the plan is written (the copy streams them through a CRC
    check and refuses a corrupt record), not here: the preview needs only data.pkl.
    """
    return plan_loaded(load_checkpoint(path, check_crc=False), request)


def plan_loaded(loaded: LoadedCheckpoint, request: EditRequest) -> EditPlan:
    changes = request.changes()
    view = detect(loaded)
    require_resumable(view)
    if per_step_schedule(view) is not None:
        raise RunwatchError(
            "per-step schedules cannot be edited yet: the scheduler steps after every optimizer "
            "step; to change the schedule, set it in the config and resume with `runwatch train "
            "--resume-from CKPT --override-schedule`")
    if view.epochs_done is None:
        raise RunwatchError("the checkpoint stores no epoch: cannot place the resume point")
    if view.layout == "timm":
        return _plan_timm(loaded, view, request, changes)
    before = upcoming_lrs(view, TABLE_EPOCHS)
    epochs = request.epochs or _planned_epochs(view)
    spec = specs.current_spec(view, epochs)
    done = view.epochs_done
    mode = request.continuity or "keep-phase"
    if mode == "anneal-from-current" and epochs is None and view.layout != "runwatch":
        raise RunwatchError("anneal-from-current needs the planned total: pass --epochs TOTAL")
    if view.layout != "runwatch":
        _refuse_other_scheduler(view, spec, changes)
    last = _last_lr(view, spec, done)
    new = specs.apply_changes(spec, changes)
    cont = continue_schedule(new, done, last if last is not None else before[0], mode)
    cont = _fit_cosine_annealing(view, cont, done)
    initial = _group_values(view, "initial_lr") if "initial_lr" in view.param_groups[0] \
        else _group_values(view, "lr")
    ratios = [v / initial[0] for v in initial]
    new_state, group_lrs = specs.encode_spec(view, cont, done, ratios)
    count = min(TABLE_EPOCHS, max(cont.epochs - done, 1)) if view.layout == "runwatch" \
        else TABLE_EPOCHS
    after = [row[0] for row in next_lrs(new_state, group_lrs, count)]
    expected = lr_plan(cont, done + 1, done + count)
    if not _same(after, expected):
        raise RunwatchError(f"this edit cannot be expressed in the checkpoint's "
                            f"{view.scheduler_type} fields (it would give {after[:3]}, "
                            f"not {expected[:3]}); try another --continuity")
    warnings = _jump_warnings(done + 1, last, after, mode, cont)
    if view.step_in_epoch:  # a SIGTERM's last.pt: part of epoch done + 1 ran at the old LR
        ran = before[0]
        warnings.append(f"the checkpoint stopped inside epoch {done + 1}, after its step "
                        f"{view.step_in_epoch}: those steps ran at {ran:.6g}, the rest of the "
                        f"epoch runs at {after[0]:.6g} ({after[0] / ran:.3g}x); edit the "
                        f"epoch-{done:04d}.pt checkpoint to change the whole epoch")
    ignored = [k for k in ("t0", "t_mult") if k in changes]
    if ignored and cont.name != "cosine_restarts":
        warnings.append(f"{', '.join('--' + k.replace('_', '-') for k in ignored)} has no "
                        f"effect on a {cont.name} schedule")
    unused = [flag for key, flag in ANNEAL_IGNORES.items() if key in changes]
    if mode == "anneal-from-current" and unused:
        warnings.append(f"{', '.join(unused)} {'has' if len(unused) == 1 else 'have'} no effect "
                        f"with --continuity anneal-from-current: it anneals from the current LR "
                        f"to eta_min over the {cont.epochs - done} epochs left; use keep-phase, "
                        f"match-lr or restart to apply {'it' if len(unused) == 1 else 'them'}")
    if last is not None and not math.isclose(before[0], lr_at(spec, done + 1), rel_tol=1e-6):
        warnings.append(f"the optimizer's lr {before[0]:.6g} differs from the scheduler's "
                        f"{lr_at(spec, done + 1):.6g}: epoch {done + 1} runs at the optimizer's")
    return EditPlan(
        source=loaded.path, source_stamp=loaded.stamp, layout=view.layout, mode=mode,
        first_epoch=done + 1, last_lr=last,
        lr_before=before[:count], lr_after=after,
        jump_ratio=after[0] / last if last else None, warnings=warnings,
        changes={k: [getattr(spec, k), v] for k, v in changes.items()},
        from_schedule=spec_to_dict(spec), to_schedule=spec_to_dict(cont),
        resume_hint=RESUME_HINTS.get(view.layout, ""),
        new_scheduler=new_state, new_group_lrs=group_lrs,
        new_initial_lrs=[cont.base_lr * r for r in ratios],
    )


def _refuse_other_scheduler(view: CheckpointView, spec: ScheduleSpec, changes: dict) -> None:
    """Another trainer builds its scheduler in its own code and then loads the edited fields:
    the scheduler class stays, and knobs it does not have cannot be set."""
    kind = view.scheduler_type
    if changes.get("name", spec.name) != spec.name:
        raise RunwatchError(
            f"{view.layout} builds its {kind} in its own code and then loads the checkpoint's "
            f"fields: --schedule {changes['name']} cannot change the scheduler's class (change "
            "it in the training code, then edit that run's checkpoints)")
    knobs = [k for k in ("t0", "t_mult") if k in changes]
    if knobs and spec.name != "cosine_restarts":
        flags = ", ".join("--" + k.replace("_", "-") for k in knobs)
        raise RunwatchError(f"{flags}: only CosineAnnealingWarmRestarts has a restart period; "
                            f"this checkpoint's scheduler is {kind}")


def _planned_epochs(view: CheckpointView) -> int | None:
    if view.layout == "runwatch":
        return None
    value = args_get(view.args, "epochs") or args_get(view.args, "max_epochs")
    return int(value) if isinstance(value, int) else None


def _fit_cosine_annealing(view: CheckpointView, cont: ScheduleSpec, done: int) -> ScheduleSpec:
    """A one-period cosine_restarts continuation, in CosineAnnealingLR's terms when the
    checkpoint's scheduler is a CosineAnnealingLR (same LRs over the period)."""
    main = specs.split_warmup(view.scheduler)[2]
    if (view.layout != "runwatch" and cont.name == "cosine_restarts"
            and specs.scheduler_type(main) == "CosineAnnealingLR"):
        return replace(cont, name="cosine", epochs=cont.t0 + cont.warmup_epochs)
    return cont


def _plan_timm(loaded: LoadedCheckpoint, view: CheckpointView, request: EditRequest,
               changes: dict) -> EditPlan:
    unsupported = [k for k in ("t0", "t_mult", "schedule") if getattr(request, k) is not None]
    if unsupported or request.continuity not in (None, "keep-phase"):
        raise RunwatchError(
            "timm rebuilds its cosine from its command line (period = --epochs) and only takes "
            "initial_lr from the checkpoint: use --lr/--epochs/--eta-min/--warmup with "
            "--continuity keep-phase"
        )
    done = view.epochs_done
    model = timm_sched.timm_cosine(view.args)
    initial = _group_values(view, "initial_lr")
    before = upcoming_lrs(view, TABLE_EPOCHS)
    new_args = {k: v for k, v in (("lr", request.lr), ("epochs", request.epochs),
                                  ("min_lr", request.eta_min),
                                  ("warmup_epochs", request.warmup)) if v is not None}
    args = dict(vars(view.args)) if hasattr(view.args, "__dict__") else dict(view.args or {})
    args.update(new_args)
    scale = (request.lr / initial[0]) if request.lr is not None else 1.0
    new_initial = [v * scale for v in initial]
    after = [row[0] for row in timm_sched.timm_next_lrs(args, new_initial, done, TABLE_EPOCHS)]
    last = model.lr(initial[0], done - 1) if done >= 1 else None
    flags = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in new_args.items())
    return EditPlan(
        source=loaded.path, source_stamp=loaded.stamp, layout="timm", mode="keep-phase",
        first_epoch=done + 1,
        last_lr=last, lr_before=before, lr_after=after,
        jump_ratio=after[0] / last if last else None,
        warnings=_jump_warnings(done + 1, last, after),
        changes={k: [args_get(view.args, k), v] for k, v in new_args.items()},
        resume_hint=("timm rebuilds its scheduler from its command line: resume with "
                     f"--resume OUT {flags}".strip()),
        new_group_lrs=[timm_sched.timm_cosine(args).lr(b, done) for b in new_initial],
        new_initial_lrs=new_initial, new_args=new_args,
    )
