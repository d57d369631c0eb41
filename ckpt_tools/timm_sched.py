"""timm's epoch schedule, rebuilt the way timm's train.py rebuilds it on resume.

timm saves no scheduler state. On `--resume`, train.py loads the optimizer state (so each param
group's `initial_lr` comes from the checkpoint), builds a fresh scheduler from its command-line
args with `create_scheduler_v2(optimizer, **scheduler_kwargs(args))` (whose `base_values` are the
groups' `initial_lr`), then calls `lr_scheduler.step(start_epoch)` with
`start_epoch = checkpoint['epoch'] + 1`; each epoch `t` (0-based) trains at `_get_lr(t)`.
Only the epoch-stepped cosine scheduler without noise or k-decay is modelled.
"""

from __future__ import annotations

from dataclasses import dataclass

from runwatch.ckpt_tools.layouts.base import args_get
from runwatch.ckpt_tools.schedulers import power
from runwatch.ckpt_tools.tree import is_number, kind_of
from runwatch.errors import RunwatchError
from runwatch.schedule import cosine_value, restart_position
from runwatch.terminal import printable


@dataclass(frozen=True)
class TimmCosine:
    """timm CosineLRScheduler's arguments as `scheduler_kwargs(args)` derives them."""

    t_initial: int
    lr_min: float
    warmup_t: int
    warmup_lr_init: float
    warmup_prefix: bool
    cycle_limit: int
    cycle_decay: float

    def lr(self, base: float, t: int) -> float:
        """`CosineLRScheduler._get_lr(t)` for one param group with `initial_lr` = base."""
        if t < self.warmup_t:
            return self.warmup_lr_init + t * (base - self.warmup_lr_init) / self.warmup_t
        if self.warmup_prefix:
            t -= self.warmup_t
        cycle = t // self.t_initial
        if cycle >= self.cycle_limit:
            return self.lr_min
        t_cur, t_i = restart_position(t, self.t_initial, 1)
        return cosine_value(base * power(self.cycle_decay, cycle), self.lr_min, t_cur, t_i)


def _arg(args: object, name: str, default: object) -> object:
    value = args_get(args, name)
    return default if value is None else value


def _number(args: object, name: str, default: float, whole: bool = False) -> float:
    """A numeric argument, checked: a wrong type is one line naming it."""
    value = _arg(args, name, default)
    if not is_number(value) or (whole and float(value) != int(value)):
        raise RunwatchError(f"args.{name} is {kind_of(value)} ({printable(value)!s:.30}), not "
                            f"a {'whole ' if whole else ''}number: cannot rebuild timm's "
                            "scheduler")
    return int(value) if whole else float(value)


def timm_cosine(args: object) -> TimmCosine:
    """The scheduler timm's train.py builds from `args`; RunwatchError if not modelled."""
    sched = _arg(args, "sched", "cosine")
    if sched != "cosine":
        raise RunwatchError(f"timm scheduler {sched!r} is not supported: only 'cosine' is "
                            "modelled (cannot edit)")
    unsupported = [name for name, ok in (
        ("sched_on_updates", not _arg(args, "sched_on_updates", False)),
        ("lr_noise", _arg(args, "lr_noise", None) is None),
        ("lr_k_decay", _number(args, "lr_k_decay", 1.0) == 1.0),
        ("lr_cycle_mul", _number(args, "lr_cycle_mul", 1.0) == 1.0),
    ) if not ok]
    if unsupported:
        raise RunwatchError(f"timm cosine with {', '.join(unsupported)} is not modelled: "
                            "cannot preview or edit this checkpoint")
    model = TimmCosine(
        t_initial=_number(args, "epochs", 300, whole=True),
        lr_min=_number(args, "min_lr", 0.0),
        warmup_t=_number(args, "warmup_epochs", 5, whole=True),
        warmup_lr_init=_number(args, "warmup_lr", 1e-5),
        warmup_prefix=bool(_arg(args, "warmup_prefix", False)),
        cycle_limit=_number(args, "lr_cycle_limit", 1, whole=True),
        cycle_decay=_number(args, "lr_cycle_decay", 0.1),
    )
    if model.t_initial < 1 or model.warmup_t < 0:
        raise RunwatchError(f"args.epochs {model.t_initial} / args.warmup_epochs "
                            f"{model.warmup_t}: cannot rebuild timm's scheduler")
    return model


def timm_next_lrs(args: object, initial_lrs: list[float], epochs_done: int,
                  count: int) -> list[list[float]]:
    """LRs (one list per param group) of the next `count` epochs after `epochs_done`."""
    model = timm_cosine(args)
    return [[model.lr(b, t) for b in initial_lrs]
            for t in range(epochs_done, epochs_done + count)]
