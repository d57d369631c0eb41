"""The run's stream records and console lines, built from values (pure functions: writing
them is `trainer.output.RunOutput`'s job)."""

from __future__ import annotations

import os
import socket

import torch

from runwatch.schedule import ScheduleSpec, spec_to_dict
from runwatch.stream import SCHEMA_VERSION
from runwatch.trainer.config import Config, config_to_dict
from runwatch.trainer.distributed import DistInfo
from runwatch.trainer.state import EpochSums, RunState


def run_start_fields(config: Config, spec: ScheduleSpec, lr_schedule: list[float],
                     info: DistInfo, device: torch.device, run_id: str) -> dict:
    """The fields run_start and resume records share."""
    return {"schema": SCHEMA_VERSION, "run_id": run_id, "config": config_to_dict(config),
            "schedule": spec_to_dict(spec), "lr_schedule": lr_schedule, "epochs": spec.epochs,
            "target_acc1": config.train.target_acc1, "world_size": info.world_size,
            "device": str(device), "torch": torch.__version__, "host": socket.gethostname(),
            "pid": os.getpid()}


def epoch_record(epoch: int, lr: float, global_step: int, train: EpochSums, test: dict,
                 before: RunState) -> dict:
    """The `epoch` record of `epoch`; the best so far and the patience counter go on from the
    state `before` it."""
    is_best = test["test_acc1"] > before.best_acc1 or before.best_epoch == 0
    best_acc1, best_epoch = (test["test_acc1"], epoch) if is_best else \
        (before.best_acc1, before.best_epoch)
    return {"epoch": epoch, "lr": lr, "train_loss": train.loss / train.count,
            "train_acc1": 100 * train.correct / train.count, **test,
            "epoch_time_s": train.seconds, "images_per_s": train.count / train.seconds,
            "best_acc1": best_acc1, "best_epoch": best_epoch, "is_best": is_best,
            "epochs_since_best": 0 if is_best else before.epochs_since_best + 1,
            "global_step": global_step}


def format_epoch(r: dict, epochs: int) -> str:
    return (f"epoch {r['epoch']}/{epochs} lr {r['lr']:.6g} train_loss {r['train_loss']:.4f} "
            f"train_acc1 {r['train_acc1']:.2f} test_loss {r['test_loss']:.4f} "
            f"test_acc1 {r['test_acc1']:.2f} test_acc5 {r['test_acc5']:.2f} "
            f"({r['epoch_time_s']:.1f} s, {r['images_per_s']:.0f} img/s)"
            f"{' best' if r['is_best'] else ''}")
