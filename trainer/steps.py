"""One training epoch and one evaluation pass: the inner loops, with their metric sums.

Sums stay on the device (no host sync per step). Every `log_every` steps the loop meets the
other ranks at a sync point: it reads its sums once, writes a step record, and all ranks agree
whether to stop (a signal on any rank, a non-finite loss on any rank).
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass

import torch
from torch import nn

from runwatch.trainer.distributed import DistInfo, all_reduce
from runwatch.trainer.lr import current_lr


@dataclass
class Precision:
    """How steps run: autocast dtype (None: fp32), channels_last, and fp16's GradScaler."""

    dtype: torch.dtype | None
    channels_last: bool
    scaler: torch.amp.GradScaler | None

    def autocast(self, device: torch.device):
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device.type, dtype=self.dtype)


@dataclass
class EpochSums:
    """Train sums of an epoch so far: loss * images, correct top-1, images, seconds."""

    loss: float = 0.0
    correct: float = 0.0
    count: float = 0.0
    seconds: float = 0.0

    def as_list(self) -> list[float]:
        return [self.loss, self.correct, self.count, self.seconds]


@dataclass
class EpochOutcome:
    sums: EpochSums
    steps_done: int  # steps of this epoch done, counting those done before a resume
    stop: str | None = None  # None, "signal" or "nonfinite"
    bad_loss: float = 0.0


def forward(model: nn.Module, images: torch.Tensor, targets: torch.Tensor, criterion: nn.Module,
            precision: Precision, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits, loss) of a batch under the run's precision; `targets` already on `device`."""
    images = images.to(device, non_blocking=True)
    if precision.channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    with precision.autocast(device):
        logits = model(images)
        return logits, criterion(logits, targets)


def train_one_epoch(
    model: nn.Module, loader, optimizer: torch.optim.Optimizer, criterion: nn.Module,
    precision: Precision, device: torch.device, info: DistInfo, *, epoch: int,
    start_step: int, start: EpochSums, global_step: int, log_every: int, steps: int,
    stop_requested, on_step_record, after_step=None,
) -> EpochOutcome:
    """Train the rest of an epoch from `start_step`; stop early at a sync point if asked.

    `after_step` (a per-step schedule's `scheduler.step`) is called after every optimizer step.
    """
    model.train()
    sums = torch.tensor(start.as_list()[:3], dtype=torch.float64, device=device)
    window = torch.zeros(2, dtype=torch.float64, device=device)  # loss * images, images
    t_start = t_window = time.perf_counter()
    step = start_step
    for images, targets in loader:
        targets = targets.to(device, non_blocking=True)
        logits, loss = forward(model, images, targets, criterion, precision, device)
        optimizer.zero_grad(set_to_none=True)
        if precision.scaler is not None:
            precision.scaler.scale(loss).backward()
            precision.scaler.step(optimizer)
            precision.scaler.update()
        else:
            loss.backward()
            optimizer.step()
        lr = current_lr(optimizer)  # the LR this step used
        if after_step is not None:
            after_step()
        n = targets.shape[0]
        batch_loss = loss.detach().double() * n
        sums += torch.stack([batch_loss, (logits.argmax(1) == targets).sum().double(),
                             torch.tensor(float(n), dtype=torch.float64, device=device)])
        window += torch.stack([batch_loss, torch.tensor(float(n), dtype=torch.float64,
                                                         device=device)])
        step += 1
        global_step += 1
        if step % log_every == 0 and step < steps:
            window_loss, window_images = (window[0] / window[1]).item(), window[1].item()
            now = time.perf_counter()
            on_step_record({"epoch": epoch, "step": step, "global_step": global_step,
                            "loss": window_loss, "lr": lr,
                            "images_per_s": window_images * info.world_size / (now - t_window)})
            window.zero_()
            t_window = now
            flags = torch.tensor([float(stop_requested()), float(not math.isfinite(window_loss))],
                                 device=device)
            all_reduce(flags, info, op="max")
            if flags[1] > 0 or flags[0] > 0:
                return EpochOutcome(
                    _sums(sums, start, t_start), step,
                    stop="nonfinite" if flags[1] > 0 else "signal", bad_loss=window_loss)
    return EpochOutcome(_sums(sums, start, t_start), step)


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
def evaluate(model: nn.Module, loader, criterion: nn.Module, precision: Precision,
             device: torch.device, info: DistInfo) -> dict:
    """Test loss, top-1 and top-5 (percent) over the whole val set, summed over ranks."""
    model.eval()
    sums = torch.zeros(4, dtype=torch.float64, device=device)  # loss*n, top1, top5, n
    for images, targets in loader:
        targets = targets.to(device, non_blocking=True)
        logits, loss = forward(model, images, targets, criterion, precision, device)
        top = logits.topk(min(5, logits.shape[1]), dim=1).indices
        hits = top == targets[:, None]
        n = targets.shape[0]
        sums += torch.stack([loss.double() * n, hits[:, 0].sum().double(),
                             hits.any(dim=1).sum().double(),
                             torch.tensor(float(n), dtype=torch.float64, device=device)])
    all_reduce(sums, info)
    loss, top1, top5, n = sums.tolist()
    return {"test_loss": loss / n, "test_acc1": 100 * top1 / n, "test_acc5": 100 * top5 / n}
