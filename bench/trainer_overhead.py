"""The trainer's own overhead (metric sums, step/epoch records, checkpoints, sync points)
against a bare training loop on the same model, data, optimizer and schedule.

    python bench/trainer_overhead.py [--config smoke_cpu] [--epochs 2] [--repeats 3] [--set k=v]

Two comparisons, each run alternately (bare, trainer, bare, trainer, ...) after a warm-up:

1. training steps: one epoch of `trainer.steps.train_one_epoch` (writing step records to a
   real stream) against the plainest loop (forward, loss, backward, step);
2. whole run: `trainer.train.run` (evaluation, epoch records, checkpoints) against the bare
   loop plus the same evaluation, for `--epochs` epochs.

Each is reported as CPU seconds of this process (threads included, median; robust on a shared
machine) and as the fastest wall time. The steps ratio is what a long run pays on every step;
the checkpoint cost (serialising on the training thread, writing on a background one) is fixed
per epoch, so its share shrinks with epoch length (a ResNet50 ImageNet epoch is ~54 minutes;
this config's are seconds, with a 90 MB checkpoint written to 2-3 files each epoch).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from runwatch.stream import read_stream  # noqa: E402
from runwatch.trainer.config import Config, load_config  # noqa: E402
from runwatch.trainer.distributed import DistInfo  # noqa: E402
from runwatch.trainer.setup import start_run  # noqa: E402
from runwatch.trainer.signals import StopRequest  # noqa: E402
from runwatch.trainer.state import RunState  # noqa: E402
from runwatch.trainer.steps import train_one_epoch  # noqa: E402
from runwatch.trainer.train import run  # noqa: E402


def timed(fn) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of fn()."""
    cpu, wall = time.process_time(), time.perf_counter()
    fn()
    return time.process_time() - cpu, time.perf_counter() - wall


class Setup:
    """Model, optimizer, loaders as the trainer builds them (its own `start_run`), in `run_dir`
    (which gets the step records of `trainer_epoch`)."""

    def __init__(self, config: Config, run_dir: Path) -> None:
        self.ctx, _ = start_run(config, run_dir, DistInfo(), torch.device("cpu"), None, False,
                                StopRequest())
        self.model, self.optimizer = self.ctx.model, self.ctx.optimizer
        self.scheduler, self.criterion = self.ctx.scheduler, self.ctx.criterion
        self.loaders = self.ctx.loaders

    def bare_epoch(self, epoch: int) -> None:
        self.loaders.sampler.set_epoch(epoch)
        self.model.train()
        for images, targets in self.loaders.train:
            loss = self.criterion(self.model(images), targets)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()

    def trainer_epoch(self, epoch: int) -> None:
        self.loaders.sampler.set_epoch(epoch)
        train_one_epoch(self.ctx, epoch, RunState())

    def bare_evaluate(self) -> None:
        self.model.eval()
        with torch.no_grad():
            for images, _ in self.loaders.val:
                self.model(images)


def bare_run(config: Config) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        setup = Setup(config, Path(tmp))
        for epoch in range(1, config.train.epochs + 1):
            setup.bare_epoch(epoch)
            setup.scheduler.step()
            setup.bare_evaluate()


def trainer_run(config: Config, ckpt_seconds: list[float]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run(config, Path(tmp) / "run")
        records, _ = read_stream(Path(tmp) / "run")
    written = {r["epoch"]: r["time"] for r in records if r["type"] == "checkpoint"}
    ckpt_seconds += [written[r["epoch"]] - r["time"] for r in records if r["type"] == "epoch"]


def report(name: str, bare: list[tuple[float, float]], ours: list[tuple[float, float]]) -> None:
    cpu_b, cpu_o = statistics.median(b[0] for b in bare), statistics.median(o[0] for o in ours)
    wall_b, wall_o = min(b[1] for b in bare), min(o[1] for o in ours)
    print(f"{name}: bare {cpu_b:7.2f} s CPU {wall_b:7.2f} s wall | trainer {cpu_o:7.2f} s CPU "
          f"{wall_o:7.2f} s wall | overhead {100 * (cpu_o / cpu_b - 1):+6.2f}% CPU "
          f"{100 * (wall_o / wall_b - 1):+6.2f}% wall")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="smoke_cpu")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        help="config override, e.g. data.train_size=15360 for longer epochs")
    args = parser.parse_args()
    config, path = load_config(args.config, [*args.overrides, f"train.epochs={args.epochs}",
                                             'train.device="cpu"'])
    print(f"config {path}: {config.model.arch}, {config.data.train_size} images/epoch, "
          f"{args.epochs} epochs, step records every {config.train.log_every_steps} steps, "
          f"torch threads {torch.get_num_threads()}")
    with tempfile.TemporaryDirectory() as tmp:
        setup = Setup(config, Path(tmp))
        setup.bare_epoch(0)  # warm-up: oneDNN kernels, allocator
        setup.trainer_epoch(0)
        bare, ours = [], []
        for i in range(args.repeats):
            bare.append(timed(lambda i=i: setup.bare_epoch(i + 1)))
            ours.append(timed(lambda i=i: setup.trainer_epoch(i + 1)))
    report("training steps (1 epoch)", bare, ours)
    bare, ours, ckpt_seconds = [], [], []
    for _ in range(args.repeats):
        bare.append(timed(lambda: bare_run(config)))
        ours.append(timed(lambda: trainer_run(config, ckpt_seconds)))
    report(f"whole run ({args.epochs} epochs)", bare, ours)
    per_epoch = min(b[1] for b in bare) / args.epochs
    print(f"checkpoint files in place {statistics.median(ckpt_seconds):.3f} s (median) after "
          f"each epoch record, written in the background during the next epoch; epochs of "
          f"this config take {per_epoch:.1f} s")


if __name__ == "__main__":
    main()
