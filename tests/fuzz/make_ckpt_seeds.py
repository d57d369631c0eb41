"""Write the real checkpoints the checkpoint fuzz suite mutates (tests/fuzz/ckpt_seeds/).

Each seed is written by the trainer it stands for, on a tiny model, so the fuzz suite starts
from the structures users have (and runs in seconds: no Lightning or timm import at test time):

- `runwatch/`: a 3-epoch `runwatch train` run of the tiny CNN (its stream and two epoch files);
- `torchvision.pth`: torchvision's references/classification/train.py checkpoint dict;
- `lightning.ckpt`: `lightning.Trainer.fit` with ModelCheckpoint, 2 epochs;
- `timm.pth.tar`: timm's `CheckpointSaver`, after 3 epochs;
- `tutorial.pt`: the PyTorch "saving and loading a general checkpoint" tutorial's dict;
- `state_dict.pt`: a bare model state_dict;
- `hf-checkpoint-6/`: a Hugging Face Trainer folder (trainer_state.json, optimizer.pt,
  scheduler.pt of a LambdaLR, model.safetensors), written with torch and safetensors;
- `legacy/`: each zip seed saved again in torch's legacy (non-zip) format (committed, not made
  at test time: a legacy file's storage keys are memory addresses, so its bytes change from one
  save to the next, and byte flips would land elsewhere every run).

Regenerate (after a torch, Lightning or timm upgrade) from the repository root:

    python tests/fuzz/make_ckpt_seeds.py
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEEDS = HERE / "ckpt_seeds"
sys.path.insert(0, str(HERE.parent))  # tests/: the shared builders

import torch  # noqa: E402
from ckpt_builders import (  # noqa: E402
    run_epochs,
    seed_scheduler,
    sgd,
    tiny_model,
    torchvision_checkpoint,
    train_epoch,
)


def runwatch_run(folder: Path, tmp: Path) -> None:
    """Trained in `tmp` under a relative run dir: the stream names no path of this machine."""
    import os

    from runwatch.cli import main

    tiny = ['model.arch="tiny_cnn"', "model.num_classes=4", "data.image_size=8",
            "data.batch_size=8", "data.train_size=32", "data.val_size=16", "schedule.t0=2",
            "train.epochs=3", "train.checkpoint_keep=2", 'train.device="cpu"']
    tmp.mkdir()
    os.chdir(tmp)
    run = tmp / "runwatch"
    args = ["train", "--config", "smoke_cpu", "--run-dir", "runwatch"]
    for setting in tiny:
        args += ["--set", setting]
    assert main(args) == 0
    folder.mkdir(exist_ok=True)
    (folder / "checkpoints").mkdir()
    shutil.copy(run / "metrics.jsonl", folder / "metrics.jsonl")
    for name in ("epoch-0002.pt", "epoch-0003.pt"):  # best.pt and last.pt are copies
        shutil.copy(run / "checkpoints" / name, folder / "checkpoints" / name)
    os.chdir(HERE)


def lightning_ckpt(path: Path, tmp: Path) -> None:
    import lightning as L
    from torch.utils.data import DataLoader, TensorDataset

    class Tiny(L.LightningModule):
        def __init__(self, t0: int = 3) -> None:
            super().__init__()
            self.save_hyperparameters()
            self.net = torch.nn.Linear(4, 3)

        def training_step(self, batch, _index):
            x, y = batch
            return torch.nn.functional.cross_entropy(self.net(x), y)

        def configure_optimizers(self):
            opt = torch.optim.SGD(self.parameters(), lr=0.1, momentum=0.9)
            sched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
                opt, T_0=self.hparams.t0, eta_min=1e-3)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}

    logging.getLogger("lightning").setLevel(logging.ERROR)
    g = torch.Generator().manual_seed(0)
    data = DataLoader(TensorDataset(torch.randn(16, 4, generator=g),
                                    torch.randint(0, 3, (16,), generator=g)), batch_size=8)
    saver = L.pytorch.callbacks.ModelCheckpoint(dirpath=tmp / "ck", save_top_k=-1,
                                                filename="{epoch}")
    trainer = L.Trainer(max_epochs=2, accelerator="cpu", logger=False,
                        enable_progress_bar=False, enable_model_summary=False,
                        callbacks=[saver], default_root_dir=tmp)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(Tiny(), data)
    shutil.copy(tmp / "ck" / "epoch=1.ckpt", path)


def timm_ckpt(path: Path, tmp: Path) -> None:
    from timm.optim import create_optimizer_v2
    from timm.utils import CheckpointSaver

    args = argparse.Namespace(model="tiny", sched="cosine", epochs=12, lr=0.1, min_lr=1e-4,
                              warmup_epochs=2, warmup_lr=1e-3, warmup_prefix=False,
                              cooldown_epochs=0, lr_cycle_limit=1, lr_cycle_mul=1.0,
                              lr_cycle_decay=0.5, lr_k_decay=1.0, lr_noise=None,
                              sched_on_updates=False, seed=0, eval_metric="top1")
    model = tiny_model()
    opt = create_optimizer_v2(model, "sgd", lr=args.lr, momentum=0.9, weight_decay=1e-4)
    tmp.mkdir()
    saver = CheckpointSaver(model, opt, args=args, checkpoint_dir=str(tmp),
                            recovery_dir=str(tmp))
    for epoch in range(3):
        train_epoch(model, opt)
        saver.save_checkpoint(epoch, metric=float(epoch))
    shutil.copy(tmp / "checkpoint-2.pth.tar", path)


def tutorial_ckpt(path: Path) -> None:
    """https://pytorch.org/tutorials/recipes/recipes/saving_and_loading_a_general_checkpoint"""
    model = tiny_model()
    opt = sgd(model)
    sched = seed_scheduler(opt)
    run_epochs(model, opt, sched, 3)
    torch.save({"epoch": 3, "model_state_dict": model.state_dict(),
                "optimizer_state_dict": opt.state_dict(),
                "scheduler_state_dict": sched.state_dict(), "loss": 0.42}, path)


def hf_folder(folder: Path) -> None:
    from safetensors.torch import save_file
    from torch.optim.lr_scheduler import LambdaLR

    model = tiny_model()
    opt = torch.optim.AdamW(model.parameters(), lr=5e-5)
    sched = LambdaLR(opt, lambda step: 1 - step / 100)
    run_epochs(model, opt, sched, 6)
    folder.mkdir()
    torch.save(opt.state_dict(), folder / "optimizer.pt")
    torch.save(sched.state_dict(), folder / "scheduler.pt")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()},
              folder / "model.safetensors")
    state = {"best_metric": 0.71, "best_model_checkpoint": "out/checkpoint-6", "epoch": 2.0,
             "eval_steps": 500, "global_step": 6, "is_hyper_param_search": False,
             "is_local_process_zero": True, "is_world_process_zero": True,
             "log_history": [{"epoch": 1.0, "grad_norm": 1.5, "learning_rate": 4.7e-05,
                              "loss": 1.1, "step": 3},
                             {"epoch": 2.0, "eval_accuracy": 0.71, "eval_loss": 0.9,
                              "step": 6}],
             "logging_steps": 500, "max_steps": 300, "num_input_tokens_seen": 0,
             "num_train_epochs": 100, "save_steps": 6, "stateful_callbacks": {},
             "total_flos": 0.0, "train_batch_size": 8, "trial_name": None,
             "trial_params": None}
    (folder / "trainer_state.json").write_text(json.dumps(state, indent=2) + "\n")


def legacy_copies(folder: Path) -> None:
    folder.mkdir()
    for path in sorted(SEEDS.rglob("*")):
        if path.suffix in (".pth", ".ckpt", ".tar", ".pt") and path.parent != folder \
                and "hf-" not in str(path) and path.name != "epoch-0003.pt":
            with torch.serialization.safe_globals([argparse.Namespace]):
                tree = torch.load(path, weights_only=True)
            torch.save(tree, folder / path.name, _use_new_zipfile_serialization=False)


def main() -> None:
    import tempfile

    if SEEDS.exists():
        shutil.rmtree(SEEDS)
    SEEDS.mkdir()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        torchvision_checkpoint(SEEDS / "torchvision.pth", 3)
        tutorial_ckpt(SEEDS / "tutorial.pt")
        torch.save(tiny_model().state_dict(), SEEDS / "state_dict.pt")
        hf_folder(SEEDS / "hf-checkpoint-6")
        timm_ckpt(SEEDS / "timm.pth.tar", tmp / "timm")
        lightning_ckpt(SEEDS / "lightning.ckpt", tmp / "lightning")
        runwatch_run(SEEDS / "runwatch", tmp / "runwatch")
        legacy_copies(SEEDS / "legacy")
    print(f"seeds written to {SEEDS}")


if __name__ == "__main__":
    main()
