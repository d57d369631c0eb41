"""Real Lightning runs for the checkpoint tools' tests: a tiny module whose scheduler (and its
`interval`) each test chooses, fitted on CPU, with the LR of every optimizer step recorded."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from pathlib import Path

import lightning as L
import torch
from torch.utils.data import DataLoader, TensorDataset

STEPS_PER_EPOCH = 4  # 32 samples, batch size 8


class TinyModule(L.LightningModule):
    """Linear(4, 3) + SGD(lr=0.1, momentum 0.9) + the scheduler `make_scheduler(opt)` builds."""

    def __init__(self, make_scheduler: Callable, interval: str = "epoch") -> None:
        super().__init__()
        self.make_scheduler = make_scheduler
        self.interval = interval
        self.net = torch.nn.Linear(4, 3)

    def training_step(self, batch, _index):
        x, y = batch
        return torch.nn.functional.cross_entropy(self.net(x), y)

    def configure_optimizers(self):
        opt = torch.optim.SGD(self.parameters(), lr=0.1, momentum=0.9)
        sched = self.make_scheduler(opt)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": self.interval}}


class RecordLR(L.Callback):
    """The LR of every optimizer step, in order."""

    def __init__(self) -> None:
        self.lrs: list[float] = []

    def on_train_batch_start(self, trainer, _module, _batch, _index) -> None:
        self.lrs.append(trainer.optimizers[0].param_groups[0]["lr"])


def data() -> DataLoader:
    g = torch.Generator().manual_seed(0)
    return DataLoader(TensorDataset(torch.randn(8 * STEPS_PER_EPOCH, 4, generator=g),
                                    torch.randint(0, 3, (8 * STEPS_PER_EPOCH,), generator=g)),
                      batch_size=8)


def fit(folder: Path, make_scheduler: Callable, max_epochs: int, interval: str = "epoch",
        ckpt_path: Path | None = None, save_after: Path | None = None,
        every_n_steps: int | None = None, accumulate: int = 1) -> list[float]:
    """Fit to `max_epochs` (resuming from `ckpt_path`), ModelCheckpoint files `folder/ck/
    epoch=N.ckpt` for every epoch (with `every_n_steps`: `folder/ck/step=N.ckpt` every N
    optimizer steps, mid-epoch too), `trainer.save_checkpoint(save_after)` after fit; returns
    the LR of every optimizer step this fit ran (of every batch, with `accumulate` > 1)."""
    logging.getLogger("lightning").setLevel(logging.ERROR)
    record = RecordLR()
    when = {"every_n_train_steps": every_n_steps, "filename": "{step}"} if every_n_steps \
        else {"filename": "{epoch}"}
    saver = L.pytorch.callbacks.ModelCheckpoint(dirpath=folder / "ck", save_top_k=-1, **when)
    trainer = L.Trainer(max_epochs=max_epochs, accelerator="cpu", logger=False,
                        enable_progress_bar=False, enable_model_summary=False,
                        callbacks=[record, saver], default_root_dir=folder,
                        accumulate_grad_batches=accumulate)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(TinyModule(make_scheduler, interval), data(), ckpt_path=ckpt_path)
        if save_after is not None:
            trainer.save_checkpoint(save_after)
    return record.lrs


def epoch_starts(step_lrs: list[float]) -> list[float]:
    """The LR of each epoch's first step."""
    return step_lrs[::STEPS_PER_EPOCH]
