"""One training epoch and one evaluation pass: the inner loops, with their metric sums.

Sums stay on the device (no host sync per step). Every `train.log_every_steps` steps the loop
meets the other ranks at a sync point: it reads its sums once, writes a step record, and all
ranks agree whether to stop (a signal on any rank, a non-finite loss on any rank).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
from torch import nn

from runwatch.trainer.context import RunContext
from runwatch.trainer.distributed import DistInfo, all_reduce
from runwatch.trainer.lr import current_lr
from runwatch.trainer.state import EpochSums, RunState


@dataclass(frozen=True)
class EpochOutcome:
    sums: EpochSums  # this rank's sums
    steps_done: int  # steps of this epoch done, counting those done before a resume
    global_step: int  # optimizer steps of the run so far
    stop: str | None = None  # None, "signal" or "nonfinite"
    bad_loss: float = 0.0


def forward(ctx: RunContext, model: nn.Module, images: torch.Tensor,
            targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits, loss) of a batch under the run's precision; images and targets on the
    device."""
    if ctx.precision.channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    with ctx.precision.autocast(ctx.device):
        logits = model(images)
        return logits, ctx.criterion(logits, targets)


def optimizer_step(ctx: RunContext, loss: torch.Tensor) -> None:
    """Backward and step (through fp16's GradScaler when there is one); a per-step schedule
    is stepped after the optimizer."""
    ctx.optimizer.zero_grad(set_to_none=True)
    scaler = ctx.precision.scaler
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.step(ctx.optimizer)
        scaler.update()
    else:
        loss.backward()
        ctx.optimizer.step()
    if ctx.per_step:
        ctx.scheduler.step()


def train_one_epoch(ctx: RunContext, epoch: int, state: RunState) -> EpochOutcome:
    """Train the rest of `epoch` from `state.step_in_epoch`; stop early at a sync point if a
    rank was asked to stop or saw a non-finite loss."""
    ctx.train_model.train()
    # An interrupted epoch's sums were reduced over the ranks before they were saved: rank 0
    # carries them on, the others start from zero.
    start = state.partial if ctx.info.is_main else EpochSums(seconds=state.partial.seconds)
    sums = torch.tensor(start.as_list()[:3], dtype=torch.float64, device=ctx.device)
    window = torch.zeros(2, dtype=torch.float64, device=ctx.device)  # loss * images, images
    t_start = t_window = time.perf_counter()
    step, global_step = state.step_in_epoch, state.global_step
    for images, targets in ctx.loaders.train:
        images = ctx.loaders.train_images(images, ctx.device)
        targets = targets.to(ctx.device, non_blocking=True)
        logits, loss = forward(ctx, ctx.train_model, images, targets)
        lr = current_lr(ctx.optimizer)  # the LR this step uses
        optimizer_step(ctx, loss)
        n = torch.tensor(float(targets.shape[0]), dtype=torch.float64, device=ctx.device)
        batch_loss = loss.detach().double() * n
        sums += torch.stack([batch_loss, (logits.argmax(1) == targets).sum().double(), n])
        window += torch.stack([batch_loss, n])
        step, global_step = step + 1, global_step + 1
        if step % ctx.config.train.log_every_steps == 0 and step < ctx.loaders.steps:
            window_loss = (window[0] / window[1]).item()
            now = time.perf_counter()
            ctx.out.record("step", epoch=epoch, step=step, global_step=global_step,
                           loss=window_loss, lr=lr, images_per_s=window[1].item()
                           * ctx.info.world_size / (now - t_window))
            window.zero_()
            t_window = now
            stop = agreed_stop(ctx, math.isfinite(window_loss))
            if stop is not None:
                return EpochOutcome(_sums(sums, start, t_start), step, global_step, stop,
                                    bad_loss=window_loss)
    return EpochOutcome(_sums(sums, start, t_start), step, global_step)


def agreed_stop(ctx: RunContext, finite: bool) -> str | None:
    """What all ranks agree at a sync point: "nonfinite" if any rank's loss is not finite,
    else "signal" if any rank was asked to stop, else None."""
    flags = torch.tensor([float(ctx.stop.is_set()), float(not finite)], device=ctx.device)
    all_reduce(flags, ctx.info, op="max")
    return "nonfinite" if flags[1] > 0 else "signal" if flags[0] > 0 else None


def _sums(sums: torch.Tensor, start: EpochSums, t_start: float) -> EpochSums:
    loss, correct, count = sums.tolist()
    return EpochSums(loss, correct, count, start.seconds + time.perf_counter() - t_start)


def reduce_sums(sums: EpochSums, info: DistInfo, device: torch.device) -> EpochSums:
    """Loss, correct and count summed over ranks; seconds are the slowest rank's."""
    counts = torch.tensor(sums.as_list()[:3], dtype=torch.float64, device=device)
    seconds = torch.tensor([sums.seconds], dtype=torch.float64, device=device)
    all_reduce(counts, info)
    all_reduce(seconds, info, op="max")
    return EpochSums(*counts.tolist(), seconds.item())


@torch.no_grad()
def evaluate(ctx: RunContext) -> dict:
    """Test loss, top-1 and top-5 (percent) over the whole val set, summed over ranks."""
    ctx.model.eval()
    sums = torch.zeros(4, dtype=torch.float64, device=ctx.device)  # loss*n, top1, top5, n
    for images, targets in ctx.loaders.val:
        images = ctx.loaders.val_images(images, ctx.device)
        targets = targets.to(ctx.device, non_blocking=True)
        logits, loss = forward(ctx, ctx.model, images, targets)
        top = logits.topk(min(5, logits.shape[1]), dim=1).indices
        hits = top == targets[:, None]
        n = targets.shape[0]
        sums += torch.stack([loss.double() * n, hits[:, 0].sum().double(),
                             hits.any(dim=1).sum().double(),
                             torch.tensor(float(n), dtype=torch.float64, device=ctx.device)])
    all_reduce(sums, ctx.info)
    loss, top1, top5, n = sums.tolist()
    return {"test_loss": loss / n, "test_acc1": 100 * top1 / n, "test_acc5": 100 * top5 / n}
