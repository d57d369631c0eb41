"""What a run says about itself: its loop state, stream records and console lines.

The stream (docs/metric-stream.md) is written by rank 0 only; `LockedWriter` lets the
checkpoint thread append its records too, `NullWriter` stands in on the other ranks.
"""

from __future__ import annotations

import math
import os
import socket
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import torch

from runwatch.schedule import ScheduleSpec, find_jumps, lr_at, lr_plan, spec_to_dict
from runwatch.stream import SCHEMA_VERSION, StreamWriter, latest_plan, read_stream, stream_path
from runwatch.trainer.config import Config, config_to_dict
from runwatch.trainer.distributed import DistInfo
from runwatch.trainer.resume import PREVIEW_EPOCHS, ResumePlan, fmt_lrs
from runwatch.trainer.steps import EpochSums


@dataclass
class LoopState:
    """Where the run stands; all of it goes into every checkpoint."""

    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    epoch: int = 0  # epochs completed
    global_step: int = 0
    step_in_epoch: int = 0  # steps of epoch + 1 already done (an interrupted epoch)
    partial: EpochSums = field(default_factory=EpochSums)
    best_acc1: float = 0.0
    best_epoch: int = 0
    epochs_since_best: int = 0
    edits: list = field(default_factory=list)
    last_record: dict | None = None


class LockedWriter:
    """The stream writer of rank 0, shared with the checkpoint thread: one record at a time."""

    def __init__(self, writer: StreamWriter) -> None:
        self._writer = writer
        self._lock = threading.Lock()

    def write(self, record_type: str, **fields: object) -> None:
        with self._lock:
            self._writer.write(record_type, **fields)

    def event(self, kind: str, **fields: object) -> None:
        self.write("event", kind=kind, **fields)

    def close(self) -> None:
        with self._lock:
            self._writer.close()


class NullWriter:
    """The stream writer of ranks other than 0: writes nothing."""

    def write(self, record_type: str, **fields: object) -> None:
        return None

    def event(self, kind: str, **fields: object) -> None:
        return None

    def close(self) -> None:
        return None


def run_start_fields(config: Config, spec: ScheduleSpec, lr_schedule: list[float],
                     info: DistInfo, device: torch.device, run_id: str) -> dict:
    """The fields run_start and resume records share."""
    return {"schema": SCHEMA_VERSION, "run_id": run_id, "config": config_to_dict(config),
            "schedule": spec_to_dict(spec), "lr_schedule": lr_schedule, "epochs": spec.epochs,
            "target_acc1": config.train.target_acc1, "world_size": info.world_size,
            "device": str(device), "torch": torch.__version__, "host": socket.gethostname(),
            "pid": os.getpid()}


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


def announce_resume(writer, plan: ResumePlan, state: LoopState, spec: ScheduleSpec,
                    resume_from: Path, start_fields: dict, info: DistInfo) -> None:
    """The resume record, the override/edit event, and what the user must read on stdout."""
    done = state.epoch
    lr_next = lr_plan(spec, done + 1, min(done + PREVIEW_EPOCHS, spec.epochs))
    writer.write("resume", after_epoch=done, checkpoint=str(resume_from),
                 override=[c["key"] for c in plan.changes], **start_fields)
    if plan.mode == "override":
        writer.event("schedule_override", changes=plan.changes, lr_next=lr_next)
    elif plan.mode == "edited":
        last = state.edits[-1] if state.edits else {}
        writer.event("schedule_edit", changes=last.get("changes", []),
                     mode=last.get("mode", "unknown"), lr_next=lr_next)
    if not info.is_main:
        return
    where = f"epoch {done + 1}"
    if state.step_in_epoch:
        where += f" step {state.step_in_epoch + 1}"
    print(f"resuming {resume_from} at {where}", flush=True)
    if plan.mode == "override":
        for c in plan.changes:
            print(f"  override {c['key']}: {c['checkpoint']!r} -> {c['config']!r}", flush=True)
    elif plan.mode == "edited":
        print(f"  following the checkpoint's edited schedule ({len(state.edits)} edit(s) by "
              f"runwatch ckpt edit), not the config's", flush=True)
    for c in plan.other_changes:
        print(f"  config {c['key']}: {c['checkpoint']!r} -> {c['config']!r}", flush=True)
    print(f"  LR of epochs {done + 1}-{done + len(lr_next)}: {fmt_lrs(lr_next)}", flush=True)
    # The LR epoch `done` trained with: from the checkpoint's own epoch record.
    prev_lr = (state.last_record or {}).get("lr")
    if plan.mode != "as_saved" and isinstance(prev_lr, float) and math.isfinite(prev_lr):
        for jump in find_jumps(lr_next, done + 1, prev_lr=prev_lr):
            print(f"  warning: the LR jumps {jump.ratio:.0f}x at epoch {jump.epoch} "
                  f"({jump.lr_before:.6g} -> {jump.lr_after:.6g}); accuracy usually drops at "
                  f"such a jump (preview choices with `runwatch ckpt edit --dry-run`)", flush=True)


def epoch_record(epoch: int, lr: float, train: EpochSums, test: dict, state: LoopState) -> dict:
    """The `epoch` stream record; updates the best-so-far and patience counter in `state`."""
    is_best = test["test_acc1"] > state.best_acc1 or state.best_epoch == 0
    if is_best:
        state.best_acc1, state.best_epoch, state.epochs_since_best = test["test_acc1"], epoch, 0
    else:
        state.epochs_since_best += 1
    return {"epoch": epoch, "lr": lr, "train_loss": train.loss / train.count,
            "train_acc1": 100 * train.correct / train.count, **test,
            "epoch_time_s": train.seconds, "images_per_s": train.count / train.seconds,
            "best_acc1": state.best_acc1, "best_epoch": state.best_epoch, "is_best": is_best,
            "epochs_since_best": state.epochs_since_best, "global_step": state.global_step}


def format_epoch(r: dict, epochs: int) -> str:
    return (f"epoch {r['epoch']}/{epochs} lr {r['lr']:.6g} train_loss {r['train_loss']:.4f} "
            f"train_acc1 {r['train_acc1']:.2f} test_loss {r['test_loss']:.4f} "
            f"test_acc1 {r['test_acc1']:.2f} test_acc5 {r['test_acc5']:.2f} "
            f"({r['epoch_time_s']:.1f} s, {r['images_per_s']:.0f} img/s)"
            f"{' best' if r['is_best'] else ''}")


