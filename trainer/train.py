"""The training run: for each epoch train, step the schedule, evaluate, record, checkpoint,
and decide whether to go on (a per-step schedule is stepped after every optimizer step
instead of after the epoch).

Only rank 0 writes the stream (docs/metric-stream.md) and checkpoints
(docs/checkpoint-layout.md), and it holds the run's lock (runwatch/runlock.py) while it runs.
Stops: the budget (`completed`), patience (`early_stopped`), a non-finite loss (`diverged`, last
good checkpoint kept), SIGTERM/SIGINT (`interrupted`, after a checkpoint at the next sync point),
an exception (`failed`).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from runwatch.errors import RunwatchError
from runwatch.runlock import RunLock, hold_run
from runwatch.schedule import lr_at, spec_to_dict
from runwatch.trainer import checkpoint as ckpt
from runwatch.trainer.config import Config, config_to_dict
from runwatch.trainer.context import RunContext
from runwatch.trainer.distributed import (
    DistInfo,
    all_reduce,
    dist_from_env,
    init_distributed,
    pick_device,
    shutdown,
)
from runwatch.trainer.lr import current_lr
from runwatch.trainer.records import epoch_record, format_epoch
from runwatch.trainer.setup import start_run
from runwatch.trainer.signals import Abort, StopRequest
from runwatch.trainer.state import RunState, state_fields
from runwatch.trainer.steps import evaluate, reduce_sums, train_one_epoch


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
class Ending:
    """Why the loop stopped before its budget: the `run_end` status and message."""

    status: str
    message: str


def run(config: Config, run_dir: Path, *, resume_from: Path | None = None,
        override_schedule: bool = False, stop: StopRequest | None = None) -> RunResult:
    """Train per `config` in `run_dir` (fresh, or resumed from a checkpoint)."""
    info = dist_from_env()
    device = pick_device(config.train.device, info)
    init_distributed(info, device)
    try:
        with hold_run_dir(Path(run_dir), info) as lock:
            ctx, state = start_run(config, Path(run_dir), info, device, resume_from,
                                   override_schedule, stop or StopRequest())
            if lock is not None:
                lock.set_run_id(state.run_id)
            return train(ctx, state)
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


def train(ctx: RunContext, state: RunState) -> RunResult:
    """Train the epochs left after `state`; end the stream with how the run ended."""
    ending = Ending("completed", f"trained {ctx.spec.epochs} epochs")
    ctx.stop.install()
    try:
        for epoch in range(state.epoch + 1, ctx.spec.epochs + 1):
            state, stopped = train_epoch(ctx, state, epoch)
            if stopped is None:
                stopped = checkpoint_and_decide(ctx, state, epoch)
            if stopped is not None:
                ending = stopped
                break
        ctx.saver.wait()
    except Abort:
        # No new checkpoint; one being written is finished (a third SIGINT skips even that).
        with contextlib.suppress(Exception):
            ctx.saver.wait()
        end_stream(ctx, state, Ending("interrupted", f"aborted by a second SIGINT in epoch "
                                                     f"{state.epoch + 1}; resume from the last "
                                                     f"checkpoint"))
        raise
    except BaseException as exc:
        with contextlib.suppress(Exception):
            ctx.saver.wait()  # keep what is being written; the run has failed anyway
        with contextlib.suppress(RunwatchError):  # the stream itself may be what failed
            ctx.out.record("run_end", status="failed", epoch=state.epoch,
                           message=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        ctx.stop.restore()
    end_stream(ctx, state, ending)
    return RunResult(ending.status, state.epoch, ctx.run_dir, state.last_record)


def end_stream(ctx: RunContext, state: RunState, ending: Ending) -> None:
    ctx.out.record("run_end", status=ending.status, epoch=state.epoch, message=ending.message)
    ctx.out.close()
    ctx.out.say(f"run {ending.status}: {ending.message} ({ctx.run_dir})")


def train_epoch(ctx: RunContext, state: RunState, epoch: int) -> tuple[RunState, Ending | None]:
    """One epoch (or the rest of an interrupted one) up to its `epoch` record: the state after
    it, and an Ending if the run stops within it."""
    ctx.loaders.sampler.set_epoch(epoch, skip=state.step_in_epoch * ctx.config.data.batch_size)
    # The epoch's LR (per step: of its first step, which a resumed epoch may be past).
    lr = lr_at(ctx.spec, epoch) if ctx.per_step else current_lr(ctx.optimizer)
    out = train_one_epoch(ctx, epoch, state)
    sums = reduce_sums(out.sums, ctx.info, ctx.device)
    if out.stop == "nonfinite" or not math.isfinite(sums.loss):
        bad = out.bad_loss if out.stop == "nonfinite" else sums.loss
        ctx.out.event("nonfinite", epoch=epoch, step=out.steps_done, value=bad)
        kept = f"epoch {state.epoch}'s checkpoint kept" if state.epoch else \
            "no checkpoint written"
        return state, Ending("diverged",
                             f"loss {bad} at epoch {epoch} step {out.steps_done}; {kept}")
    if out.stop == "signal":
        state = state.stopped_mid_epoch(out.steps_done, sums, out.global_step)
        ctx.out.event("signal", signal=ctx.stop.signal_name or "unknown")
        save(ctx, state, is_best=False, epoch_file=False)
        ctx.saver.wait()
        return state, Ending("interrupted", f"stopped at epoch {epoch} step {out.steps_done}")
    if not ctx.per_step:
        ctx.scheduler.step()
    record = epoch_record(epoch, lr, out.global_step, sums, evaluate(ctx), state)
    state = state.after_epoch(record)
    ctx.out.record("epoch", **record)
    ctx.out.say(format_epoch(record, ctx.spec.epochs))
    return state, None


def checkpoint_and_decide(ctx: RunContext, state: RunState, epoch: int) -> Ending | None:
    """The epoch's checkpoint, then whether to stop: non-finite weights, patience run out, or
    a stop request on any rank (every rank asks: a collective)."""
    try:
        save(ctx, state, is_best=state.best_epoch == epoch, epoch_file=True)
    except ckpt.NonFiniteWeights as exc:  # keep the last good checkpoint
        return Ending("diverged", str(exc))
    patience = ctx.config.train.early_stop_patience
    if patience and state.epochs_since_best >= patience:
        ctx.out.event("early_stop", epoch=epoch, best_epoch=state.best_epoch, patience=patience)
        return Ending("early_stopped",
                      f"no better top-1 for {patience} epochs; best {state.best_acc1:.2f}%")
    if stop_agreed(ctx) and epoch < ctx.spec.epochs:
        ctx.out.event("signal", signal=ctx.stop.signal_name or "unknown")
        return Ending("interrupted", f"stopped after epoch {epoch}")
    return None


def stop_agreed(ctx: RunContext) -> bool:
    """Whether any rank has been asked to stop (all ranks get the same answer)."""
    flag = torch.tensor([float(ctx.stop.is_set())], device=ctx.device)
    return all_reduce(flag, ctx.info, op="max").item() > 0


def save(ctx: RunContext, state: RunState, *, is_best: bool, epoch_file: bool) -> None:
    """Rank 0 captures a checkpoint now and writes it in the background; the `checkpoint`
    record follows once its files are in place. All ranks learn whether it was refused."""
    error: RunwatchError | None = None  # non-finite weights, or a write that failed
    if ctx.info.is_main:
        epoch, step = state.epoch, state.step_in_epoch

        def written(paths: list[Path]) -> None:
            ctx.out.record("checkpoint", epoch=epoch, path=str(paths[0]), is_best=is_best,
                           files=[p.name for p in paths], step_in_epoch=step)

        try:
            ctx.saver.submit(ctx.run_dir, checkpoint_payload(ctx, state), is_best=is_best,
                             keep=ctx.config.train.checkpoint_keep, epoch_file=epoch_file,
                             on_written=written)
        except RunwatchError as exc:
            error = exc
    # 0: saved; 1: non-finite weights (the run diverged); 2: not written (the run fails).
    code = 0.0 if error is None else 1.0 if isinstance(error, ckpt.NonFiniteWeights) else 2.0
    agreed = all_reduce(torch.tensor([code], device=ctx.device), ctx.info, op="max")
    if agreed.item() == 1:
        raise error or ckpt.NonFiniteWeights("rank 0 refused a checkpoint of non-finite weights")
    if agreed.item() == 2:
        raise error or RunwatchError("rank 0 could not write a checkpoint")


def checkpoint_payload(ctx: RunContext, state: RunState) -> dict:
    """Everything docs/checkpoint-layout.md lists; plain types and tensors only."""
    return {
        "format": ckpt.FORMAT, "format_version": ckpt.FORMAT_VERSION,
        "model": ckpt.strip_prefixes(ctx.model.state_dict()),
        "optimizer": ctx.optimizer.state_dict(),
        "lr_scheduler": ctx.scheduler.state_dict(),
        "lr_scheduler_type": type(ctx.scheduler).__name__,
        "schedule": spec_to_dict(ctx.spec),
        "scaler": None if ctx.precision.scaler is None else ctx.precision.scaler.state_dict(),
        "rng": ckpt.rng_state(),
        "config": config_to_dict(ctx.config),
        **state_fields(state),
    }
