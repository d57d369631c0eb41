"""The inner loops: sums, sync-point records, stop requests, channels_last on CPU."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from trainer_tiny import tiny_config

from runwatch.schedule import ScheduleSpec
from runwatch.stream import read_stream
from runwatch.trainer.checkpoint import BackgroundSaver
from runwatch.trainer.context import Precision, RunContext
from runwatch.trainer.data import Loaders
from runwatch.trainer.distributed import DistInfo
from runwatch.trainer.lr import build_scheduler
from runwatch.trainer.model import tiny_cnn
from runwatch.trainer.output import RunOutput
from runwatch.trainer.signals import StopRequest
from runwatch.trainer.state import RunState
from runwatch.trainer.steps import evaluate, train_one_epoch


def context(tmp_path, precision: Precision, stop: StopRequest | None = None) -> RunContext:
    """A tiny CNN on 24 images in batches of 4 (6 steps), a sync point every 2 steps."""
    torch.manual_seed(0)
    model = tiny_cnn(3)
    if precision.channels_last:
        model = model.to(memory_format=torch.channels_last)
    data = TensorDataset(torch.randn(24, 3, 8, 8), torch.arange(24) % 3)
    loader = DataLoader(data, batch_size=4)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    spec = ScheduleSpec("constant", 0.1, 1)
    return RunContext(
        config=tiny_config(train={"log_every_steps": 2}), spec=spec, run_dir=tmp_path,
        info=DistInfo(), device=torch.device("cpu"), model=model, train_model=model,
        optimizer=optimizer, scheduler=build_scheduler(optimizer, spec),
        criterion=nn.CrossEntropyLoss(), precision=precision,
        loaders=Loaders(loader, loader, None, steps=6), out=RunOutput(tmp_path / "s.jsonl"),
        stop=stop or StopRequest(), saver=BackgroundSaver())


def step_records(tmp_path) -> list[dict]:
    return [r for r in read_stream(tmp_path / "s.jsonl")[0] if r["type"] == "step"]


def test_a_full_epoch_sums_every_image_and_logs_at_sync_points(tmp_path):
    ctx = context(tmp_path, Precision(None, False, None))
    out = train_one_epoch(ctx, 1, RunState(global_step=10))
    assert out.stop is None and out.steps_done == 6 and out.sums.count == 24
    assert out.global_step == 16
    assert 0 <= out.sums.correct <= 24 and out.sums.loss > 0
    records = step_records(tmp_path)
    assert [(r["step"], r["global_step"]) for r in records] == [(2, 12), (4, 14)]
    assert records[0]["lr"] == 0.1


def test_a_stop_request_ends_the_epoch_at_the_next_sync_point(tmp_path):
    stop = StopRequest()
    stop.set("SIGTERM")
    ctx = context(tmp_path, Precision(None, False, None), stop)
    out = train_one_epoch(ctx, 1, RunState())
    assert out.stop == "signal" and out.steps_done == 2 and out.sums.count == 8


def test_channels_last_and_bf16_autocast_give_the_same_metrics_shape_on_cpu(tmp_path):
    ctx = context(tmp_path, Precision(torch.bfloat16, True, None))
    out = train_one_epoch(ctx, 1, RunState())
    assert out.sums.count == 24 and torch.isfinite(torch.tensor(out.sums.loss))
    metrics = evaluate(ctx)
    assert 0 <= metrics["test_acc1"] <= metrics["test_acc5"] == 100.0  # 3 classes: top-5 = all
