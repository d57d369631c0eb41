"""Real Hugging Face Trainer runs for the checkpoint tools' tests: a tiny model on CPU, the LR
of every optimizer step recorded, `report_to=[]`."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import torch
from torch import nn
from transformers import (
    PretrainedConfig,
    PreTrainedModel,
    Trainer,
    TrainerCallback,
    TrainingArguments,
)

SAMPLES, BATCH = 32, 8  # 4 optimizer steps per epoch


class TinyConfig(PretrainedConfig):
    model_type = "runwatch-tiny"


class TinyModel(PreTrainedModel):
    config_class = TinyConfig

    def __init__(self, config: TinyConfig) -> None:
        super().__init__(config)
        self.lin = nn.Linear(4, 3)
        self.post_init()

    def forward(self, x=None, labels=None):
        logits = self.lin(x)
        return {"loss": nn.functional.cross_entropy(logits, labels), "logits": logits}


class Data(torch.utils.data.Dataset):
    def __init__(self) -> None:
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(SAMPLES, 4, generator=g)
        self.y = torch.randint(0, 3, (SAMPLES,), generator=g)

    def __len__(self) -> int:
        return SAMPLES

    def __getitem__(self, i: int) -> dict:
        return {"x": self.x[i], "labels": self.y[i]}


class RecordLR(TrainerCallback):
    def __init__(self) -> None:
        self.lrs: list[float] = []

    def on_step_begin(self, args, state, control, optimizer=None, **kwargs):
        self.lrs.append(optimizer.param_groups[0]["lr"])


def train(output_dir: Path, resume: Path | None = None, **arguments) -> list[float]:
    """Train (or resume) with these TrainingArguments; the LR of each step it ran."""
    logging.getLogger("transformers").setLevel(logging.ERROR)
    args = TrainingArguments(output_dir=str(output_dir), per_device_train_batch_size=BATCH,
                             report_to=[], use_cpu=True, disable_tqdm=True, logging_steps=100,
                             save_strategy="steps", **arguments)
    record = RecordLR()
    torch.manual_seed(0)
    trainer = Trainer(model=TinyModel(TinyConfig()), args=args, train_dataset=Data(),
                      callbacks=[record])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    return record.lrs
