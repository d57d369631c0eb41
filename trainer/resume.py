"""Resuming from a checkpoint: which schedule wins, and putting the optimizer there.

The rule (docs/checkpoint-layout.md): the checkpoint's schedule continues unless the config
given now differs in [optim], [schedule] or train.epochs. Then the trainer refuses, naming
each key, unless `--override-schedule` says to apply the config on purpose (keep-phase: the
next epoch runs at the new schedule's LR for that epoch). A checkpoint edited by
`runwatch ckpt edit` is followed as edited. Never silently: the stream gets an event.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch.optim.lr_scheduler import LRScheduler

from trainer.config import Config, config_to_dict, schedule_keys, schedule_spec
from trainer.errors import RunwatchError
from trainer.lr import build_scheduler, current_lr, position_scheduler
from trainer.schedule import ScheduleSpec, lr_plan, spec_from_dict

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
    guarded = schedule_keys(saved)
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


def plan_resume(checkpoint: dict, config: Config, override: bool, source: str) -> ResumePlan:
    """Decide the schedule of a resumed run, or refuse with the way forward."""
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
    if changes:
        return ResumePlan(schedule_spec(config), "override", changes, others)
    spec = spec_from_dict(checkpoint["schedule"])
    # Edits the trainer has not followed yet (it counts those it has in `edits_followed`).
    unfollowed = len(checkpoint.get("edits") or []) > int(checkpoint.get("edits_followed", 0))
    mode = "edited" if unfollowed else "as_saved"
    return ResumePlan(spec, mode, [], others)


def restore_schedule(
    optimizer: torch.optim.Optimizer, checkpoint: dict, plan: ResumePlan
) -> LRScheduler:
    """The scheduler to continue with; the optimizer's LR is that of the next epoch.

    Call after `optimizer.load_state_dict`. As saved or edited: the checkpoint's scheduler
    state is loaded into a scheduler of the checkpoint's schedule and the next LRs it will give
    are checked against the schedule maths. Override: a scheduler for the config's schedule
    placed at the current epoch (momentum buffers kept).
    """
    done = int(checkpoint["epoch"])
    if plan.mode == "override":
        return position_scheduler(optimizer, plan.spec, done)
    saved_lrs = [(g["lr"], g["initial_lr"]) for g in optimizer.param_groups]
    scheduler = build_scheduler(optimizer, plan.spec)
    for group, (lr, initial_lr) in zip(optimizer.param_groups, saved_lrs, strict=True):
        group["lr"], group["initial_lr"] = lr, initial_lr
    scheduler.load_state_dict(checkpoint["lr_scheduler"])
    check_next_lrs(optimizer, checkpoint["lr_scheduler"], plan.spec, done)
    return scheduler


def check_next_lrs(optimizer: torch.optim.Optimizer, scheduler_state: dict,
                   spec: ScheduleSpec, done: int) -> None:
    """Refuse a checkpoint whose optimizer and scheduler would not follow its own schedule."""
    n = min(PREVIEW_EPOCHS, spec.epochs - done)
    if n < 1:
        return
    got = simulate_lrs(optimizer, scheduler_state, spec, n)
    want = lr_plan(spec, done + 1, done + n)
    close = [math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-12)
             for a, b in zip(got, want, strict=True)]
    if not all(close):
        raise RunwatchError(
            f"the checkpoint's optimizer and scheduler would give LRs {fmt_lrs(got)} for epochs "
            f"{done + 1}-{done + n}, but its schedule says {fmt_lrs(want)}: the checkpoint is "
            f"inconsistent; fix it with `runwatch ckpt edit` or resume with --override-schedule"
        )


def simulate_lrs(optimizer: torch.optim.Optimizer, scheduler_state: dict, spec: ScheduleSpec,
                 n: int) -> list[float]:
    """LRs of the next `n` epochs this optimizer + scheduler state gives (on a scratch copy)."""
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
