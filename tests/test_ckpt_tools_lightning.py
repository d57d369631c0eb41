"""A real Lightning .ckpt: edited, then resumed by Trainer.fit(ckpt_path=...); the LRs Lightning
actually uses (recorded by a callback) must be the edit's preview."""

from __future__ import annotations

import logging
import warnings

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from runwatch.ckpt_tools import EditRequest, inspect_checkpoint, plan_edit, write_edit
from runwatch.ckpt_tools.plan import TABLE_EPOCHS


class TinyModule(L.LightningModule):
    def __init__(self, t0: int = 3) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Linear(4, 3)

    def training_step(self, batch, _index):
        x, y = batch
        return torch.nn.functional.cross_entropy(self.net(x), y)

    def configure_optimizers(self):
        opt = torch.optim.SGD(self.parameters(), lr=0.1, momentum=0.9)
        sched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=self.hparams.t0,
                                                                     eta_min=1e-3)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}


class RecordLR(L.Callback):
    def __init__(self) -> None:
        self.lrs: list[float] = []

    def on_train_epoch_start(self, trainer, _module) -> None:
        self.lrs.append(trainer.optimizers[0].param_groups[0]["lr"])


def _fit(tmp_path, max_epochs: int, ckpt_path=None) -> list[float]:
    g = torch.Generator().manual_seed(0)
    data = DataLoader(TensorDataset(torch.randn(16, 4, generator=g),
                                    torch.randint(0, 3, (16,), generator=g)), batch_size=8)
    record = RecordLR()
    saver = L.pytorch.callbacks.ModelCheckpoint(dirpath=tmp_path / "ck", save_top_k=-1,
                                                filename="{epoch}")
    trainer = L.Trainer(max_epochs=max_epochs, accelerator="cpu", logger=False,
                        enable_progress_bar=False, enable_model_summary=False,
                        callbacks=[record, saver], default_root_dir=tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(TinyModule(), data, ckpt_path=ckpt_path)
    return record.lrs


def test_lightning_ckpt_edit_resumes_with_the_previewed_lrs(tmp_path):
    logging.getLogger("lightning").setLevel(logging.ERROR)
    first = _fit(tmp_path, 3)  # epochs 0-2: the restart comes at epoch index 3
    src = tmp_path / "ck" / "epoch=2.ckpt"
    info = inspect_checkpoint(src)
    assert info.layout == "lightning" and info.epochs_done == 3
    assert info.scheduler_type == "CosineAnnealingWarmRestarts"
    assert info.last_lr == pytest.approx(first[-1])
    assert info.next_lrs[0] == pytest.approx(0.1)  # the restart Lightning would run next

    plan = plan_edit(src, EditRequest(t0=12, continuity="match-lr"))
    assert plan.jump_ratio < 1.5
    out = write_edit(plan, tmp_path / "edited.ckpt")
    resumed = _fit(tmp_path / "resume", 3 + TABLE_EPOCHS, ckpt_path=out)
    assert resumed == pytest.approx(plan.lr_after, rel=1e-12)
