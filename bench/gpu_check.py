"""The trainer on a real GPU, in one command (issue 15): is it as fast as a bare loop, is it
fed, does it resume exactly, does it run under torchrun with NCCL, how much memory does it take.

    OUT=/some/folder python bench/gpu_check.py

Prints one table and writes it to $OUT/gpu_check.md (default ./gpu_check_out); the runs it
makes are under $OUT/work. Exit status 1 if any check fails. About 5 minutes on one H200.

Without CUDA it runs every check it can on the CPU at toy sizes, so a mistake in this script
shows in CI (tests/test_trainer_gpu_check.py), and marks the GPU-only ones `skip`.

1. throughput: the trainer's training step (trainer.steps.train_one_epoch, through the
   trainer's own setup) against a bare torchvision-reference-style loop in the same process:
   ResNet50, 224 px, batch 256, synthetic tensors already on the GPU, bf16 autocast and
   channels_last, then both compiled; alternating timed windows after warmup; goal >= 0.97x.
2. memory: peak GPU memory of each of those, and the largest batch the trainer's eager step fits.
3. data: a folder of JPEGs made on the spot (ImageNet-like sizes, PIL-encoded) through the
   trainer's ImageNet pipeline, decoded by PIL in `workers = cores` workers (data.decode =
   "cpu") and on the GPU (data.decode = "gpu"); goal: the loader feeds the model's img/s.
4. exactness: 2 epochs straight against 1 + resume + 1 (bf16): bit-equal in deterministic mode,
   within a stated tolerance without it; SIGTERM mid-epoch, resume: bit-equal.
5. torchrun: --nproc-per-node 1 (and 2 with two GPUs) through NCCL: metrics reduced over the
   ranks, one writer.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import tomli_w
import torch
from PIL import Image

REPO = Path(__file__).resolve().parent.parent

from runwatch.stream import read_stream  # noqa: E402
from runwatch.trainer.checkpoint import load_checkpoint  # noqa: E402
from runwatch.trainer.config import DataConfig, ModelConfig, config_from_dict  # noqa: E402
from runwatch.trainer.data import Loaders, build_datasets, build_loaders  # noqa: E402
from runwatch.trainer.distributed import DistInfo  # noqa: E402
from runwatch.trainer.model import build_model  # noqa: E402
from runwatch.trainer.setup import start_run  # noqa: E402
from runwatch.trainer.signals import StopRequest  # noqa: E402
from runwatch.trainer.state import RunState  # noqa: E402
from runwatch.trainer.steps import train_one_epoch  # noqa: E402
from runwatch.trainer.train import run  # noqa: E402

GPU = torch.cuda.is_available()
DEVICE = torch.device("cuda" if GPU else "cpu")
CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
RATIO_GOAL = 0.97
# Default mode (cuDNN free to pick non-deterministic kernels): relative L2 distance of all
# weights after 2 epochs, straight against resumed.
WEIGHT_TOLERANCE = 5e-2
# Public reference: NVIDIA DeepLearningExamples, ResNet50 v1.5 PyTorch (torchvision's resnet50
# is v1.5), 1x A100 80GB, mixed precision, DALI: 2470 img/s (pytorch-21.03 container). No
# published figure for H100/H200 there.
PUBLIC = "A100 80GB, AMP: 2470 img/s (NVIDIA DeepLearningExamples RN50 v1.5)"


@dataclass(frozen=True)
class Sizes:
    """What each check runs at: the issue's sizes on a GPU, toy ones on a CPU."""

    amp: str  # bf16 on the GPU; off on a CPU, where bf16 is emulated (~20x slower here)
    arch: str
    image: int
    batch: int
    steps: int  # per timed window
    windows: int
    jpegs: int
    jpeg_side: tuple[int, int]  # min, max of each side
    exact_arch: str
    exact_image: int
    exact_train: int
    exact_batch: int


GPU_SIZES = Sizes("bf16", "resnet50", 224, 256, 50, 3, 4096, (250, 640), "resnet18", 64, 4096,
                  128)
CPU_SIZES = Sizes("off", "tiny_cnn", 32, 16, 8, 2, 48, (40, 96), "tiny_cnn", 16, 256, 8)


@dataclass
class Row:
    check: str
    setting: str
    measured: str
    goal: str
    status: str  # pass, FAIL, info, skip


ROWS: list[Row] = []
FACTS: dict[str, float] = {}  # numbers one check hands to another


def checked(name: str, fn: Callable[[], None], log: Path) -> None:
    """Run one check, the trainer's own output going to `log`; an exception is its FAIL row
    (and its traceback in the log)."""
    started = time.perf_counter()
    with open(log, "a") as out, contextlib.redirect_stdout(out):
        print(f"== {name}", flush=True)
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - reported, and the run goes on
            traceback.print_exc(file=out)
            ROWS.append(Row(name, "-", f"{type(exc).__name__}: {exc}"[:200], "runs", "FAIL"))
    print(f"{name}: {time.perf_counter() - started:.0f} s", flush=True)


def skip(check: str, setting: str, why: str) -> None:
    ROWS.append(Row(check, setting, f"skipped: {why}", "-", "skip"))


def sync() -> None:
    if GPU:
        torch.cuda.synchronize()


def timed(fn: Callable[[], None]) -> float:
    sync()
    start = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - start


def gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB"


# -- 1 and 2: throughput and memory -------------------------------------------------------

def trainer_config(sizes: Sizes, compiled: bool, **train: object) -> dict:
    return {
        "model": {"arch": sizes.arch, "num_classes": 1000 if GPU else 10},
        "data": {"dataset": "synthetic", "image_size": sizes.image, "batch_size": sizes.batch,
                 "workers": 0, "train_size": sizes.batch, "val_size": sizes.batch},
        "optim": {"lr": 0.1, "momentum": 0.9, "weight_decay": 1e-4},
        "schedule": {"name": "constant"},
        "train": {"epochs": 1, "amp": sizes.amp, "channels_last": True, "compile": compiled,
                  "device": DEVICE.type, **train},
    }


class Repeat:
    """A loader that yields the same batch, already on the device, `n` times."""

    def __init__(self, images: torch.Tensor, targets: torch.Tensor, n: int) -> None:
        self.images, self.targets, self.n = images, targets, n

    def __iter__(self):
        return iter([(self.images, self.targets)] * self.n)


class TrainerStep:
    """The trainer's own parts (its start_run) training `n` steps with train_one_epoch on a
    batch already on the device."""

    def __init__(self, sizes: Sizes, compiled: bool, work: Path) -> None:
        config = config_from_dict(trainer_config(sizes, compiled), "gpu_check")
        self.ctx, _ = start_run(config, work, DistInfo(), DEVICE, None, False, StopRequest())

    def __call__(self, images: torch.Tensor, targets: torch.Tensor, n: int) -> None:
        loaders = Loaders(Repeat(images, targets, n), [], None, steps=10**9)
        train_one_epoch(dataclasses.replace(self.ctx, loaders=loaders), 1, RunState())


class BareStep:
    """torchvision's reference loop reduced to the step: forward under autocast, loss,
    zero_grad, backward, step (the same input layout as the trainer's)."""

    def __init__(self, sizes: Sizes, compiled: bool) -> None:
        self.bf16 = sizes.amp == "bf16"
        # channels_last where the trainer uses it: on CUDA (trainer/context.py).
        self.layout = torch.channels_last if GPU else torch.contiguous_format
        model = build_model(ModelConfig(sizes.arch, 1000 if GPU else 10)).to(DEVICE)
        self.model = model.to(memory_format=self.layout)
        self.optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9,
                                         weight_decay=1e-4)
        self.criterion = torch.nn.CrossEntropyLoss()
        self.step_model = torch.compile(self.model) if compiled else self.model

    def __call__(self, images: torch.Tensor, targets: torch.Tensor, n: int) -> None:
        self.model.train()
        for _ in range(n):
            with torch.autocast(DEVICE.type, dtype=torch.bfloat16, enabled=self.bf16):
                logits = self.step_model(images.contiguous(memory_format=self.layout))
                loss = self.criterion(logits, targets)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()


def peak_memory(step: Callable[[torch.Tensor, torch.Tensor, int], None],
                images: torch.Tensor, targets: torch.Tensor) -> int:
    torch.cuda.reset_peak_memory_stats()
    step(images, targets, 3)
    sync()
    return torch.cuda.max_memory_allocated()


def throughput(sizes: Sizes, work: Path) -> None:
    torch.manual_seed(0)
    images = torch.randn(sizes.batch, 3, sizes.image, sizes.image, device=DEVICE)
    targets = torch.randint(0, 10, (sizes.batch,), device=DEVICE)
    setting = f"{sizes.arch} {sizes.image}px batch {sizes.batch} amp {sizes.amp} channels_last"
    for compiled in (False, True):
        name = "throughput" + (" compiled" if compiled else "")
        if compiled and not GPU:
            skip(name, setting, "torch.compile is measured on the GPU (a cold CPU compile "
                                "takes ~30 s; tests/test_trainer_train.py covers its path)")
            continue
        loops = {"bare": BareStep(sizes, compiled),
                 "trainer": TrainerStep(sizes, compiled, work / name.replace(" ", "_"))}
        warm = {who: timed(lambda f=f: f(images, targets, 10)) for who, f in loops.items()}
        seconds = {"bare": [], "trainer": []}
        for _ in range(sizes.windows):  # alternating, so drift hits both alike
            for who, f in loops.items():
                seconds[who].append(timed(lambda f=f: f(images, targets, sizes.steps)))
        rate = {who: sizes.batch * sizes.steps / statistics.median(s)
                for who, s in seconds.items()}
        ratio = rate["trainer"] / rate["bare"]
        FACTS["model_img_s"] = rate["trainer"]
        ROWS.append(Row(name, setting, f"trainer {rate['trainer']:,.0f} img/s, bare "
                        f"{rate['bare']:,.0f} img/s: {ratio:.3f}x (warmup incl. compile: "
                        f"{warm['trainer']:.0f} s / {warm['bare']:.0f} s)",
                        f">= {RATIO_GOAL}x", ("pass" if ratio >= RATIO_GOAL else "FAIL")
                        if GPU else "info"))
        if GPU:
            peaks = {who: peak_memory(f, images, targets) for who, f in loops.items()}
            ROWS.append(Row("memory" + (" compiled" if compiled else ""), setting,
                            f"peak: trainer {gib(peaks['trainer'])}, bare {gib(peaks['bare'])} "
                            f"(each with the other's weights resident)", "-", "info"))
    if GPU:
        ROWS.append(Row("throughput", "public figure", PUBLIC, "-", "info"))


def largest_batch(sizes: Sizes, work: Path) -> None:
    """Doubling from the recipe's batch until out of memory, then halving the gap to 32."""
    setting = f"{sizes.arch} {sizes.image}px amp {sizes.amp} channels_last, eager trainer step"
    if not GPU:
        skip("largest batch", setting, "needs CUDA")
        return
    step = TrainerStep(sizes, False, work / "largest")
    peaks: dict[int, int] = {}

    def fits(batch: int) -> bool:
        torch.cuda.empty_cache()
        try:
            images = torch.randn(batch, 3, sizes.image, sizes.image, device=DEVICE)
            targets = torch.randint(0, 10, (batch,), device=DEVICE)
            peaks[batch] = peak_memory(step, images, targets)
            return True
        except torch.cuda.OutOfMemoryError:
            return False
        finally:
            step.ctx.optimizer.zero_grad(set_to_none=True)
            torch.cuda.empty_cache()

    low, high = sizes.batch, None
    while high is None and low < 16384:
        if fits(low * 2):
            low *= 2
        else:
            high = low * 2
    while high is not None and high - low > 32:
        mid = (low + high) // 2
        low, high = (mid, high) if fits(mid) else (low, mid)
    total = torch.cuda.get_device_properties(0).total_memory
    ROWS.append(Row("largest batch", setting,
                    f"{low} fits (peak {gib(peaks.get(low, 0))} of {gib(total)}); scale the "
                    f"recipe's lr: 0.1 x batch / 256", "-", "info"))


# -- 3: the data path -----------------------------------------------------------------------

def make_jpeg(args: tuple[Path, int, int, int]) -> None:
    path, seed, low, high = args
    rng = np.random.default_rng(seed)
    w, h = (int(rng.integers(low, high)) for _ in range(2))
    coarse = rng.integers(0, 255, (12, 16, 3), dtype=np.uint8)
    smooth = np.asarray(Image.fromarray(coarse).resize((w, h), Image.BICUBIC), dtype=np.int16)
    noisy = np.clip(smooth + rng.normal(0, 12, smooth.shape), 0, 255).astype(np.uint8)
    Image.fromarray(noisy).save(path, "JPEG", quality=90)


def jpeg_folder(sizes: Sizes, root: Path) -> Path:
    """train/ (sizes.jpegs files in 16 classes) and val/ (one batch), made in parallel."""
    jobs = []
    for split, count in (("train", sizes.jpegs), ("val", sizes.batch)):
        for i in range(count):
            folder = root / split / f"n{i % 16:08d}"
            folder.mkdir(parents=True, exist_ok=True)
            jobs.append((folder / f"{split}_{i}.JPEG", i + (0 if split == "train" else 10**6),
                         *sizes.jpeg_side))
    with Pool(CORES) as pool:
        pool.map(make_jpeg, jobs, chunksize=16)
    return root


def data_path(sizes: Sizes, work: Path) -> None:
    root = jpeg_folder(sizes, work / "jpegs")
    total = sum(p.stat().st_size for p in root.rglob("*.JPEG"))
    workers = CORES if GPU else min(2, CORES)
    model_rate = FACTS.get("model_img_s")
    for decode in ("cpu", "gpu"):
        cfg = DataConfig(dataset="imagenet", data_dir=str(root), image_size=sizes.image,
                         batch_size=sizes.batch, workers=workers, decode=decode)
        train, val = build_datasets(cfg, 16, seed=0)
        loaders = build_loaders(cfg, train, val, world=1, rank=0, seed=0, pin_memory=GPU)
        first, rates = None, []
        for epoch in (1, 2):  # the second pass has its workers running already
            loaders.sampler.set_epoch(epoch)
            start = time.perf_counter()
            n = 0
            for images, _ in loaders.train:
                batch = loaders.train_images(images, DEVICE)
                sync()
                if first is None:
                    first = time.perf_counter() - start
                n += batch.shape[0]
            rates.append(n / (time.perf_counter() - start))
        where = "PIL in the workers" if decode == "cpu" else f"decode_jpeg on {DEVICE.type}"
        setting = (f"{sizes.jpegs} JPEGs ({total / sizes.jpegs / 1024:.0f} KB avg) -> "
                   f"{sizes.image}px, {workers} workers, {where}")
        fed = model_rate is not None and rates[1] >= model_rate
        goal = f">= model {model_rate:,.0f} img/s" if model_rate else ">= model img/s"
        ROWS.append(Row(f"data decode={decode}", setting,
                        f"{rates[1]:,.0f} img/s (first pass {rates[0]:,.0f}, first batch after "
                        f"{first:.1f} s)", goal, ("pass" if fed else "FAIL") if GPU else "info"))


# -- 4: exactness -----------------------------------------------------------------------------

def exact_config(sizes: Sizes, deterministic: bool, epochs: int = 2) -> dict:
    return {
        "model": {"arch": sizes.exact_arch, "num_classes": 10},
        "data": {"dataset": "synthetic", "image_size": sizes.exact_image,
                 "batch_size": sizes.exact_batch, "workers": 2 if GPU else 0,
                 "train_size": sizes.exact_train, "val_size": sizes.exact_batch * 2},
        "optim": {"lr": 0.1, "momentum": 0.9, "weight_decay": 1e-4},
        "schedule": {"name": "cosine_restarts", "t0": 2, "eta_min": 0.001},
        "train": {"epochs": epochs, "seed": 1, "amp": sizes.amp, "channels_last": True,
                  "checkpoint_keep": 3, "log_every_steps": 4, "device": DEVICE.type,
                  "deterministic": deterministic},
    }


class StopAfterEpoch:
    """A stop request that turns on at the first epoch-end question."""

    def __init__(self, steps_per_epoch: int, log_every: int) -> None:
        self.left = math.ceil(steps_per_epoch / log_every)  # step sync points + epoch end
        self.signal_name: str | None = None

    def is_set(self) -> bool:
        self.left -= 1
        if self.left <= 0:
            self.signal_name = "SIGTERM"
        return self.left <= 0

    def install(self) -> None:
        pass

    def restore(self) -> None:
        pass


def weights(run_dir: Path) -> dict:
    return load_checkpoint(run_dir / "checkpoints" / "last.pt")["model"]


def distance(a: dict, b: dict) -> tuple[bool, float]:
    """(bit-equal, relative L2 distance of all floating weights)."""
    equal = all(torch.equal(a[k], b[k]) for k in a)
    num = sum(float((a[k].double() - b[k].double()).norm() ** 2) for k in a
              if a[k].is_floating_point())
    den = sum(float(a[k].double().norm() ** 2) for k in a if a[k].is_floating_point())
    return equal, math.sqrt(num / den)


def epoch_lines(run_dir: Path) -> list[dict]:
    clock = {"time", "epoch_time_s", "images_per_s"}
    return [{k: v for k, v in r.items() if k not in clock}
            for r in read_stream(run_dir)[0] if r["type"] == "epoch"]


def exactness(sizes: Sizes, work: Path) -> None:
    steps = sizes.exact_train // sizes.exact_batch
    for deterministic in (True, False):
        mode = "deterministic" if deterministic else "default"
        if not GPU and not deterministic:
            skip("exactness", f"{sizes.exact_arch}, {mode}", "the CPU's kernels are the same "
                                                             "in both modes")
            continue
        config = config_from_dict(exact_config(sizes, deterministic), "gpu_check")
        straight, split = work / f"{mode}_straight", work / f"{mode}_split"
        run(config, straight)
        run(config, split, stop=StopAfterEpoch(steps, 4))
        run(config, split, resume_from=split)
        equal, dist = distance(weights(straight), weights(split))
        same_stream = epoch_lines(straight) == epoch_lines(split)
        setting = (f"{sizes.exact_arch} {sizes.exact_image}px amp {sizes.amp}, 2 epochs vs 1 + "
                   f"resume + 1, {mode}")
        if deterministic:
            ok, goal = equal and same_stream, "bit-equal weights and stream"
        else:
            ok, goal = dist <= WEIGHT_TOLERANCE, f"weights within {WEIGHT_TOLERANCE} (rel. L2)"
        ROWS.append(Row("exactness", setting, f"bit-equal {equal}, same stream {same_stream}, "
                        f"rel. L2 {dist:.2e}", goal, "pass" if ok else "FAIL"))


def sigterm_resume(sizes: Sizes, work: Path) -> None:
    """A real SIGTERM to `python -m runwatch.trainer` mid-epoch 2, then a resume (here);
    compared with the deterministic straight run of `exactness`."""
    config_file = work / "sigterm.toml"
    config_file.write_text(tomli_w.dumps(exact_config(sizes, True)))
    run_dir = work / "sigterm"
    command = [sys.executable, "-m", "runwatch.trainer", "--config", str(config_file)]
    proc = subprocess.Popen([*command, "--run-dir", str(run_dir)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 300
    while proc.poll() is None and time.time() < deadline:
        records = read_stream(run_dir)[0] if (run_dir / "metrics.jsonl").exists() else []
        if any(r["type"] == "step" and r["epoch"] == 2 for r in records):
            proc.send_signal(signal.SIGTERM)
            break
        time.sleep(0.05)
    out = proc.communicate(timeout=120)[0].decode()
    if proc.returncode != 0:
        raise RuntimeError(f"the SIGTERM'd trainer exited {proc.returncode}: {out[-300:]}")
    stopped = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    where = f"epoch {stopped['epoch'] + 1} step {stopped['step_in_epoch']}"
    run(config_from_dict(exact_config(sizes, True), "gpu_check"), run_dir, resume_from=run_dir)
    equal, dist = distance(weights(work / "deterministic_straight"), weights(run_dir))
    mid = stopped["step_in_epoch"] > 0
    ROWS.append(Row("SIGTERM + resume", f"deterministic, stopped at {where}",
                    f"bit-equal {equal}, rel. L2 {dist:.2e}", "mid-epoch stop, bit-equal",
                    "pass" if equal and mid else "FAIL"))


# -- 5: torchrun ------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(sizes: Sizes, work: Path) -> None:
    gpus = torch.cuda.device_count() if GPU else 0
    counts = [1, 2] if gpus >= 2 else [1]
    if gpus < 2:
        skip("torchrun 2 processes", "NCCL", f"needs two GPUs ({gpus} here)")
    backend = "NCCL" if GPU else "gloo (CPU)"
    for n in counts:
        config_file = work / f"torchrun{n}.toml"
        config_file.write_text(tomli_w.dumps(exact_config(sizes, False, epochs=1)))
        run_dir = work / f"torchrun{n}"
        out = subprocess.run(
            [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(n),
             "--master-port", str(free_port()), "-m", "runwatch.trainer", "--config",
             str(config_file), "--run-dir", str(run_dir)],
            cwd=REPO, capture_output=True, text=True, timeout=600)
        if out.returncode != 0:
            raise RuntimeError(f"torchrun exited {out.returncode}: {out.stderr[-300:]}")
        records, state = read_stream(run_dir)
        [epoch] = [r for r in records if r["type"] == "epoch"]
        starts = [r for r in records if r["type"] == "run_start"]
        # Images trained, summed over the ranks (each trains its shard): the reduction.
        images = epoch["images_per_s"] * epoch["epoch_time_s"]
        per_rank = sizes.exact_train // n // sizes.exact_batch * sizes.exact_batch
        ok = (len(starts) == 1 and starts[0]["world_size"] == n and state.bad_lines == 0
              and records[-1]["status"] == "completed" and out.stdout.count("epoch 1/1") == 1
              and abs(images - n * per_rank) < 1)
        ROWS.append(Row(f"torchrun {n} process{'es' if n > 1 else ''}", backend,
                        f"{images:.0f} images reduced over {starts[0]['world_size']} rank(s), "
                        f"{len(starts)} run_start, {out.stdout.count('epoch 1/1')} epoch line",
                        f"{n * per_rank} images, one writer", "pass" if ok else "FAIL"))


# -- the report -------------------------------------------------------------------------------

def table() -> str:
    lines = ["| check | setting | measured | goal | result |", "|---|---|---|---|---|"]
    lines += [f"| {r.check} | {r.setting} | {r.measured} | {r.goal} | {r.status} |"
              for r in ROWS]
    return "\n".join(lines)


def header() -> str:
    device = torch.cuda.get_device_name(0) if GPU else \
        f"no CUDA: CPU ({platform.processor() or platform.machine()})"
    return (f"# gpu_check {time.strftime('%Y-%m-%d %H:%M')}\n\n{device}, {CORES} cores, torch "
            f"{torch.__version__}, CUDA {torch.version.cuda}, python {platform.python_version()}"
            f"{'' if GPU else '; GPU-only checks skipped, toy sizes elsewhere'}\n")


def main() -> int:
    out = Path(os.environ.get("OUT") or "gpu_check_out")
    work = out / "work"
    work.mkdir(parents=True, exist_ok=True)
    sizes = GPU_SIZES if GPU else CPU_SIZES
    log = out / "gpu_check.log"
    print(header(), flush=True)
    print(f"(the trainer's output and any traceback: {log})", flush=True)
    checked("throughput", lambda: throughput(sizes, work), log)
    checked("largest batch", lambda: largest_batch(sizes, work), log)
    checked("data", lambda: data_path(sizes, work), log)
    checked("exactness", lambda: exactness(sizes, work), log)
    checked("SIGTERM + resume", lambda: sigterm_resume(sizes, work), log)
    checked("torchrun", lambda: torchrun(sizes, work), log)
    (out / "gpu_check.md").write_text(f"{header()}\n{table()}\n")
    print(f"\n{table()}", flush=True)
    failed = [r for r in ROWS if r.status == "FAIL"]
    print(f"\n{len(failed)} failed, {len(ROWS)} rows; written to {out / 'gpu_check.md'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
