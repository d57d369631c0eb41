"""What a checkpoint holds, as a plain dataclass (the `ckpt inspect` report and the TUI's view)."""

from __future__ import annotations

import argparse
import collections
from dataclasses import asdict, dataclass, field
from pathlib import Path

from runwatch.ckpt_tools.layouts import CheckpointView, detect, is_tensor
from runwatch.ckpt_tools.load import load_checkpoint
from runwatch.ckpt_tools.plan import TABLE_EPOCHS, last_trained_lr, per_step_schedule, upcoming_lrs
from runwatch.errors import RunwatchError
from runwatch.schedule import find_jumps

KEY_PREFIXES = ("module.", "_orig_mod.", "model.")
GROUP_FIELDS = ("lr", "initial_lr", "momentum", "weight_decay", "nesterov", "betas", "eps")


@dataclass
class ModelSummary:
    tensors: int
    parameters: int
    bytes: int
    dtypes: dict[str, int]
    key_prefixes: list[str]


@dataclass
class OptimizerSummary:
    type: str
    param_groups: list[dict]
    state_buffers: int
    buffer_names: list[str]


@dataclass
class CheckpointInfo:
    path: str
    layout: str
    container: str
    epochs_done: int | None
    global_step: int | None
    metrics: dict
    model: ModelSummary | None
    optimizer: OptimizerSummary | None
    scheduler_type: str | None
    scheduler_fields: dict
    next_epoch: int | None
    next_lrs: list[float] = field(default_factory=list)
    last_lr: float | None = None  # LR of the last epoch trained, when the schedule tells
    lr_note: str = ""
    jumps: list[dict] = field(default_factory=list)
    extra_keys: list[str] = field(default_factory=list)
    step_in_epoch: int = 0  # runwatch: steps of epoch next_epoch done before a stop

    def to_dict(self) -> dict:
        return asdict(self)


def _tensor_numel(t: object) -> int:
    if isinstance(t, dict):  # a safetensors header entry
        n = 1
        for d in t.get("shape", []):
            n *= d
        return n
    return int(t.numel() if callable(getattr(t, "numel", None)) else t.numel)


def _tensor_dtype(t: object) -> str:
    return str(t["dtype"] if isinstance(t, dict) else t.dtype).replace("torch.", "")


def _tensor_bytes(t: object) -> int:
    if isinstance(t, dict):
        start, end = t.get("data_offsets", [0, 0])
        return end - start
    nbytes = t.nbytes
    return int(nbytes() if callable(nbytes) else nbytes)


def summarize_model(model: object) -> ModelSummary | None:
    if not isinstance(model, dict) or not model:
        return None
    tensors = {k: v for k, v in model.items() if is_tensor(v) or isinstance(v, dict)}
    dtypes = collections.Counter(_tensor_dtype(t) for t in tensors.values())
    prefixes = sorted({p for k in tensors for p in KEY_PREFIXES if str(k).startswith(p)})
    return ModelSummary(
        tensors=len(tensors), parameters=sum(_tensor_numel(t) for t in tensors.values()),
        bytes=sum(_tensor_bytes(t) for t in tensors.values()), dtypes=dict(dtypes),
        key_prefixes=prefixes,
    )


def _optimizer_type(group: dict) -> str:
    """Optimizers do not store their class; the param-group keys tell them apart."""
    if "betas" in group:
        return "AdamW" if group.get("decoupled_weight_decay") or group.get("weight_decay", 0) \
            >= 0.01 else "Adam"
    if "momentum" in group and "nesterov" in group:
        return "SGD"
    if "alpha" in group:
        return "RMSprop"
    return "unknown"


def summarize_optimizer(opt: object) -> OptimizerSummary | None:
    if not isinstance(opt, dict) or "param_groups" not in opt:
        return None
    groups = [{k: g.get(k) for k in GROUP_FIELDS if k in g} | {"params": len(g.get("params", []))}
              for g in opt["param_groups"]]
    state = opt.get("state") or {}
    names = sorted({k for s in state.values() if isinstance(s, dict) for k in s})
    buffers = sum(1 for s in state.values() if isinstance(s, dict)
                  for v in s.values() if is_tensor(v))
    kind = _optimizer_type(opt["param_groups"][0]) if opt["param_groups"] else "unknown"
    return OptimizerSummary(kind, groups, buffers, names)


def _plain(value: object) -> object:
    """JSON-friendly copy of scheduler fields (Counter -> dict, nested states kept)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, argparse.Namespace):
        return _plain(vars(value))
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def _scheduler_fields(view: CheckpointView) -> dict:
    if view.scheduler is not None:
        return _plain(view.scheduler)
    if view.layout == "timm" and view.args is not None:
        keys = ("sched", "lr", "epochs", "min_lr", "warmup_epochs", "warmup_lr", "cooldown_epochs",
                "lr_cycle_limit", "lr_cycle_mul", "lr_cycle_decay", "sched_on_updates")
        args = _plain(view.args)
        return {k: args.get(k) for k in keys if k in args}
    return {}


def inspect_checkpoint(path: str | Path) -> CheckpointInfo:
    """Everything `ckpt inspect` reports about the checkpoint at `path`."""
    loaded = load_checkpoint(path)
    view = detect(loaded)
    info = CheckpointInfo(
        path=str(loaded.path), layout=view.layout, container=loaded.container,
        epochs_done=view.epochs_done, global_step=view.global_step, metrics=_plain(view.metrics),
        model=summarize_model(view.model), optimizer=summarize_optimizer(view.optimizer),
        scheduler_type=view.scheduler_type, scheduler_fields=_scheduler_fields(view),
        next_epoch=None if view.epochs_done is None else view.epochs_done + 1,
        extra_keys=view.extra_keys,
        step_in_epoch=view.step_in_epoch,
    )
    try:
        info.next_lrs = upcoming_lrs(view, TABLE_EPOCHS)
    except RunwatchError as exc:
        info.lr_note = str(exc)
        return info
    if view.layout == "runwatch" and isinstance(view.schedule, dict) and view.epochs_done:
        planned = int(view.schedule.get("epochs", 0))
        if planned - view.epochs_done < 1:  # a finished run: no next epoch to show
            info.next_lrs = []
            info.lr_note = (f"all {planned} planned epochs are trained; to train longer, "
                            f"preview it with `runwatch ckpt edit {loaded.path} --epochs N "
                            f"--dry-run`")
            return info
        info.next_lrs = info.next_lrs[:planned - view.epochs_done]
    if per_step_schedule(view) is not None:
        info.lr_note = "per-step schedule: each epoch's LR is that of its first step"
    first = info.next_epoch or 1
    info.last_lr = last_trained_lr(view)
    info.jumps = [{"epoch": j.epoch, "lr_before": j.lr_before, "lr_after": j.lr_after,
                   "ratio": j.ratio}
                  for j in find_jumps(info.next_lrs, first, prev_lr=info.last_lr)]
    return info
