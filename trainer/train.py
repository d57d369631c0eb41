"""The training run: set up, then for each epoch train, step the schedule, evaluate, record,
checkpoint, and decide whether to go on. A per-step schedule is stepped after every optimizer
step instead of after the epoch.

Only rank 0 writes the stream (docs/metric-stream.md) and checkpoints
(docs/checkpoint-layout.md), and it holds the run's lock (runwatch/runlock.py) while it runs.
Stops: the budget (`completed`), patience (`early_stopped`), a non-finite loss (`diverged`, last
good checkpoint kept), SIGTERM/SIGINT (`interrupted`, after a checkpoint at the next sync point),
an exception (`failed`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from runwatch.errors import RunwatchError
from runwatch.runlock import RunLock, hold_run
from runwatch.schedule import ScheduleSpec, lr_at, lr_plan, spec_to_dict
from runwatch.stream import StreamWriter, stream_path
from runwatch.trainer import checkpoint as ckpt
from runwatch.trainer.config import Config, config_to_dict, schedule_spec
from runwatch.trainer.data import build_datasets, build_loaders, steps_per_epoch
from runwatch.trainer.distributed import (
    DistInfo,
    all_reduce,
    dist_from_env,
    init_distributed,
    pick_device,
    shutdown,
    wrap_ddp,
)
from runwatch.trainer.lr import build_scheduler, current_lr
from runwatch.trainer.model import build_model, build_optimizer, set_optimizer_hyperparameters
from runwatch.trainer.records import (
    LockedWriter,
    LoopState,
    NullWriter,
    announce_resume,
    epoch_record,
    format_epoch,
    plan_with_history,
    run_start_fields,
)
from runwatch.trainer.resume import ResumePlan, check_run_dir, plan_resume, restore_schedule
from runwatch.trainer.signals import StopRequest
from runwatch.trainer.steps import EpochSums, Precision, evaluate, reduce_sums, train_one_epoch


@dataclass(frozen=True)
class RunResult:
    status: str
    epoch: int
    run_dir: Path
    last_record: dict | None

    @property
    def exit_code(self) -> int:
        return 1 if self.status in ("diverged", "failed") else 0


@dataclass(frozen=True)
class Session:
    """What a checkpoint is made of, and where it goes."""

    run_dir: Path
    config: Config
    spec: ScheduleSpec
    info: DistInfo
    device: torch.device
    writer: object
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: object
    precision: Precision
    saver: ckpt.BackgroundSaver = field(default_factory=ckpt.BackgroundSaver)


def run(config: Config, run_dir: Path, *, resume_from: Path | None = None,
        override_schedule: bool = False, stop: StopRequest | None = None) -> RunResult:
    """Train per `config` in `run_dir` (fresh, or resumed from a checkpoint)."""
    info = dist_from_env()
    device = pick_device(config.train.device, info)
    init_distributed(info, device)
    try:
        with hold_run_dir(Path(run_dir), info) as lock:
            return _run(config, Path(run_dir), info, device, resume_from, override_schedule,
                        stop or StopRequest(), lock)
    finally:
        shutdown(info)


@contextlib.contextmanager
def hold_run_dir(run_dir: Path, info: DistInfo) -> Iterator[RunLock | None]:
    """Rank 0 holds the run directory for the whole run (runwatch/runlock.py): a second trainer
    and the checkpoint tools refuse it meanwhile. Released on every way out but SIGKILL, whose
    lock the next holder sees is stale."""
    if not info.is_main:
        yield None
        return
    with hold_run(run_dir, "trainer") as lock:
        if lock.replaced is not None:
            print(f"{run_dir}: replaced the stale lock of {lock.replaced.who()}, which no longer "
                  f"runs", flush=True)
        yield lock


def _run(config: Config, run_dir: Path, info: DistInfo, device: torch.device,
         resume_from: Path | None, override_schedule: bool, stop: StopRequest,
         lock: RunLock | None) -> RunResult:
    t = config.train
    if resume_from is None and info.is_main and stream_path(run_dir).exists():
        raise RunwatchError(
            f"{run_dir} already holds a run: resume it with --resume-from {run_dir} or choose "
            f"another --run-dir")
    seed_everything(t.seed)
    model = build_model(config.model).to(device)
    precision = build_precision(config, device)
    if precision.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = build_optimizer(model, config.optim)
    criterion = nn.CrossEntropyLoss(label_smoothing=config.optim.label_smoothing)
    # The loaders come first: a per-step schedule is planned in their steps per epoch.
    train_set, val_set = build_datasets(config.data, config.model.num_classes, t.seed)
    train_loader, val_loader, sampler = build_loaders(
        config.data, train_set, val_set, world=info.world_size, rank=info.rank, seed=t.seed,
        pin_memory=device.type == "cuda")
    steps = steps_per_epoch(sampler, config.data.batch_size)
    state, plan = LoopState(), None
    if resume_from is None:
        spec = schedule_spec(config, loader_steps=steps)
        scheduler = build_scheduler(optimizer, spec)
    else:
        resume_from = ckpt.resolve_checkpoint(resume_from)  # messages name the file itself
        saved = ckpt.load_checkpoint(resume_from)
        if info.is_main:  # only rank 0 reads the stream
            check_run_dir(run_dir, saved, str(resume_from))
        plan = plan_resume(saved, config, override_schedule, str(resume_from), steps)
        spec, scheduler = load_training_state(saved, plan, config, model, optimizer, precision)
        state = loop_state_from_checkpoint(saved, plan)
        if state.epoch >= spec.epochs:
            raise RunwatchError(
                f"{resume_from} has already trained all {spec.epochs} epochs: to train longer, "
                f"raise train.epochs and resume with --override-schedule")
    if lock is not None:
        lock.set_run_id(state.run_id)
    train_model = wrap_ddp(model, device, info)
    if t.compile:
        train_model = torch.compile(train_model)
    per_step = spec.steps_per_epoch > 1
    writer = LockedWriter(StreamWriter(stream_path_for(run_dir))) if info.is_main \
        else NullWriter()
    if plan is None:
        lr_schedule = lr_plan(spec)
    else:  # only rank 0 has the stream (and writes)
        lr_schedule = plan_with_history(spec, state.epoch, run_dir) if info.is_main else []
    start_fields = run_start_fields(config, spec, lr_schedule, info, device, state.run_id)
    if plan is None:
        writer.write("run_start", **start_fields)
    else:
        announce_resume(writer, plan, state, spec, resume_from, start_fields, info)
    session = Session(run_dir, config, spec, info, device, writer, model, optimizer, scheduler,
                      precision)
    stop.install()
    status, message = "completed", f"trained {spec.epochs} epochs"
    try:
        for epoch in range(state.epoch + 1, spec.epochs + 1):
            sampler.set_epoch(epoch, skip=state.step_in_epoch * config.data.batch_size)
            # The rank-0 share of an interrupted epoch's sums (other ranks' shares were
            # reduced into it before the checkpoint was written).
            start = state.partial if info.is_main else EpochSums(seconds=state.partial.seconds)
            # The epoch's LR (per step: of its first step, which a resumed epoch is past).
            lr = lr_at(spec, epoch) if per_step else current_lr(optimizer)
            out = train_one_epoch(
                train_model, train_loader, optimizer, criterion, precision, device, info,
                epoch=epoch, start_step=state.step_in_epoch, start=start,
                global_step=state.global_step, log_every=t.log_every_steps, steps=steps,
                stop_requested=stop.is_set, on_step_record=lambda r: writer.write("step", **r),
                after_step=scheduler.step if per_step else None)
            state.global_step += out.steps_done - state.step_in_epoch
            train_sums = reduce_sums(out.sums, info, device)
            if out.stop == "nonfinite" or not math.isfinite(train_sums.loss):
                bad = out.bad_loss if out.stop == "nonfinite" else train_sums.loss
                writer.event("nonfinite", epoch=epoch, step=out.steps_done, value=bad)
                status = "diverged"
                kept = f"epoch {state.epoch}'s checkpoint kept" if state.epoch else \
                    "no checkpoint written"
                message = f"loss {bad} at epoch {epoch} step {out.steps_done}; {kept}"
                break
            if out.stop == "signal":
                state.step_in_epoch, state.partial = out.steps_done, train_sums
                writer.event("signal", signal=stop.signal_name or "unknown")
                save(session, state, is_best=False, epoch_file=False)
                session.saver.wait()
                status, message = "interrupted", f"stopped at epoch {epoch} step {out.steps_done}"
                break
            if not per_step:
                scheduler.step()
            test = evaluate(model, val_loader, criterion, precision, device, info)
            record = epoch_record(epoch, lr, train_sums, test, state)
            state.epoch, state.step_in_epoch, state.partial = epoch, 0, EpochSums()
            state.last_record = record
            writer.write("epoch", **record)
            if info.is_main:
                print(format_epoch(record, spec.epochs), flush=True)
            try:
                save(session, state, is_best=record["is_best"], epoch_file=True)
            except ckpt.NonFiniteWeights as exc:  # keep the last good checkpoint
                status, message = "diverged", str(exc)
                break
            if t.early_stop_patience and state.epochs_since_best >= t.early_stop_patience:
                writer.event("early_stop", epoch=epoch, best_epoch=state.best_epoch,
                             patience=t.early_stop_patience)
                status, message = "early_stopped", f"no better top-1 for {t.early_stop_patience}" \
                                                   f" epochs; best {state.best_acc1:.2f}%"
                break
            if stop_agreed(stop, info, device) and epoch < spec.epochs:
                writer.event("signal", signal=stop.signal_name or "unknown")
                status, message = "interrupted", f"stopped after epoch {epoch}"
                break
        session.saver.wait()
    except BaseException as exc:
        with contextlib.suppress(Exception):
            session.saver.wait()  # keep what is being written; the run has failed anyway
        writer.write("run_end", status="failed", epoch=state.epoch,
                     message=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        stop.restore()
    writer.write("run_end", status=status, epoch=state.epoch, message=message)
    writer.close()
    if info.is_main:
        print(f"run {status}: {message} ({run_dir})", flush=True)
    return RunResult(status, state.epoch, run_dir, state.last_record)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build_precision(config: Config, device: torch.device) -> Precision:
    """bf16 autocast, or fp16 autocast with a GradScaler, or fp32; channels_last on CUDA."""
    amp = config.train.amp
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp)
    scaler = torch.amp.GradScaler(device.type) if amp == "fp16" else None
    return Precision(dtype, config.train.channels_last and device.type == "cuda", scaler)


def stream_path_for(run_dir: Path) -> Path:
    ckpt.writable_checkpoint_dir(run_dir)  # creates the run's folder, or stops here
    return stream_path(run_dir)


def load_training_state(saved: dict, plan: ResumePlan, config: Config, model: nn.Module,
                        optimizer: torch.optim.Optimizer, precision: Precision):
    """Put model, optimizer, scheduler, scaler and RNGs where the checkpoint left them."""
    model.load_state_dict(saved["model"])
    optimizer.load_state_dict(saved["optimizer"])
    if plan.mode == "override":
        set_optimizer_hyperparameters(optimizer, config.optim)
    scheduler = restore_schedule(optimizer, saved, plan)
    if precision.scaler is not None and saved.get("scaler"):
        precision.scaler.load_state_dict(saved["scaler"])
    ckpt.set_rng_state(saved["rng"])
    return plan.spec, scheduler


def loop_state_from_checkpoint(saved: dict, plan: ResumePlan) -> LoopState:
    return LoopState(
        run_id=saved.get("run_id") or uuid.uuid4().hex[:12], epoch=int(saved["epoch"]),
        global_step=int(saved["global_step"]), step_in_epoch=int(saved.get("step_in_epoch", 0)),
        partial=EpochSums(**saved["partial"]) if saved.get("partial") else EpochSums(),
        best_acc1=float(saved["best_acc1"]), best_epoch=int(saved["best_epoch"]),
        epochs_since_best=int(saved["epochs_since_best"]),
        edits=[] if plan.mode == "override" else list(saved.get("edits", [])),
        last_record=saved.get("metrics"))


def save(session: Session, state: LoopState, *, is_best: bool, epoch_file: bool) -> None:
    """Rank 0 captures a checkpoint now and writes it in the background; the `checkpoint`
    record follows once its files are in place. All ranks learn whether it was refused."""
    error: RunwatchError | None = None  # non-finite weights, or a write that failed
    if session.info.is_main:
        epoch, step = state.epoch, state.step_in_epoch

        def written(paths: list[Path]) -> None:
            session.writer.write("checkpoint", epoch=epoch, path=str(paths[0]), is_best=is_best,
                                 files=[p.name for p in paths], step_in_epoch=step)

        try:
            session.saver.submit(session.run_dir, checkpoint_payload(session, state),
                                 is_best=is_best, keep=session.config.train.checkpoint_keep,
                                 epoch_file=epoch_file, on_written=written)
        except RunwatchError as exc:
            error = exc
    # 0: saved; 1: non-finite weights (the run diverged); 2: not written (the run fails).
    code = 0.0 if error is None else 1.0 if isinstance(error, ckpt.NonFiniteWeights) else 2.0
    agreed = all_reduce(torch.tensor([code], device=session.device), session.info, op="max")
    if agreed.item() == 1:
        raise error or ckpt.NonFiniteWeights("rank 0 refused a checkpoint of non-finite weights")
    if agreed.item() == 2:
        raise error or RunwatchError("rank 0 could not write a checkpoint")


def checkpoint_payload(session: Session, state: LoopState) -> dict:
    """Everything docs/checkpoint-layout.md lists; plain types and tensors only."""
    return {
        "format": ckpt.FORMAT, "format_version": ckpt.FORMAT_VERSION, "run_id": state.run_id,
        "model": ckpt.strip_prefixes(session.model.state_dict()),
        "optimizer": session.optimizer.state_dict(),
        "lr_scheduler": session.scheduler.state_dict(),
        "lr_scheduler_type": type(session.scheduler).__name__,
        "schedule": spec_to_dict(session.spec),
        "edits": state.edits, "edits_followed": len(state.edits),
        "scaler": (None if session.precision.scaler is None
                   else session.precision.scaler.state_dict()),
        "epoch": state.epoch, "global_step": state.global_step,
        "step_in_epoch": state.step_in_epoch, "partial": dataclasses.asdict(state.partial),
        "best_acc1": state.best_acc1, "best_epoch": state.best_epoch,
        "epochs_since_best": state.epochs_since_best,
        "rng": ckpt.rng_state(),
        "config": config_to_dict(session.config),
        "metrics": state.last_record,
    }


def stop_agreed(stop: StopRequest, info: DistInfo, device: torch.device) -> bool:
    """Whether any rank has been asked to stop (all ranks get the same answer)."""
    flag = torch.tensor([float(stop.is_set())], device=device)
    return all_reduce(flag, info, op="max").item() > 0
