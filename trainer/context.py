"""What a run's loop reads and never replaces, in one object built once per run
(trainer/setup.py). Where the run stands (epoch, step, best so far) is `trainer.state.RunState`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.optim.lr_scheduler import LRScheduler

from runwatch.schedule import ScheduleSpec
from runwatch.trainer.checkpoint import BackgroundSaver
from runwatch.trainer.config import Config
from runwatch.trainer.data import Loaders
from runwatch.trainer.distributed import DistInfo
from runwatch.trainer.output import RunOutput
from runwatch.trainer.signals import StopRequest


@dataclass(frozen=True)
class Precision:
    """How steps run: autocast dtype (None: fp32), channels_last, and fp16's GradScaler."""

    dtype: torch.dtype | None
    channels_last: bool
    scaler: torch.amp.GradScaler | None

    def autocast(self, device: torch.device):
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device.type, dtype=self.dtype)


def build_precision(config: Config, device: torch.device) -> Precision:
    """bf16 autocast, or fp16 autocast with a GradScaler, or fp32; channels_last on CUDA."""
    amp = config.train.amp
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp)
    scaler = torch.amp.GradScaler(device.type) if amp == "fp16" else None
    return Precision(dtype, config.train.channels_last and device.type == "cuda", scaler)


@dataclass(frozen=True)
class RunContext:
    """The parts of a run: model, optimizer, schedule, data, output, stop request, saver."""

    config: Config
    spec: ScheduleSpec  # the schedule followed (the config's, or the checkpoint's on resume)
    run_dir: Path
    info: DistInfo
    device: torch.device
    model: nn.Module  # the plain module: evaluated and checkpointed
    train_model: nn.Module  # what training steps call: the model, DDP-wrapped and/or compiled
    optimizer: torch.optim.Optimizer
    scheduler: LRScheduler
    criterion: nn.Module
    precision: Precision
    loaders: Loaders
    out: RunOutput
    stop: StopRequest
    saver: BackgroundSaver

    @property
    def per_step(self) -> bool:
        """The schedule is stepped after every optimizer step (not after each epoch)."""
        return self.spec.steps_per_epoch > 1
