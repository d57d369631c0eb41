"""Resuming from a checkpoint: which schedule wins, and putting the optimizer there.

The rule (docs/checkpoint-layout.md): the checkpoint's schedule continues unless the config
given now differs in [optim], [schedule] or train.epochs. Then the trainer refuses, naming
each key, unless `--override-schedule` says to apply the config on purpose (keep-phase: the
next epoch runs at the new schedule's LR for that epoch). A checkpoint edited by
`runwatch ckpt edit` is followed as edited. Never silently: the stream gets an event.
A per-step schedule resumes only with the steps per epoch it was planned in.

`resume_run` puts model, optimizer, scheduler, scaler, RNGs and the loop state where the
checkpoint left them; `announce_resume` writes the `resume` record and says what changed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from pathlib import Path

import torch
from torch import nn
from torch.optim.lr_scheduler import LRScheduler

from runwatch.errors import RunwatchError
from runwatch.schedule import (
    ScheduleSpec,
    find_jumps,
    lr_at,
    lr_at_step,
    lr_plan,
    spec_from_dict,
)
from runwatch.stream import branch_point, latest_plan, read_stream, stream_path
from runwatch.trainer import checkpoint as ckpt
from runwatch.trainer.config import Config, config_to_dict, schedule_keys, schedule_spec
from runwatch.trainer.context import Precision
from runwatch.trainer.lr import build_scheduler, current_lr, position_scheduler
from runwatch.trainer.model import set_optimizer_hyperparameters
from runwatch.trainer.output import RunOutput
from runwatch.trainer.state import RunState, state_from_checkpoint

PREVIEW_EPOCHS = 5


@dataclass(frozen=True)
class ResumePlan:
    """How a resume proceeds: `mode` is "as_saved", "override" or "edited"."""

    spec: ScheduleSpec
    mode: str
    changes: list[dict] = field(default_factory=list)  # {key, checkpoint, config}
    other_changes: list[dict] = field(default_factory=list)  # keys that do not need consent


def config_changes(saved: dict, config: Config) -> tuple[list[dict], list[dict]]:
    """(schedule-relevant changes, other changes) between a checkpoint's config and `config`."""
    now = config_to_dict(config)
    # A key the checkpoint's runwatch did not have yet (schedule.step_per) had its default.
    guarded = schedule_keys(config_to_dict(Config())) | schedule_keys(saved)
    guarded_now = schedule_keys(now)
    changes = [{"key": k, "checkpoint": guarded.get(k), "config": v}
               for k, v in guarded_now.items() if guarded.get(k) != v]
    others = []
    for section, values in now.items():
        for key, value in values.items():
            name = f"{section}.{key}"
            old = saved.get(section, {}).get(key)
            if name not in guarded_now and old != value:
                others.append({"key": name, "checkpoint": old, "config": value})
    return changes, others


def plan_resume(checkpoint: dict, config: Config, override: bool, source: str,
                loader_steps: int = 1) -> ResumePlan:
    """Decide the schedule of a resumed run, or refuse with the way forward.

    `loader_steps`: optimizer steps per epoch of the resumed run (a per-step schedule's unit).
    """
    changes, others = config_changes(checkpoint.get("config", {}), config)
    if changes and not override:
        listed = "; ".join(f"{c['key']}: checkpoint {c['checkpoint']!r}, config {c['config']!r}"
                           for c in changes)
        raise RunwatchError(
            f"the config differs from checkpoint {source} in {listed}. Resuming would either "
            f"ignore the config or change the schedule mid-run: keep the checkpoint's values, "
            f"preview and apply a change with `runwatch ckpt edit {source} ...`, or resume "
            f"with --override-schedule to apply the config from the next epoch"
        )
    if not changes:
        spec = spec_from_dict(checkpoint["schedule"])
        # Same config, other steps per epoch: the per-step schedule's time unit changed.
        if spec.steps_per_epoch not in (1, loader_steps):
            if not override:
                raise RunwatchError(
                    f"checkpoint {source} follows a per-step schedule planned in "
                    f"{spec.steps_per_epoch} steps an epoch, but this run takes {loader_steps} "
                    f"(data.batch_size, the training set or the number of processes changed): "
                    f"resume as it ran, or with --override-schedule to re-plan it in the new "
                    f"steps"
                )
            changes.append({"key": "schedule.steps_per_epoch",
                            "checkpoint": spec.steps_per_epoch, "config": loader_steps})
        elif override:  # the config as written, even over a schedule `ckpt edit` changed
            wanted = schedule_spec(config, loader_steps=loader_steps)
            changes = [{"key": f"schedule.{f.name}", "checkpoint": getattr(spec, f.name),
                        "config": getattr(wanted, f.name)} for f in fields(ScheduleSpec)
                       if getattr(spec, f.name) != getattr(wanted, f.name)]
    if changes:
        return ResumePlan(schedule_spec(config, loader_steps=loader_steps), "override", changes,
                          others)
    # Edits the trainer has not followed yet (it counts those it has in `edits_followed`).
    unfollowed = len(checkpoint.get("edits") or []) > int(checkpoint.get("edits_followed", 0))
    mode = "edited" if unfollowed else "as_saved"
    return ResumePlan(spec, mode, [], others)


def check_run_dir(run_dir: Path, saved: dict, source: str) -> None:
    """Refuse a resume that would corrupt the run's stream: a checkpoint of another run, or
    one of the branch that `runwatch ckpt rewind` abandoned."""
    stream = stream_path(run_dir)
    if not stream.exists():
        return
    if not stream.is_file():  # a FIFO would block the reader, and the writer, for ever
        raise RunwatchError(f"{stream} is not a regular file: resume into the run folder "
                            f"whose stream it is, or pass a new --run-dir")
    records = read_stream(run_dir)[0]
    run_id = saved.get("run_id")
    ids = [r["run_id"] for r in records
           if r.get("type") in ("run_start", "resume") and r.get("run_id")]
    if run_id and ids and ids[-1] != run_id:
        raise RunwatchError(
            f"{run_dir} holds run {ids[-1]}, but checkpoint {source} is from run {run_id}: "
            f"resuming there would mix two runs in one stream and replace its last.pt and "
            f"best.pt; resume in the checkpoint's own run folder or pass a new --run-dir"
        )
    last = next((r for r in reversed(records) if branch_point(r) is not None), None)
    if last is not None and last.get("kind") == "rewind" and int(saved["epoch"]) > \
            branch_point(last):
        raise RunwatchError(
            f"the run was rewound to epoch {branch_point(last)}, and checkpoint {source} "
            f"(epoch {saved['epoch']}) is on the abandoned branch: resume from the rewind's "
            f"checkpoint {last.get('checkpoint')} with the command `runwatch ckpt rewind` "
            f"printed, or rewind again"
        )


def restore_schedule(
    optimizer: torch.optim.Optimizer, checkpoint: dict, plan: ResumePlan
) -> LRScheduler:
    """The scheduler to continue with; the optimizer's LR is that of the next epoch (per step:
    of the next step, mid-epoch too).

    Call after `optimizer.load_state_dict`. As saved or edited: the checkpoint's scheduler
    state is loaded into a scheduler of the checkpoint's schedule and the next LRs it will give
    are checked against the schedule maths. Override: a scheduler for the config's schedule
    placed at the current epoch (momentum buffers kept).
    """
    done, in_epoch = int(checkpoint["epoch"]), int(checkpoint.get("step_in_epoch", 0))
    if plan.mode == "override":
        return position_scheduler(optimizer, plan.spec, done, in_epoch)
    saved_lrs = [(g["lr"], g["initial_lr"]) for g in optimizer.param_groups]
    scheduler = build_scheduler(optimizer, plan.spec)
    for group, (lr, initial_lr) in zip(optimizer.param_groups, saved_lrs, strict=True):
        group["lr"], group["initial_lr"] = lr, initial_lr
    scheduler.load_state_dict(checkpoint["lr_scheduler"])
    check_next_lrs(optimizer, checkpoint["lr_scheduler"], plan.spec, done, in_epoch)
    return scheduler


def check_next_lrs(optimizer: torch.optim.Optimizer, scheduler_state: dict,
                   spec: ScheduleSpec, done: int, step_in_epoch: int = 0) -> None:
    """Refuse a checkpoint whose optimizer and scheduler would not follow its own schedule
    over the next PREVIEW_EPOCHS epochs (every step of them, for a per-step schedule)."""
    per_epoch = spec.steps_per_epoch
    # Scheduler steps (epochs, or optimizer steps) already taken; an epoch cut short by a
    # signal counts its steps only when per-step.
    taken = done * per_epoch + (step_in_epoch if per_epoch > 1 else 0)
    n = min(PREVIEW_EPOCHS * per_epoch, spec.epochs * per_epoch - taken)
    if n < 1:
        return
    got = simulate_lrs(optimizer, scheduler_state, spec, n)
    for i, lr in enumerate(got):
        want = lr_at_step(spec, taken + i + 1)
        if not math.isclose(lr, want, rel_tol=1e-6, abs_tol=1e-12):
            epoch, step = divmod(taken + i, per_epoch)
            where = f"epoch {epoch + 1}" + (f" step {step + 1}" if per_epoch > 1 else "")
            raise RunwatchError(
                f"the checkpoint's optimizer and scheduler would give LR {lr:.6g} at {where}, "
                f"but its schedule says {want:.6g}: the checkpoint is inconsistent; fix it with "
                f"`runwatch ckpt edit` or resume with --override-schedule"
            )


def simulate_lrs(optimizer: torch.optim.Optimizer, scheduler_state: dict, spec: ScheduleSpec,
                 n: int) -> list[float]:
    """LRs of the next `n` scheduler steps (epochs, or optimizer steps) this optimizer +
    scheduler state gives (on a scratch copy)."""
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in optimizer.param_groups]
    scratch = torch.optim.SGD([{"params": [p]} for p in params], lr=spec.base_lr)
    scheduler = build_scheduler(scratch, spec)
    for mine, theirs in zip(scratch.param_groups, optimizer.param_groups, strict=True):
        mine["lr"], mine["initial_lr"] = theirs["lr"], theirs["initial_lr"]
    scheduler.load_state_dict(scheduler_state)
    out = []
    for _ in range(n):
        out.append(current_lr(scratch))
        scratch.step()
        scheduler.step()
    return out


def fmt_lrs(lrs: list[float]) -> str:
    return "[" + ", ".join(f"{x:.6g}" for x in lrs) + "]"


@dataclass(frozen=True)
class Resumed:
    """A run put back where its checkpoint left it."""

    path: Path  # the checkpoint file
    plan: ResumePlan
    scheduler: LRScheduler
    state: RunState


def resume_run(source: Path, config: Config, *, override: bool, run_dir: Path, is_main: bool,
               loader_steps: int, model: nn.Module, optimizer: torch.optim.Optimizer,
               precision: Precision) -> Resumed:
    """Load checkpoint `source` (a file or a run directory) into the run's model, optimizer,
    scaler and RNGs, with the schedule `plan_resume` decides; refuse what cannot continue."""
    path = ckpt.resolve_checkpoint(source)  # messages name the file itself
    saved = ckpt.load_checkpoint(path)
    if is_main:  # only rank 0 reads the stream
        check_run_dir(run_dir, saved, str(path))
    plan = plan_resume(saved, config, override, str(path), loader_steps)
    check_same_model(saved, config, str(path))
    try:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
    except (RuntimeError, ValueError, KeyError) as exc:
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise RunwatchError(f"the weights or optimizer state in {path} do not fit "
                            f"{config.model.arch} ({detail}): the file is damaged or was "
                            f"edited; resume from another checkpoint") from None
    if plan.mode == "override":
        set_optimizer_hyperparameters(optimizer, config.optim)
    scheduler = restore_schedule(optimizer, saved, plan)
    if precision.scaler is not None and saved.get("scaler"):
        precision.scaler.load_state_dict(saved["scaler"])
    ckpt.set_rng_state(saved["rng"])
    state = state_from_checkpoint(saved, keep_edits=plan.mode != "override")
    if state.epoch >= plan.spec.epochs:
        raise RunwatchError(
            f"{path} has already trained all {plan.spec.epochs} epochs: to train longer, "
            f"raise train.epochs and resume with --override-schedule")
    return Resumed(path, plan, scheduler, state)


def check_same_model(saved: dict, config: Config, source: str) -> None:
    """Refuse a config whose [model] differs from the checkpoint's: its weights would not fit."""
    was = saved.get("config", {}).get("model", {})
    now = config_to_dict(config)["model"]
    changed = [f"model.{k} {was.get(k)!r} (config: {v!r})" for k, v in now.items()
               if was.get(k) != v]
    if changed:
        keep = " ".join(f"--set model.{k}={was.get(k)}" for k, v in now.items()
                        if was.get(k) != v)
        raise RunwatchError(
            f"checkpoint {source} holds {', '.join(changed)}: its weights fit only that model; "
            f"resume with the checkpoint's ({keep}), or start a new run for the new model")


def plan_with_history(spec: ScheduleSpec, done: int, run_dir: Path) -> list[float]:
    """The LR plan of a resumed run: epochs 1..done as the stream last planned them (they are
    history), then the schedule it follows now. NaN where neither knows (an edited schedule
    that starts mid-run, with no stream to take the history from)."""
    previous = latest_plan(read_stream(run_dir)[0]) if stream_path(run_dir).exists() else None
    if previous and len(previous) >= done:
        history = previous[:done]
    else:
        history = [lr_at(spec, e) if e > spec.offset else math.nan for e in range(1, done + 1)]
    return history + lr_plan(spec, done + 1)


def announce_resume(out: RunOutput, resumed: Resumed, spec: ScheduleSpec,
                    start_fields: dict) -> None:
    """The resume record, the override/edit event, and what the user must read on stdout."""
    plan, state = resumed.plan, resumed.state
    done = state.epoch
    lr_next = lr_plan(spec, done + 1, min(done + PREVIEW_EPOCHS, spec.epochs))
    out.record("resume", after_epoch=done, checkpoint=str(resumed.path),
               override=[c["key"] for c in plan.changes], **start_fields)
    if plan.mode == "override":
        out.event("schedule_override", changes=plan.changes, lr_next=lr_next)
    elif plan.mode == "edited":
        last = state.edits[-1] if state.edits else {}
        out.event("schedule_edit", changes=last.get("changes", []),
                  mode=last.get("mode", "unknown"), lr_next=lr_next)
    where = f"epoch {done + 1}"
    if state.step_in_epoch:
        where += f" step {state.step_in_epoch + 1}"
    out.say(f"resuming {resumed.path} at {where}")
    if plan.mode == "override":
        for c in plan.changes:
            out.say(f"  override {c['key']}: {c['checkpoint']!r} -> {c['config']!r}")
    elif plan.mode == "edited":
        out.say(f"  following the checkpoint's edited schedule ({len(state.edits)} edit(s) by "
                f"runwatch ckpt edit), not the config's")
    for c in plan.other_changes:
        out.say(f"  config {c['key']}: {c['checkpoint']!r} -> {c['config']!r}")
    out.say(f"  LR of epochs {done + 1}-{done + len(lr_next)}: {fmt_lrs(lr_next)}")
    # The LR epoch `done` trained with: from the checkpoint's own epoch record.
    prev_lr = (state.last_record or {}).get("lr")
    if plan.mode != "as_saved" and isinstance(prev_lr, float) and math.isfinite(prev_lr):
        for jump in find_jumps(lr_next, done + 1, prev_lr=prev_lr):
            out.say(f"  warning: the LR jumps {jump.ratio:.0f}x at epoch {jump.epoch} "
                    f"({jump.lr_before:.6g} -> {jump.lr_after:.6g}); accuracy usually drops at "
                    f"such a jump (preview choices with `runwatch ckpt edit --dry-run`)")
