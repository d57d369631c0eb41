"""The learning-rate schedules, computed in one place (torch-free).

`lr_at(spec, epoch)` is the LR that epoch `epoch` (1-based) trains with, exactly as torch's
schedulers produce it when stepped once per epoch:

- warmup: `LinearLR(start_factor, total_iters=warmup_epochs)` inside `SequentialLR`,
  then the main schedule counts from 0 again (`milestones=[warmup_epochs]`);
- cosine_restarts: `CosineAnnealingWarmRestarts(T_0=t0, T_mult=t_mult, eta_min)`;
- cosine: `CosineAnnealingLR(T_max=epochs - warmup_epochs, eta_min)`;
- step: `MultiStepLR(milestones, gamma)` with milestones counted in absolute epochs
  (epoch `m + 1` is the first to run at the decayed LR);
- constant: the base LR.

`offset` shifts the whole schedule in time: epoch `e` trains with the LR the unshifted
schedule gives at `e - offset`. It is how a resumed run starts a new schedule mid-way
(see `continue_schedule`).

`steps_per_epoch` > 1 makes it a per-step schedule: the same schedule counted in optimizer
steps (`step_scaled`: every epoch-valued field times `steps_per_epoch`), its scheduler stepped
after every optimizer step. `lr_at_step` gives the LR of each step; `lr_at(spec, e)` is then
the LR of epoch `e`'s first step, so per-epoch plans (`lr_plan`) read the same either way.

The trainer (plan), ckpt_tools (preview), forecast (future LRs) and the TUI (sparkline of the
plan) all use this module, so they cannot disagree.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace

from runwatch.errors import RunwatchError

SCHEDULE_NAMES = ("cosine_restarts", "cosine", "step", "constant")
CONTINUITY_MODES = ("keep-phase", "match-lr", "anneal-from-current", "restart")


@dataclass(frozen=True)
class ScheduleSpec:
    """A complete per-epoch LR schedule: everything needed to compute every epoch's LR."""

    name: str
    base_lr: float
    epochs: int
    t0: int = 30
    t_mult: int = 1
    eta_min: float = 0.0
    warmup_epochs: int = 0
    warmup_start_factor: float = 0.1
    milestones: tuple[int, ...] = field(default_factory=tuple)
    gamma: float = 0.1
    offset: int = 0
    steps_per_epoch: int = 1  # 1: stepped once per epoch; more: once per optimizer step

    def __post_init__(self) -> None:
        validate_spec(self)


def spec_to_dict(spec: ScheduleSpec) -> dict:
    """The spec as the dict a stream record or checkpoint stores (JSON and pickle-safe: the
    milestones as a list); `spec_from_dict` reads it back."""
    return {**asdict(spec), "milestones": list(spec.milestones)}


def spec_from_dict(data: dict) -> ScheduleSpec:
    """The ScheduleSpec a stream record or checkpoint stores as a dict (unknown keys ignored)."""
    known = {f.name for f in fields(ScheduleSpec)}
    values = {k: v for k, v in data.items() if k in known}
    values["milestones"] = tuple(values.get("milestones", ()))
    try:
        return ScheduleSpec(**values)
    except TypeError as exc:  # a missing field or a wrong type in a file we did not write
        raise RunwatchError(f"the stored schedule is not a valid schedule ({exc})") from None


class ScheduleFieldError(RunwatchError):
    """A schedule field out of range; `fields` names the ScheduleSpec fields involved, so a
    caller can say where each came from (a config file, a --set)."""

    def __init__(self, message: str, *fields: str) -> None:
        super().__init__(message)
        self.fields = fields


def validate_spec(spec: ScheduleSpec) -> None:
    """Raise ScheduleFieldError naming the first out-of-range field."""
    if spec.name not in SCHEDULE_NAMES:
        raise ScheduleFieldError(
            f"unknown schedule {spec.name!r}: use one of {', '.join(SCHEDULE_NAMES)}", "name"
        )
    checks = [
        (spec.base_lr > 0 and math.isfinite(spec.base_lr), "lr", spec.base_lr, "a positive number"),
        (spec.epochs >= 1, "epochs", spec.epochs, "at least 1"),
        (spec.t0 >= 1, "t0", spec.t0, "at least 1"),
        (spec.t_mult >= 1, "t_mult", spec.t_mult, "an integer of at least 1"),
        (0 <= spec.eta_min < spec.base_lr, ("eta_min", "lr"), spec.eta_min,
         "at least 0 and below the LR"),
        (spec.warmup_epochs >= 0, "warmup_epochs", spec.warmup_epochs, "0 or more"),
        (0 < spec.warmup_start_factor <= 1, "warmup_start_factor", spec.warmup_start_factor,
         "in (0, 1]"),
        (all(m >= 1 for m in spec.milestones), "milestones", list(spec.milestones),
         "epochs of at least 1"),
        (0 < spec.gamma <= 1, "gamma", spec.gamma, "in (0, 1]"),
        (spec.steps_per_epoch >= 1, "steps_per_epoch", spec.steps_per_epoch, "at least 1"),
    ]
    for ok, keys, value, expected in checks:
        if not ok:
            keys = (keys,) if isinstance(keys, str) else keys
            raise ScheduleFieldError(
                f"schedule {keys[0]} = {value!r} is out of range: it must be {expected}", *keys
            )
    if spec.name == "cosine" and spec.epochs - spec.warmup_epochs < 1:
        raise ScheduleFieldError(
            f"cosine schedule needs more epochs ({spec.epochs}) than warmup epochs "
            f"({spec.warmup_epochs}): lower warmup_epochs or raise epochs",
            "warmup_epochs", "epochs"
        )


def restart_position(step: int, t0: int, t_mult: int) -> tuple[int, int]:
    """(T_cur, T_i) of CosineAnnealingWarmRestarts after `step` scheduler steps."""
    if t_mult == 1:
        return step % t0, t0
    n = int(math.log(step / t0 * (t_mult - 1) + 1, t_mult))
    t_cur = step - t0 * (t_mult**n - 1) // (t_mult - 1)
    t_i = t0 * t_mult**n
    # Guard the float log at exact period boundaries.
    if t_cur >= t_i:
        t_cur, t_i = t_cur - t_i, t_i * t_mult
    return t_cur, t_i


def cosine_value(base_lr: float, eta_min: float, t_cur: float, t_i: float) -> float:
    """eta_min + (base_lr - eta_min) * (1 + cos(pi * t_cur / t_i)) / 2."""
    return eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * t_cur / t_i)) / 2


def _main_lr(spec: ScheduleSpec, step: int) -> float:
    """LR of the main (post-warmup) schedule after `step` scheduler steps."""
    if spec.name == "cosine_restarts":
        t_cur, t_i = restart_position(step, spec.t0, spec.t_mult)
        return cosine_value(spec.base_lr, spec.eta_min, t_cur, t_i)
    if spec.name == "cosine":
        t_max = spec.epochs - spec.warmup_epochs
        # CosineAnnealingLR's closed form is periodic: past T_max it climbs again.
        return cosine_value(spec.base_lr, spec.eta_min, step, t_max)
    if spec.name == "step":
        decays = sum(1 for m in spec.milestones if step + spec.warmup_epochs >= m)
        return spec.base_lr * spec.gamma**decays
    return spec.base_lr


def lr_at(spec: ScheduleSpec, epoch: int) -> float:
    """LR used while training `epoch` (1-based); of its first step for a per-step schedule."""
    e = epoch - spec.offset
    if e < 1:
        raise RunwatchError(f"epoch {epoch} is before this schedule starts (offset {spec.offset})")
    if spec.steps_per_epoch > 1:
        return lr_at_step(spec, (epoch - 1) * spec.steps_per_epoch + 1)
    step = e - 1
    if step < spec.warmup_epochs:
        f0 = spec.warmup_start_factor
        return spec.base_lr * (f0 + (1 - f0) * step / spec.warmup_epochs)
    return _main_lr(spec, step - spec.warmup_epochs)


def step_scaled(spec: ScheduleSpec) -> ScheduleSpec:
    """The same schedule counted in optimizer steps (a spec of steps_per_epoch 1)."""
    n = spec.steps_per_epoch
    return replace(spec, epochs=spec.epochs * n, t0=spec.t0 * n,
                   warmup_epochs=spec.warmup_epochs * n,
                   milestones=tuple(m * n for m in spec.milestones), offset=spec.offset * n,
                   steps_per_epoch=1)


def lr_at_step(spec: ScheduleSpec, step: int) -> float:
    """LR of optimizer step `step`, 1-based: `(epoch - 1) * steps_per_epoch + step in epoch`
    (the global step while steps_per_epoch stays the same). Equals `lr_at` when per-epoch."""
    return lr_at(step_scaled(spec), step)


def scheduler_steps(spec: ScheduleSpec, epochs_done: int, step_in_epoch: int = 0) -> int:
    """How many times the scheduler of `spec` has stepped after `epochs_done` epochs and
    `step_in_epoch` steps of the next: per epoch, the epochs; per step, every step."""
    if spec.steps_per_epoch == 1:
        return epochs_done - spec.offset
    return (epochs_done - spec.offset) * spec.steps_per_epoch + step_in_epoch


def lr_plan(spec: ScheduleSpec, first_epoch: int = 1, last_epoch: int | None = None) -> list[float]:
    """LRs of epochs first_epoch..last_epoch (default: to the planned end)."""
    last = spec.epochs if last_epoch is None else last_epoch
    return [lr_at(spec, e) for e in range(first_epoch, last + 1)]


def main_schedule_state(spec: ScheduleSpec, epochs_done: int) -> dict:
    """Position of the main schedule after `epochs_done` epochs: fields torch stores.

    Returns `last_epoch` (steps taken by the main scheduler) and, for warm restarts,
    `T_cur` and `T_i`; `in_warmup` says whether the next epoch is still warming up.
    """
    if spec.steps_per_epoch > 1:  # its scheduler counts optimizer steps
        return main_schedule_state(step_scaled(spec), epochs_done * spec.steps_per_epoch)
    steps = epochs_done - spec.offset
    main_steps = steps - spec.warmup_epochs
    state: dict = {"in_warmup": main_steps < 0, "last_epoch": max(main_steps, 0)}
    if spec.name == "cosine_restarts":
        state["T_cur"], state["T_i"] = restart_position(max(main_steps, 0), spec.t0, spec.t_mult)
    return state


@dataclass(frozen=True)
class Jump:
    """An LR change between consecutive epochs large enough to matter."""

    epoch: int
    lr_before: float
    lr_after: float

    @property
    def ratio(self) -> float:
        return self.lr_after / self.lr_before if self.lr_before > 0 else math.inf


def find_jumps(lrs: list[float], first_epoch: int, min_ratio: float = 2.0,
               prev_lr: float | None = None) -> list[Jump]:
    """Epochs whose LR rises by `min_ratio` or more over the epoch before.

    `lrs[i]` is the LR of epoch `first_epoch + i`; `prev_lr` is the LR of the epoch before
    `first_epoch`, when known (a resume point). Warmup ramps rise slowly and are not jumps.
    """
    out = []
    before = prev_lr
    for i, lr in enumerate(lrs):
        if before is not None and before > 0 and lr / before >= min_ratio:
            out.append(Jump(first_epoch + i, before, lr))
        before = lr
    return out


def continue_schedule(
    new: ScheduleSpec, epochs_done: int, last_lr: float, mode: str
) -> ScheduleSpec:
    """The schedule a run resumed after `epochs_done` epochs follows under a continuity mode.

    - keep-phase: the new schedule as if it had run from epoch 1 (same position in it).
    - match-lr: start at the point of the new period whose LR is closest to `last_lr`,
      on the annealing side, so the first resumed epoch does not jump.
    - anneal-from-current: one cosine from `last_lr` down to eta_min over the epochs left.
    - restart: a deliberate restart: the new schedule begins again at the next epoch.
    """
    if mode not in CONTINUITY_MODES:
        raise RunwatchError(
            f"unknown continuity {mode!r}: use one of {', '.join(CONTINUITY_MODES)}"
        )
    remaining = new.epochs - epochs_done
    if remaining < 1:
        raise RunwatchError(
            f"no epochs left: the run has done {epochs_done} of {new.epochs}; raise --epochs"
        )
    if mode == "keep-phase":
        return replace(new, offset=0)
    if mode == "restart":
        return replace(new, offset=epochs_done)
    if mode == "anneal-from-current":
        eta_min = min(new.eta_min, last_lr * 0.5)
        return replace(new, name="cosine_restarts", base_lr=last_lr, t0=remaining, t_mult=1,
                       eta_min=eta_min, warmup_epochs=0, offset=epochs_done)
    # match-lr: within the first period of the main schedule, the step whose LR is closest
    # to last_lr (ties go to the later, lower-LR step so the LR never rises).
    body = replace(new, warmup_epochs=0, offset=0)
    if new.name == "cosine_restarts":
        candidates = range(0, new.t0)
    elif new.name == "cosine":
        # One cosine over body.epochs steps: a later start would end it before the run ends,
        # and past its end the LR climbs again (the closed form is periodic).
        candidates = range(0, epochs_done + 1)
    else:
        candidates = range(0, remaining)
    best = min(candidates, key=lambda s: (abs(lr_at(body, s + 1) - last_lr), -s))
    return replace(body, offset=epochs_done - best)
