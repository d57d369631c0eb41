"""Everything before a run's first epoch: build its parts (fresh, or put back where a
checkpoint left them) and say where it starts, in the stream and on stdout."""

from __future__ import annotations

import os
import random
import shlex
from pathlib import Path

import numpy as np
import torch
from torch import nn

from runwatch.errors import RunwatchError
from runwatch.schedule import lr_plan
from runwatch.stream import stream_path
from runwatch.trainer import checkpoint as ckpt
from runwatch.trainer.config import Config, schedule_spec
from runwatch.trainer.context import RunContext, build_precision
from runwatch.trainer.data import build_datasets, build_loaders
from runwatch.trainer.distributed import DistInfo, wrap_ddp
from runwatch.trainer.limits import check_resources, this_machine
from runwatch.trainer.lr import build_scheduler
from runwatch.trainer.model import build_model, build_optimizer
from runwatch.trainer.output import RunOutput
from runwatch.trainer.records import run_start_fields
from runwatch.trainer.resume import Resumed, announce_resume, plan_with_history, resume_run
from runwatch.trainer.signals import StopRequest
from runwatch.trainer.state import RunState


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def set_determinism(deterministic: bool) -> None:
    """Deterministic kernels (a rerun gives the same bits on CUDA too), or the fastest
    convolutions for the run's fixed batch shape, as torchvision's reference chooses."""
    if deterministic:  # cuBLAS reads it when its first handle is made
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    # warn_only: an op without a deterministic kernel warns (naming itself), not fails.
    # Set only on a change: setting it imports torch._inductor (3 s).
    if (torch.are_deterministic_algorithms_enabled(),
            torch.is_deterministic_algorithms_warn_only_enabled()) != (deterministic, True):
        torch.use_deterministic_algorithms(deterministic, warn_only=True)
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = not deterministic


def start_run(config: Config, run_dir: Path, info: DistInfo, device: torch.device,
              resume_from: Path | None, override_schedule: bool,
              stop: StopRequest) -> tuple[RunContext, RunState]:
    """The run's parts and the state it starts from; its `run_start` or `resume` record
    written."""
    if resume_from is None and info.is_main and stream_path(run_dir).exists():
        raise RunwatchError(
            f"{run_dir} already holds a run: resume it with --resume-from {run_dir} or choose "
            f"another --run-dir")
    check_resources(config, this_machine())
    set_determinism(config.train.deterministic)
    seed_everything(config.train.seed)
    model = build_model(config.model).to(device)
    precision = build_precision(config, device)
    if precision.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = build_optimizer(model, config.optim)
    # The loaders come first: a per-step schedule is planned in their steps per epoch.
    train_set, val_set = build_datasets(config.data, config.model.num_classes, config.train.seed)
    loaders = build_loaders(config.data, train_set, val_set, world=info.world_size,
                            rank=info.rank, seed=config.train.seed,
                            pin_memory=device.type == "cuda")
    resumed = None
    if resume_from is None:
        spec = schedule_spec(config, loader_steps=loaders.steps)
        scheduler, state = build_scheduler(optimizer, spec), RunState()
    else:
        resumed = resume_run(resume_from, config, override=override_schedule, run_dir=run_dir,
                             is_main=info.is_main, loader_steps=loaders.steps, model=model,
                             optimizer=optimizer, precision=precision)
        spec, scheduler, state = resumed.plan.spec, resumed.scheduler, resumed.state
    train_model = wrap_ddp(model, device, info)
    if config.train.compile:
        train_model = torch.compile(train_model)
    ctx = RunContext(
        config=config, spec=spec, run_dir=run_dir, info=info, device=device, model=model,
        train_model=train_model, optimizer=optimizer, scheduler=scheduler,
        criterion=nn.CrossEntropyLoss(label_smoothing=config.optim.label_smoothing),
        precision=precision, loaders=loaders, out=open_output(run_dir, info), stop=stop,
        saver=ckpt.BackgroundSaver())
    announce_start(ctx, state, resumed)
    return ctx, state


def open_output(run_dir: Path, info: DistInfo) -> RunOutput:
    """Rank 0's stream, once its checkpoints/ folder is known to be writable (a run checks
    before it trains, not after its first epoch); silence on other ranks."""
    if not info.is_main:
        return RunOutput(None)
    ckpt.writable_checkpoint_dir(run_dir)  # creates the run's folder, or stops here
    return RunOutput(stream_path(run_dir))


def announce_start(ctx: RunContext, state: RunState, resumed: Resumed | None) -> None:
    """The `run_start` record of a new run, or the `resume` record and its report."""
    if resumed is None:
        lr_schedule = lr_plan(ctx.spec)
    else:  # only rank 0 has the stream (and writes)
        lr_schedule = plan_with_history(ctx.spec, state.epoch, ctx.run_dir) \
            if ctx.info.is_main else []
    fields = run_start_fields(ctx.config, ctx.spec, lr_schedule, ctx.info, ctx.device,
                              state.run_id)
    if resumed is None:
        ctx.out.record("run_start", **fields)
    else:
        announce_resume(ctx.out, resumed, ctx.spec, fields)
    run_dir = shlex.quote(str(ctx.run_dir))
    ctx.out.say(f"training in {run_dir}; watch it with: runwatch watch {run_dir}")
