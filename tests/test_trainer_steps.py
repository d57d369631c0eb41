"""The inner loops: sums, sync-point records, stop requests, channels_last on CPU."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from runwatch.trainer.distributed import DistInfo
from runwatch.trainer.model import tiny_cnn
from runwatch.trainer.steps import EpochSums, Precision, evaluate, train_one_epoch


def setup(channels_last: bool):
    torch.manual_seed(0)
    model = tiny_cnn(3)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    data = TensorDataset(torch.randn(24, 3, 8, 8), torch.arange(24) % 3)
    loader = DataLoader(data, batch_size=4)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    return model, loader, optimizer


def epoch(model, loader, optimizer, precision, stop=lambda: False, records=None):
    return train_one_epoch(
        model, loader, optimizer, nn.CrossEntropyLoss(), precision, torch.device("cpu"),
        DistInfo(), epoch=1, start_step=0, start=EpochSums(), global_step=10, log_every=2,
        steps=6, stop_requested=stop,
        on_step_record=(lambda r: None) if records is None else records.append)


def test_a_full_epoch_sums_every_image_and_logs_at_sync_points():
    model, loader, optimizer = setup(False)
    records = []
    out = epoch(model, loader, optimizer, Precision(None, False, None), records=records)
    assert out.stop is None and out.steps_done == 6 and out.sums.count == 24
    assert 0 <= out.sums.correct <= 24 and out.sums.loss > 0
    assert [(r["step"], r["global_step"]) for r in records] == [(2, 12), (4, 14)]
    assert records[0]["lr"] == 0.1


def test_a_stop_request_ends_the_epoch_at_the_next_sync_point():
    model, loader, optimizer = setup(False)
    out = epoch(model, loader, optimizer, Precision(None, False, None), stop=lambda: True)
    assert out.stop == "signal" and out.steps_done == 2 and out.sums.count == 8


def test_channels_last_and_bf16_autocast_give_the_same_metrics_shape_on_cpu():
    model, loader, optimizer = setup(True)
    precision = Precision(torch.bfloat16, True, None)
    out = epoch(model, loader, optimizer, precision)
    assert out.sums.count == 24 and torch.isfinite(torch.tensor(out.sums.loss))
    metrics = evaluate(model, loader, nn.CrossEntropyLoss(), precision, torch.device("cpu"),
                       DistInfo())
    assert 0 <= metrics["test_acc1"] <= metrics["test_acc5"] == 100.0  # 3 classes: top-5 = all
