"""Real tiny fits with other trainers (Lightning, Hugging Face Trainer, Keras), on CPU in a few
seconds: what their loggers and our hooks write is what the tests read."""

from __future__ import annotations

import os
from pathlib import Path


def lightning_fit(root: Path, epochs: int = 4, loggers: list | None = None,
                  callbacks: list | None = None, scheduler: str = "cosine_restarts",
                  interval: str = "epoch", checkpoint: bool = False):
    """A Linear model fitted on a separable toy set; val_acc is a fraction."""
    import lightning.pytorch as pl
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    class Tiny(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(4, 2)

        def _step(self, batch):
            x, y = batch
            out = self.layer(x)
            return torch.nn.functional.cross_entropy(out, y), (out.argmax(1) == y).float().mean()

        def training_step(self, batch, _):
            loss, _ = self._step(batch)
            self.log("train_loss", loss, on_step=True, on_epoch=True)
            return loss

        def validation_step(self, batch, _):
            loss, acc = self._step(batch)
            self.log("val_loss", loss)
            self.log("val_acc", acc)

        def configure_optimizers(self):
            opt = torch.optim.SGD(self.parameters(), lr=0.1)
            if scheduler == "cosine_restarts":  # restarts every 3 epochs (or 12 steps)
                sched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
                    opt, T_0=3 if interval == "epoch" else 12, eta_min=0.001)
            else:  # step decay at epoch 2
                sched = torch.optim.lr_scheduler.MultiStepLR(
                    opt, [2 if interval == "epoch" else 8], 0.1)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": interval}}

    torch.manual_seed(0)
    x = torch.randn(64, 4)
    data = DataLoader(TensorDataset(x, (x[:, 0] > 0).long()), batch_size=16)
    trainer = pl.Trainer(
        default_root_dir=root, max_epochs=epochs, logger=loggers or False,
        callbacks=callbacks or [], log_every_n_steps=1, enable_checkpointing=checkpoint,
        enable_progress_bar=False, enable_model_summary=False, accelerator="cpu",
        num_sanity_val_steps=0,
    )
    trainer.fit(Tiny(), data, data)
    return trainer


def hf_fit(out: Path, epochs: int = 4, callbacks: list | None = None,
           report_to: list[str] | None = None, scheduler: str = "cosine_with_restarts",
           save: bool = True, **extra):
    """A Linear model under transformers.Trainer; compute_metrics gives a fraction accuracy."""
    import torch
    from torch import nn
    from transformers import Trainer, TrainingArguments

    class Data(torch.utils.data.Dataset):
        def __init__(self, n: int, seed: int) -> None:
            g = torch.Generator().manual_seed(seed)
            self.x = torch.randn(n, 8, generator=g)
            self.y = (self.x[:, 0] > 0).long()

        def __len__(self) -> int:
            return len(self.x)

        def __getitem__(self, i: int) -> dict:
            return {"x": self.x[i], "labels": self.y[i]}

    class Tiny(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(8, 2)

        def forward(self, x, labels=None):
            logits = self.fc(x)
            return {"loss": nn.functional.cross_entropy(logits, labels), "logits": logits}

    def accuracy(p) -> dict:
        return {"accuracy": float((p.predictions.argmax(-1) == p.label_ids).mean())}

    torch.manual_seed(0)
    args = TrainingArguments(
        str(out), num_train_epochs=epochs, per_device_train_batch_size=8, eval_strategy="epoch",
        save_strategy="epoch" if save else "no", save_only_model=True, logging_steps=2,
        report_to=report_to or [], use_cpu=True, learning_rate=0.1, lr_scheduler_type=scheduler,
        disable_tqdm=True, **extra)
    trainer = Trainer(model=Tiny(), args=args, train_dataset=Data(64, 0),
                      eval_dataset=Data(32, 1), compute_metrics=accuracy,
                      callbacks=callbacks or [])
    trainer.train()
    return trainer


def keras_fit(csv_path: Path, epochs: int = 4) -> None:
    """A Keras 3 (torch backend) fit logging with CSVLogger: 0-based epochs, fractions."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras
    import numpy as np

    x = np.random.RandomState(0).randn(64, 8).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, validation_data=(x, y), epochs=epochs, verbose=0,
              callbacks=[keras.callbacks.CSVLogger(str(csv_path))])
