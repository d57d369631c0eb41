"""The Hugging Face Trainer's schedules: the LambdaLR `get_scheduler` builds, as plain maths.

The Trainer's scheduler is a LambdaLR, whose function is not in `scheduler.pt`; on
`resume_from_checkpoint` it builds a new one from the *new* TrainingArguments
(`lr_scheduler_type`, warmup, `max_steps`) and loads `scheduler.pt` into it, so the peak LR
comes from the stored `base_lrs` (a new `learning_rate` is ignored) and the shape from the
arguments passed now (DOMAIN.md). Each step's LR is `base_lr * factor(last_epoch)`; the
factors below are transformers' own lambdas (transformers/optimization.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from runwatch.ckpt_tools.inert import Inert
from runwatch.ckpt_tools.tree import is_number
from runwatch.errors import RunwatchError

MODELLED = ("linear", "cosine", "cosine_with_restarts", "constant", "constant_with_warmup",
            "cosine_with_min_lr")


@dataclass(frozen=True)
class HfArgs:
    """The TrainingArguments fields the schedule depends on, read as data."""

    cls: str
    learning_rate: float | None
    lr_scheduler_type: str | None
    warmup_steps: float
    warmup_ratio: float
    max_steps: int
    num_train_epochs: float | None
    lr_scheduler_kwargs: dict


def read_args(obj: object) -> HfArgs:
    """The fields of an inert TrainingArguments record (ckpt_tools/inert.py)."""
    if not isinstance(obj, Inert) or not isinstance(obj.state, dict):
        raise RunwatchError("training_args.bin does not hold a TrainingArguments object")
    state = obj.state

    def num(key: str, default: float | None) -> float | None:
        value = state.get(key, default)
        return float(value) if is_number(value) else default

    kind = state.get("lr_scheduler_type")
    if isinstance(kind, Inert):
        kind = kind.value
    kwargs = state.get("lr_scheduler_kwargs")
    kwargs = {str(k): v for k, v in kwargs.items() if is_number(v) or isinstance(v, str)} \
        if isinstance(kwargs, dict) else {}
    return HfArgs(cls=str(obj.cls), learning_rate=num("learning_rate", None),
                  lr_scheduler_type=kind if isinstance(kind, str) else None,
                  warmup_steps=num("warmup_steps", 0.0) or 0.0,
                  warmup_ratio=num("warmup_ratio", 0.0) or 0.0,
                  max_steps=int(num("max_steps", -1) or -1),
                  num_train_epochs=num("num_train_epochs", None), lr_scheduler_kwargs=kwargs)


@dataclass(frozen=True)
class HfSchedule:
    """`lr_scheduler_type` with its warmup and total steps: the factor of each step."""

    kind: str
    warmup: int
    total: int
    kwargs: tuple = ()

    def factor(self, step: int) -> float:
        w, t = self.warmup, self.total
        kw = dict(self.kwargs)
        if self.kind == "constant":
            return 1.0
        if step < w:
            return float(step) / float(max(1, w))
        if self.kind == "constant_with_warmup":
            return 1.0
        progress = float(step - w) / float(max(1, t - w))
        if self.kind == "linear":
            return max(0.0, float(t - step) / float(max(1, t - w)))
        if self.kind == "cosine":
            cycles = float(kw.get("num_cycles", 0.5))
            return max(0.0, 0.5 * (1.0 + math.cos(math.pi * cycles * 2.0 * progress)))
        if self.kind == "cosine_with_restarts":
            if progress >= 1.0:
                return 0.0
            cycles = float(kw.get("num_cycles", 1))
            return max(0.0, 0.5 * (1.0 + math.cos(math.pi * ((cycles * progress) % 1.0))))
        # cosine_with_min_lr: min_lr_rate given (min_lr is resolved against the peak)
        rate = float(kw.get("min_lr_rate", 0.0))
        cosine = 0.5 * (1.0 + math.cos(math.pi * float(kw.get("num_cycles", 0.5)) * 2.0
                                       * progress))
        return max(0.0, cosine * (1 - rate) + rate)


def warmup_steps(args: HfArgs, total: int) -> int:
    """`TrainingArguments.get_warmup_steps`: a count, or a fraction of the total (transformers 5
    takes a fraction in warmup_steps; 4.x had warmup_ratio)."""
    if args.warmup_steps >= 1:
        return int(args.warmup_steps)
    if args.warmup_steps > 0:
        return math.ceil(total * args.warmup_steps)
    return math.ceil(total * args.warmup_ratio)


def schedule_of(args: HfArgs, total: int) -> HfSchedule:
    """The schedule the Trainer builds from `args` for `total` steps; RunwatchError for the
    types whose factor is not modelled."""
    kind = args.lr_scheduler_type
    if kind not in MODELLED:
        raise RunwatchError(f"lr_scheduler_type {kind!r:.40} is not modelled (only "
                            f"{', '.join(MODELLED)}): cannot preview or edit this folder")
    kwargs = dict(args.lr_scheduler_kwargs)
    if "min_lr" in kwargs:  # resolved against the optimizer's default LR, not stored here
        raise RunwatchError("cosine_with_min_lr with min_lr is not modelled (min_lr_rate is): "
                            "cannot preview or edit this folder")
    return HfSchedule(kind, warmup_steps(args, total), total, tuple(sorted(kwargs.items())))
