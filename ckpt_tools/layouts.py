"""Which trainer wrote a checkpoint, and a normalised view of its parts.

The view holds live references into the loaded object tree (`optimizer`, `scheduler`, `args`),
so an edit changes the tree that `write.write_checkpoint` then writes back.

Epoch conventions: runwatch stores `epoch` = epochs completed; torchvision's train.py, timm's
CheckpointSaver and Lightning store the 0-based index of the epoch just finished, and resume at
`epoch + 1`.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

from runwatch.ckpt_tools import zipfmt
from runwatch.ckpt_tools.load import LoadedCheckpoint
from runwatch.ckpt_tools.pickled import TensorRef
from runwatch.ckpt_tools.schedulers import scheduler_type


@dataclass
class CheckpointView:
    layout: str
    obj: object
    epochs_done: int | None = None
    global_step: int | None = None
    model: dict | None = None
    optimizer: dict | None = None
    scheduler: dict | None = None
    scheduler_type: str | None = None
    args: object = None  # argparse.Namespace or dict of the run's arguments, when stored
    schedule: dict | None = None  # runwatch: the ScheduleSpec as a dict
    metrics: dict = field(default_factory=dict)
    extra_keys: list[str] = field(default_factory=list)
    step_in_epoch: int = 0  # runwatch: steps of the next epoch done before a stop
    # Why the scheduler's LRs cannot be read as one step per epoch (it steps per batch).
    stepping_problem: str = ""

    @property
    def param_groups(self) -> list[dict]:
        return list(self.optimizer.get("param_groups", [])) if self.optimizer else []


def is_tensor(x: object) -> bool:
    """A TensorRef (zip reader) or a real torch tensor (legacy loader)."""
    return isinstance(x, TensorRef) or type(x).__name__ in ("Tensor", "Parameter")


def _is_state_dict(x: object) -> bool:
    return isinstance(x, dict) and bool(x) and all(is_tensor(v) for v in x.values())


def _int(x: object) -> int | None:
    return int(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else None


def _next_index(x: object) -> int | None:
    """Epochs completed, from a 0-based index of the last finished epoch."""
    e = _int(x)
    return None if e is None else e + 1


def args_get(args: object, name: str) -> object:
    """A field of stored run arguments (argparse.Namespace or dict)."""
    if isinstance(args, argparse.Namespace):
        return getattr(args, name, None)
    return args.get(name) if isinstance(args, dict) else None


def detect(loaded: LoadedCheckpoint) -> CheckpointView:
    """The layout of a loaded checkpoint and its normalised view."""
    obj = loaded.obj
    if loaded.container == "hf-folder":
        state = obj["trainer_state"]
        sched = obj.get("lr_scheduler")
        return CheckpointView(
            "hf-trainer", obj, epochs_done=_int(state.get("epoch")),
            global_step=_int(state.get("global_step")), model=obj.get("model"),
            optimizer=obj.get("optimizer"), scheduler=sched,
            scheduler_type=scheduler_type(sched) if isinstance(sched, dict) else None,
            metrics={k: state.get(k) for k in ("best_metric", "best_model_checkpoint")
                     if state.get(k) is not None},
        )
    if not isinstance(obj, dict):
        return CheckpointView("state_dict", obj)
    if obj.get("format") == "runwatch":
        return _runwatch(obj)
    if "optimizer_states" in obj or "pytorch-lightning_version" in obj:
        return _lightning(obj, loaded)
    if "state_dict" in obj and ("arch" in obj or "version" in obj) and "optimizer" in obj:
        return _timm(obj)
    if "model" in obj and ("optimizer" in obj or "lr_scheduler" in obj or "args" in obj):
        return _torchvision(obj)
    inner = obj.get("state_dict", obj.get("model", obj))
    return CheckpointView("state_dict", obj, model=inner if _is_state_dict(inner) else obj,
                          epochs_done=_int(obj.get("epoch")))


def _with_scheduler(view: CheckpointView, sched: object) -> CheckpointView:
    if isinstance(sched, dict):
        view.scheduler = sched
        view.scheduler_type = scheduler_type(sched)
    return view


def _runwatch(obj: dict) -> CheckpointView:
    metrics = dict(obj.get("metrics") or {})
    for key in ("best_acc1", "best_epoch", "epochs_since_best"):
        if key in obj:
            metrics[key] = obj[key]
    view = CheckpointView(
        "runwatch", obj, epochs_done=_int(obj.get("epoch")),
        global_step=_int(obj.get("global_step")), model=obj.get("model"),
        optimizer=obj.get("optimizer"), args=obj.get("config"), schedule=obj.get("schedule"),
        metrics=metrics, step_in_epoch=_int(obj.get("step_in_epoch")) or 0,
    )
    return _with_scheduler(view, obj.get("lr_scheduler"))


def _torchvision(obj: dict) -> CheckpointView:
    view = CheckpointView(
        "torchvision", obj, epochs_done=_next_index(obj.get("epoch")), model=obj.get("model"),
        optimizer=obj.get("optimizer"), args=obj.get("args"),
        extra_keys=[k for k in ("model_ema", "scaler") if k in obj],
    )
    return _check_stepping(_with_scheduler(view, obj.get("lr_scheduler")))


def _lightning(obj: dict, loaded: LoadedCheckpoint) -> CheckpointView:
    optimizers = obj.get("optimizer_states") or []
    schedulers = obj.get("lr_schedulers") or []
    metrics = {}
    for state in (obj.get("callbacks") or {}).values():
        score = state.get("best_model_score") if isinstance(state, dict) else None
        if score is not None:
            if isinstance(score, TensorRef) and loaded.archive is not None:
                score = zipfmt.read_scalar(loaded.archive, score)
            metrics["best_model_score"] = float(score) if score is not None else None
            metrics["best_model_path"] = state.get("best_model_path")
            metrics["monitor"] = state.get("monitor")
    view = CheckpointView(
        "lightning", obj, epochs_done=_lightning_epochs_done(obj),
        global_step=_int(obj.get("global_step")), model=obj.get("state_dict"),
        optimizer=optimizers[0] if optimizers else None, args=obj.get("hyper_parameters"),
        metrics=metrics,
    )
    return _check_stepping(_with_scheduler(view, schedulers[0] if schedulers else None))


def _lightning_epochs_done(obj: dict) -> int | None:
    """Epochs trained: the fit loop's progress counter (`processed`) where it is stored; a
    ModelCheckpoint file's `epoch` is the index of the epoch it ends, a file that
    `trainer.save_checkpoint` wrote after fit holds the count of epochs completed."""
    loops = obj.get("loops")
    fit_loop = loops.get("fit_loop") if isinstance(loops, dict) else None
    progress = fit_loop.get("epoch_progress") if isinstance(fit_loop, dict) else None
    current = progress.get("current") if isinstance(progress, dict) else None
    processed = _int(current.get("processed")) if isinstance(current, dict) else None
    return processed if processed is not None else _next_index(obj.get("epoch"))


EDIT_RECORD = "runwatch_edit"


def edit_record(scheduler: dict | None) -> dict:
    """What an edit recorded in the scheduler state: `at` (its last_epoch after the edit),
    `offset` (how far the edit moved last_epoch from the steps really taken) and `last_lr`
    (the LR the last epoch before the edit trained with); {} when none or malformed."""
    record = scheduler.get(EDIT_RECORD) if isinstance(scheduler, dict) else None
    if not isinstance(record, dict):
        return {}
    ok = (_int(record.get("at")) is not None and _int(record.get("offset")) is not None
          and isinstance(record.get("last_lr"), (int, float, type(None))))
    return record if ok else {}


def _check_stepping(view: CheckpointView) -> CheckpointView:
    """A scheduler whose step count is not the epochs done was stepped per batch."""
    steps = _int(view.scheduler.get("last_epoch")) if view.scheduler else None
    if steps is not None:
        steps -= edit_record(view.scheduler).get("offset", 0)
    if steps is not None and view.epochs_done and steps != view.epochs_done:
        view.stepping_problem = (
            f"the scheduler has stepped {steps} times in {view.epochs_done} epochs: it steps "
            "every optimizer step, not once per epoch, and per-step schedules of this layout "
            "cannot be previewed or edited yet")
    return view


def _timm(obj: dict) -> CheckpointView:
    # timm stores no scheduler state: it rebuilds its scheduler from args on resume.
    metrics = {"metric": obj["metric"]} if obj.get("metric") is not None else {}
    epoch = _int(obj.get("epoch"))
    done = None if epoch is None else epoch + (1 if (_int(obj.get("version")) or 0) > 1 else 0)
    view = CheckpointView(
        "timm", obj, epochs_done=done, model=obj.get("state_dict"),
        optimizer=obj.get("optimizer"), args=obj.get("args"), metrics=metrics,
        extra_keys=[k for k in obj if k.startswith("state_dict_ema") or k.endswith("scaler")],
    )
    sched = args_get(obj.get("args"), "sched")
    view.scheduler_type = f"timm:{sched}" if sched else None
    return view
