"""The knobs users turn, applied to a torch scheduler's settings in its own unit.

A trainer that builds its scheduler in code and then loads the checkpoint's state keeps the
scheduler's class; what an edit may change are the settings that class stores: the peak LR,
the length (T_max, total_iters, OneCycleLR's total_steps), T_0/T_mult, milestones, gamma and
step_size, eta_min, the warmup's length. Values given in epochs are converted to the
scheduler's steps (x steps per epoch for a scheduler stepped every optimizer step); where the
steps per epoch are not known, epoch-valued knobs are refused and the step-valued ones
(--total-steps, --warmup-steps) still work.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from runwatch.ckpt_tools.sched_forms import main_child, warmup_length
from runwatch.ckpt_tools.schedulers import Scheduler
from runwatch.ckpt_tools.stepping import Stepping
from runwatch.errors import RunwatchError

# --schedule names (runwatch's) and the torch class each stands for.
CLASS_OF_SCHEDULE = {"cosine_restarts": "CosineAnnealingWarmRestarts",
                     "cosine": "CosineAnnealingLR", "step": "MultiStepLR",
                     "constant": "ConstantLR"}
WARMUP_KINDS = ("LinearLR", "ConstantLR")


@dataclass
class Knobs:
    """The requested values, each in the unit its flag names (None: unchanged)."""

    lr: float | None = None
    eta_min: float | None = None
    epochs: int | None = None
    total_steps: int | None = None
    t0: int | None = None
    t_mult: int | None = None
    warmup: int | None = None
    warmup_steps: int | None = None
    milestones: tuple[int, ...] | None = None
    gamma: float | None = None
    step_size: int | None = None
    schedule: str | None = None


@dataclass
class Tuned:
    """A scheduler's new settings (a checked copy), its groups' fields, the planned total in
    scheduler steps when the edit gave one, and each change as [old, new] for the report."""

    sched: Scheduler
    groups: list[dict]
    total: int | None = None
    changes: dict = field(default_factory=dict)


def _steps(value: int, flag: str, stepping: Stepping) -> int:
    if stepping.per_epoch is None:
        raise RunwatchError(f"{flag} is in epochs, and how often this scheduler steps per epoch "
                            f"is not known ({stepping.how}); give the length in scheduler "
                            "steps (--total-steps, --warmup-steps) instead")
    return value * stepping.per_epoch


def _refuse(flag: str, kind: str, what: str) -> RunwatchError:
    return RunwatchError(f"{flag}: {what}; this checkpoint's scheduler is {kind}")


def peak(sched: Scheduler, groups: list[dict]) -> float:
    """The first group's peak LR under these settings."""
    main = main_child(sched)
    if main.kind == "OneCycleLR":
        return groups[0]["max_lr"]
    if main.kind == "CyclicLR":
        return main.fields["max_lrs"][0]
    if sched.kind == "ChainedScheduler":
        return sched.children[0].fields["base_lrs"][0]
    if sched.kind == "ReduceLROnPlateau":
        return groups[0]["lr"]
    return main.fields["base_lrs"][0]


def _scale_lr(t: Tuned, new: float) -> None:
    old = peak(t.sched, t.groups)
    if not old > 0:
        raise RunwatchError(f"the stored peak LR is {old}: --lr scales the stored LRs, and this "
                            "one cannot be scaled")
    k = new / old
    leaves = t.sched.children or [t.sched]
    for leaf in leaves:
        if leaf.kind == "CyclicLR":
            leaf.fields["max_lrs"] = [x * k for x in leaf.fields["max_lrs"]]
        elif "base_lrs" in leaf.fields:
            leaf.fields["base_lrs"] = [x * k for x in leaf.fields["base_lrs"]]
    for g in t.groups:
        for key in ("initial_lr", "max_lr", "min_lr"):
            if key in g and main_child(t.sched).kind != "CyclicLR":
                g[key] *= k
        if t.sched.kind in ("ReduceLROnPlateau", "ChainedScheduler"):
            g["lr"] *= k
    t.changes["peak lr"] = [old, new]


def _ratios(groups: list[dict]) -> list[float]:
    first = groups[0].get("initial_lr") or groups[0].get("lr")
    if not first or not first > 0:
        raise RunwatchError("the first param group's LR is not positive: its groups' ratios "
                            "cannot be kept")
    return [(g.get("initial_lr") or g.get("lr") or 0.0) / first for g in groups]


def _eta_min(t: Tuned, value: float) -> None:
    main = main_child(t.sched)
    if main.kind in ("CosineAnnealingLR", "CosineAnnealingWarmRestarts"):
        t.changes["eta_min"] = [main.fields["eta_min"], value]
        main.fields["eta_min"] = value
    elif main.kind == "OneCycleLR":
        t.changes["min_lr"] = [t.groups[0]["min_lr"], value]
        for g, r in zip(t.groups, _ratios(t.groups), strict=True):
            g["min_lr"] = value * r
    elif main.kind == "CyclicLR":
        t.changes["base_lr"] = [main.fields["base_lrs"][0], value]
        main.fields["base_lrs"] = [value * r for r in _ratios(t.groups)]
        for g, b in zip(t.groups, main.fields["base_lrs"], strict=True):
            g["initial_lr"] = b
    else:
        raise _refuse("--eta-min", main.kind, "only cosine, one-cycle and cyclic schedules have "
                                              "a lowest LR to set")


def _one_cycle_phases(main: Scheduler, total: int, rise: int | None) -> None:
    """OneCycleLR's phase ends for `total` steps, rising for `rise` steps (None: the same
    fraction of the total as before, as its pct_start)."""
    f = main.fields
    phases = f["_schedule_phases"]
    if rise is None:
        first = float((phases[0]["end_step"] + 1) / f["total_steps"] * total) - 1
    else:
        first = float(rise) - 1
    ends = [first, float(2 * (first + 1)) - 2, total - 1] if len(phases) == 3 \
        else [first, total - 1]
    if first <= 0 or not all(a < b for a, b in zip(ends, ends[1:], strict=False)):
        raise RunwatchError(f"OneCycleLR with {total} steps and a rise of {first + 1:g} has no "
                            "room for its phases")
    f["total_steps"] = total
    f["_schedule_phases"] = [dict(ph, end_step=e) for ph, e in zip(phases, ends, strict=True)]


def _length(t: Tuned, total: int, stepping: Stepping, rise: int | None) -> None:
    main, w = main_child(t.sched), warmup_length(t.sched)
    if total <= stepping.taken:
        raise RunwatchError(f"the new length ({total} {stepping.unit}s) is not past the "
                            f"{stepping.taken} already taken: nothing left to train")
    t.total = total
    f = main.fields
    if main.kind == "CosineAnnealingLR":
        t.changes["T_max"] = [f["T_max"], total - w]
        f["T_max"] = total - w
    elif main.kind == "PolynomialLR" or (main.kind == "LinearLR" and main is not t.sched):
        t.changes["total_iters"] = [f["total_iters"], total - w]
        f["total_iters"] = total - w
    elif main.kind == "OneCycleLR":
        t.changes["total_steps"] = [f["total_steps"], total - w]
        _one_cycle_phases(main, total - w, rise)


def _warmup(t: Tuned, steps: int, flag: str, keep_length: bool) -> None:
    """A new warmup length; with `keep_length`, the run still ends where it did."""
    s = t.sched
    main = main_child(s)
    if main.kind == "OneCycleLR" and s.kind != "SequentialLR":
        t.changes["warmup steps"] = [main.fields["_schedule_phases"][0]["end_step"] + 1, steps]
        if keep_length:
            _one_cycle_phases(main, main.fields["total_steps"], steps)
        return
    if s.kind != "SequentialLR" or len(s.children) != 2 \
            or s.children[0].kind not in WARMUP_KINDS:
        raise _refuse(flag, s.describe(), "adding or removing a warmup changes the scheduler's "
                                          "class (a SequentialLR), which the training code builds")
    if steps < 1:
        raise RunwatchError(f"{flag} 0 would remove the warmup the training code builds: use 1 "
                            "or more")
    old = s.fields["_milestones"][0]
    t.changes["warmup steps"] = [old, steps]
    s.fields["_milestones"] = [steps]
    s.children[0].fields["total_iters"] = steps
    if main.kind == "CosineAnnealingLR" and keep_length:
        if main.fields["T_max"] + old - steps < 1:
            raise RunwatchError(f"{flag}: a warmup of {steps} steps leaves no cosine")
        main.fields["T_max"] += old - steps


def tune(sched: Scheduler, groups: list[dict], knobs: Knobs, stepping: Stepping) -> Tuned:
    """Apply the knobs to a copy of the settings; RunwatchError for a knob the class lacks."""
    t = Tuned(copy.deepcopy(sched), [dict(g) for g in groups])
    main = main_child(t.sched)
    kind = main.kind
    if knobs.schedule is not None and CLASS_OF_SCHEDULE[knobs.schedule] != kind:
        raise RunwatchError(f"the training code builds its {t.sched.describe()} and then loads "
                            f"the checkpoint's fields: --schedule {knobs.schedule} cannot change "
                            "the scheduler's class (change it in the training code)")
    if knobs.lr is not None:
        _scale_lr(t, knobs.lr)
    if t.sched.kind in ("ReduceLROnPlateau", "ChainedScheduler"):
        rest = [k for k, v in vars(knobs).items() if v is not None and k not in ("lr", "epochs")]
        if rest:
            raise _refuse(f"--{rest[0].replace('_', '-')}", t.sched.describe(),
                          "only its peak LR (--lr) can be edited")
        return t
    if knobs.eta_min is not None:
        _eta_min(t, knobs.eta_min)
    if knobs.t0 is not None or knobs.t_mult is not None:
        if kind != "CosineAnnealingWarmRestarts":
            raise _refuse("--t0/--t-mult", kind, "only CosineAnnealingWarmRestarts has a "
                                                 "restart period")
        f = main.fields
        if knobs.t0 is not None:
            t0 = _steps(knobs.t0, "--t0", stepping)
            t.changes["T_0"] = [f["T_0"], t0]
            f["T_0"] = t0
        if knobs.t_mult is not None:
            t.changes["T_mult"] = [f["T_mult"], knobs.t_mult]
            f["T_mult"] = knobs.t_mult
    if knobs.gamma is not None:
        if "gamma" not in main.fields or (kind == "CyclicLR" and main.fields["mode"] !=
                                          "exp_range"):
            raise _refuse("--gamma", kind, "only step, multi-step, exponential and exp_range "
                                           "cyclic schedules have a gamma")
        t.changes["gamma"] = [main.fields["gamma"], knobs.gamma]
        main.fields["gamma"] = knobs.gamma
    if knobs.step_size is not None:
        if kind != "StepLR":
            raise _refuse("--step-size", kind, "only StepLR has a step size")
        size = _steps(knobs.step_size, "--step-size", stepping)
        t.changes["step_size"] = [main.fields["step_size"], size]
        main.fields["step_size"] = size
    if knobs.milestones is not None:
        if kind != "MultiStepLR":
            raise _refuse("--milestones", kind, "only MultiStepLR has milestones")
        w = warmup_length(t.sched)
        new = sorted(_steps(m, "--milestones", stepping) - w for m in knobs.milestones)
        if new and new[0] < 1:
            raise RunwatchError(f"--milestones: each must come after the warmup ({w} steps)")
        t.changes["milestones"] = [[m + w for m in main.fields["milestones"]],
                                   [m + w for m in new]]
        main.fields["milestones"] = new
    total = knobs.total_steps if knobs.total_steps is not None else (
        _steps(knobs.epochs, "--epochs", stepping) if knobs.epochs is not None else None)
    rise = None
    if knobs.warmup is not None or knobs.warmup_steps is not None:
        rise = knobs.warmup_steps if knobs.warmup_steps is not None else \
            _steps(knobs.warmup, "--warmup", stepping)
        _warmup(t, rise, "--warmup-steps" if knobs.warmup_steps is not None else "--warmup",
                keep_length=total is None)
    if total is not None:
        _length(t, total, stepping, rise if t.sched.kind == "OneCycleLR" else None)
    for g, b in zip(t.groups, main_child(t.sched).fields.get("base_lrs", []), strict=False):
        if main_child(t.sched).kind != "CyclicLR" and "initial_lr" in g:
            g["initial_lr"] = b
    return t
