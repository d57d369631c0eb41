"""The trainer's own overhead (metric sums, step/epoch records, checkpoints, sync points)
against a bare training loop on the same model, data, optimizer and schedule.

    python bench/trainer_overhead.py [--config smoke_cpu] [--epochs 3] [--repeats 2]

After a short warm-up of each, runs the bare loop and `trainer.train.run` alternately,
`--repeats` times each, and reports the fastest of each (the machine is shared; the minimum is
the least disturbed). Prints the whole-run ratio, the training-steps-only ratio, and the
checkpoint seconds per epoch: the steps ratio is what a long run pays per step; the checkpoint
cost is fixed per epoch and shrinks with epoch length (a ResNet50 ImageNet epoch is ~54 minutes).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from trainer.config import Config, load_config, schedule_spec  # noqa: E402
from trainer.data import build_datasets, build_loaders  # noqa: E402
from trainer.lr import build_scheduler  # noqa: E402
from trainer.model import build_model, build_optimizer  # noqa: E402
from trainer.stream import read_stream  # noqa: E402
from trainer.train import run, seed_everything  # noqa: E402


def bare_loop(config: Config) -> tuple[float, float]:
    """(whole run seconds, training-step seconds) of the plainest loop that trains the same."""
    t0 = time.perf_counter()
    seed_everything(config.train.seed)
    model = build_model(config.model)
    optimizer = build_optimizer(model, config.optim)
    scheduler = build_scheduler(optimizer, schedule_spec(config))
    criterion = nn.CrossEntropyLoss(label_smoothing=config.optim.label_smoothing)
    train_set, val_set = build_datasets(config.data, config.model.num_classes, config.train.seed)
    train_loader, val_loader, sampler = build_loaders(
        config.data, train_set, val_set, world=1, rank=0, seed=config.train.seed,
        pin_memory=False)
    step_seconds = 0.0
    for epoch in range(1, config.train.epochs + 1):
        sampler.set_epoch(epoch)
        model.train()
        t_steps = time.perf_counter()
        for images, targets in train_loader:
            loss = criterion(model(images), targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        step_seconds += time.perf_counter() - t_steps
        scheduler.step()
        model.eval()
        with torch.no_grad():
            for images, _ in val_loader:
                model(images)
    return time.perf_counter() - t0, step_seconds


def trainer_run(config: Config) -> tuple[float, float, float]:
    """(whole run seconds, training-step seconds, checkpoint seconds per epoch) of the trainer."""
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        run(config, Path(tmp) / "run")
        total = time.perf_counter() - t0
        records, _ = read_stream(Path(tmp) / "run")
    epochs = [r for r in records if r["type"] == "epoch"]
    ckpts = {r["epoch"]: r["time"] for r in records if r["type"] == "checkpoint"}
    ckpt_seconds = [ckpts[r["epoch"]] - r["time"] for r in epochs]
    return total, sum(r["epoch_time_s"] for r in epochs), sum(ckpt_seconds) / len(ckpt_seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="smoke_cpu")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    config, path = load_config(args.config, [f"train.epochs={args.epochs}",
                                             "train.device=\"cpu\""])
    print(f"config {path}: {config.model.arch}, {config.data.train_size} images/epoch, "
          f"{args.epochs} epochs, torch threads {torch.get_num_threads()}")
    # Warm up both paths once (oneDNN kernels, allocator): the first run in a process is slower.
    small, _ = load_config(args.config, ["train.epochs=1", f"data.train_size="
                                         f"{2 * config.data.batch_size}", 'train.device="cpu"'])
    bare_loop(small)
    trainer_run(small)
    bare, ours = [], []
    for _ in range(args.repeats):
        bare.append(bare_loop(config))
        ours.append(trainer_run(config))
    bare_total, bare_steps = min(b[0] for b in bare), min(b[1] for b in bare)
    our_total, our_steps = min(o[0] for o in ours), min(o[1] for o in ours)
    ckpt_s = min(o[2] for o in ours)
    print(f"bare loop:  run {bare_total:7.2f} s   training steps {bare_steps:7.2f} s")
    print(f"trainer:    run {our_total:7.2f} s   training steps {our_steps:7.2f} s   "
          f"checkpoint {ckpt_s:.3f} s/epoch")
    print(f"overhead, training steps: {100 * (our_steps / bare_steps - 1):+.2f}%  (goal < 3%)")
    print(f"overhead, whole run:      {100 * (our_total / bare_total - 1):+.2f}%  "
          f"(checkpoints are {100 * ckpt_s * args.epochs / bare_total:.1f}% of the bare run "
          f"here; epochs of this config are {bare_total / args.epochs:.1f} s)")


if __name__ == "__main__":
    main()
