"""What a checkpoint holds, as a plain dataclass (the `ckpt inspect` report and the TUI's view)."""

from __future__ import annotations

import collections
from dataclasses import asdict, dataclass, field
from pathlib import Path

from runwatch.ckpt_tools.layouts import CheckpointView, detect
from runwatch.ckpt_tools.load import load_checkpoint
from runwatch.ckpt_tools.placeholders import TensorRef
from runwatch.ckpt_tools.preview import TABLE_EPOCHS, Preview, epoch_of
from runwatch.ckpt_tools.tree import Hints, is_number, is_tensor, plain
from runwatch.errors import RunwatchError

KEY_PREFIXES = ("module.", "_orig_mod.", "model.")
SAFETENSORS_DTYPES = {"F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16",
                      "I64": "int64", "I32": "int32", "I16": "int16", "I8": "int8",
                      "U8": "uint8", "BOOL": "bool"}


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
    next_lrs: list[float] = field(default_factory=list)  # per epoch (first step) or per step
    last_lr: float | None = None  # LR of the last epoch (or step) trained
    lr_note: str = ""
    jumps: list[dict] = field(default_factory=list)
    extra_keys: list[str] = field(default_factory=list)
    step_in_epoch: int = 0  # steps of epoch next_epoch done before a stop
    found: list[str] = field(default_factory=list)  # where each part was found, and how
    stepping: str = ""  # how the scheduler's unit was decided
    unit: str = ""  # what the scheduler steps per: epoch, optimizer step, scheduler step
    next_steps: list[float] = field(default_factory=list)  # the next scheduler steps' LRs
    first_step: int | None = None  # 0-based step of next_steps[0]
    schedule_source: str = ""  # where the schedule comes from on resume
    preview_end: str = ""  # why the preview stops where it does
    oracle: str = ""  # inspect --verify: what replaying the stored state in torch said

    def to_dict(self) -> dict:
        return asdict(self)


def _tensor_entry(t: object) -> tuple[str, int, int] | None:
    """(dtype, values, bytes) of a tensor placeholder, a real tensor or a safetensors header
    entry; None for anything else."""
    if isinstance(t, TensorRef):
        return t.dtype, t.numel, t.nbytes
    if is_tensor(t):  # a legacy file, loaded by torch
        return str(t.dtype).replace("torch.", ""), int(t.numel()), int(t.nbytes)
    if isinstance(t, dict) and isinstance(t.get("dtype"), str) \
            and isinstance(t.get("shape"), list) and isinstance(t.get("data_offsets"), list):
        shape, offsets = t["shape"], t["data_offsets"]
        if all(isinstance(d, int) and d >= 0 for d in shape) and len(offsets) == 2 \
                and all(isinstance(o, int) for o in offsets):
            n = 1
            for d in shape:
                n *= d
            return SAFETENSORS_DTYPES.get(t["dtype"], t["dtype"][:16]), n, offsets[1] - offsets[0]
    return None


def summarize_model(model: object) -> ModelSummary | None:
    if not isinstance(model, dict) or not model:
        return None
    entries = {k: e for k, v in model.items() if (e := _tensor_entry(v)) is not None}
    if not entries:
        return None
    dtypes = collections.Counter(e[0] for e in entries.values())
    prefixes = sorted({p for k in entries for p in KEY_PREFIXES if str(k).startswith(p)})
    return ModelSummary(tensors=len(entries), parameters=sum(e[1] for e in entries.values()),
                        bytes=sum(e[2] for e in entries.values()), dtypes=dict(dtypes),
                        key_prefixes=prefixes)


def summarize_optimizer(view: CheckpointView) -> OptimizerSummary | None:
    opt = view.optimizer
    if opt is None:
        return None
    groups = [g.shown | {"params": g.params} for g in opt.groups]
    return OptimizerSummary(opt.kind, groups, opt.buffers, opt.buffer_names)


def _scheduler_fields(view: CheckpointView) -> dict:
    if view.scheduler is not None:
        return plain(view.scheduler.raw)
    return {}


def inspect_checkpoint(path: str | Path, hints: Hints | None = None,
                       verify: bool = False) -> CheckpointInfo:
    """Everything `ckpt inspect` reports about the checkpoint at `path`; `verify` replays the
    stored scheduler in torch and compares its LRs with the preview."""
    loaded = load_checkpoint(path)
    view = detect(loaded, hints)
    sched = view.scheduler
    info = CheckpointInfo(
        path=str(loaded.path), layout=view.layout.name, container=loaded.container,
        epochs_done=view.epochs_done, global_step=view.global_step, metrics=plain(view.metrics),
        model=summarize_model(view.model), optimizer=summarize_optimizer(view),
        scheduler_type=sched.describe() if sched is not None else None,
        scheduler_fields=_scheduler_fields(view),
        next_epoch=None if view.epochs_done is None else view.epochs_done + 1,
        extra_keys=view.extra_keys, step_in_epoch=view.step_in_epoch, found=view.found,
        stepping=view.stepping.how if view.stepping else "",
        unit=view.stepping.unit if view.stepping else "",
        schedule_source=view.layout.schedule_source,
    )
    if view.problems:
        info.lr_note = view.problems[0]
        return info
    try:
        preview = view.layout.preview(view, TABLE_EPOCHS)
    except RunwatchError as exc:
        info.lr_note = str(exc)
        return info
    _fill_preview(info, preview)
    if verify:
        info.oracle = verify_stored(view, preview)
    return info


def _fill_preview(info: CheckpointInfo, preview: Preview) -> None:
    info.next_lrs = [lr for _, lr in preview.rows()]
    info.next_steps = preview.steps[:TABLE_EPOCHS * 4]
    info.first_step = preview.first_step
    info.last_lr = preview.last_lr
    info.preview_end = preview.end
    if preview.first_epoch is None:
        info.next_epoch = None if info.epochs_done is None or info.step_in_epoch \
            else info.next_epoch
        info.lr_note = f"per {info.unit or 'scheduler step'}: rows are the next steps"
    elif preview.per_epoch and preview.per_epoch > 1:
        info.lr_note = "per-step schedule: each epoch's LR is that of its first step"
    info.jumps = [{"epoch": epoch_of(preview, j.epoch), "step": j.epoch + 1,
                   "lr_before": j.lr_before, "lr_after": j.lr_after, "ratio": j.ratio}
                  for j in preview.jumps]


def verify_stored(view: CheckpointView, preview: Preview) -> str:
    """`inspect --verify`: torch's own scheduler, loaded with the stored state, against the
    torch-free preview."""
    from runwatch.ckpt_tools import oracle

    if view.scheduler is None or not view.scheduler.modelled or view.optimizer is None:
        return "not run: no stored torch scheduler to replay"
    if not oracle.available():
        return oracle.skipped("torch")
    import torch

    groups = [g.schedule_fields() for g in view.optimizer.groups]
    if not all(is_number(g.get("lr")) for g in groups):
        return "not run: a param group's lr is not a number"
    got = oracle.replay(view.scheduler.raw, groups, len(preview.steps), view.scheduler.path)
    return oracle.compare(got, preview.steps, f"torch {torch.__version__}")
