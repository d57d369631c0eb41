"""What a config asks of the machine, checked before a run builds anything: worker processes
against the CPUs this process may use, and memory (the model's parameters, the synthetic set's
templates, the batches the loader holds, the samplers' index lists) against the memory it has.

A config value that controls a resource is bounded here or in trainer/config.py, so no value
forks until the OOM killer comes, or asks for terabytes: it is refused in one line instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from runwatch.errors import RunwatchError
from runwatch.trainer.config import Config, ModelConfig
from runwatch.trainer.model import build_model

# Training holds weights, gradients and momentum (12 bytes a parameter in fp32) and a
# serialised checkpoint of weights and momentum (8 more) at once.
BYTES_PER_PARAMETER = 20
# The loader holds `prefetch_factor` (2) batches per worker, and the one being trained.
BATCHES_PER_WORKER = 2
# A Python int in a sampler's index list, with its list slot.
BYTES_PER_INDEX = 40


@dataclass(frozen=True)
class Machine:
    cpus: int
    memory: int  # bytes

    def gib(self, n: float) -> str:
        return f"{n / 2**30:,.1f} GiB"


def this_machine() -> Machine:
    """The CPUs this process may run on and the memory it may use (its cgroup's limit, when
    lower than the physical memory)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit.isdigit():
            memory = min(memory, int(limit))
    except OSError:
        pass
    return Machine(cpus or 1, memory)


def check_resources(config: Config, machine: Machine) -> None:
    """Refuse a config this machine cannot run, naming the key to change."""
    data = config.data
    if data.workers > machine.cpus:
        raise RunwatchError(
            f"data.workers is {data.workers}, more than the {machine.cpus} CPUs this process may "
            f"use: set it to at most {machine.cpus} (each worker is a process with its own "
            f"copy of the dataset)")
    parameters = count_parameters(config)
    need = parameters * BYTES_PER_PARAMETER
    if need > machine.memory:
        raise RunwatchError(
            f"model.arch {config.model.arch} with model.num_classes {config.model.num_classes} "
            f"has {parameters:,} parameters: training it needs about {machine.gib(need)}, and "
            f"this machine has {machine.gib(machine.memory)}; lower model.num_classes or "
            f"choose a smaller model")
    pixels = 3 * data.image_size**2 * 4  # bytes of one float32 image
    batches = (BATCHES_PER_WORKER * data.workers + 1) * data.batch_size * pixels
    if batches > machine.memory // 2:
        raise RunwatchError(
            f"data.batch_size {data.batch_size} at data.image_size {data.image_size} with "
            f"data.workers {data.workers}: the loader holds about {machine.gib(batches)} of "
            f"batches, more than half of this machine's {machine.gib(machine.memory)}; lower "
            f"them")
    if data.dataset == "synthetic":
        templates = config.model.num_classes * pixels
        indices = (data.train_size + data.val_size) * BYTES_PER_INDEX
        if templates + indices > machine.memory // 4:
            raise RunwatchError(
                f"the synthetic set of model.num_classes {config.model.num_classes} at "
                f"data.image_size {data.image_size} with data.train_size {data.train_size} "
                f"and data.val_size {data.val_size} needs about "
                f"{machine.gib(templates + indices)}, more than a quarter of this machine's "
                f"{machine.gib(machine.memory)}; lower them")


def count_parameters(config: Config) -> int:
    """The model's parameter count, without building it: a classifier's parameters grow
    linearly with its classes (the head), so two copies with 2 and 3 classes tell the count
    for any number."""
    two, three = (_parameters(ModelConfig(config.model.arch, n)) for n in (2, 3))
    return two + (config.model.num_classes - 2) * (three - two)


def _parameters(model: ModelConfig) -> int:
    """Parameters of a copy built on the meta device (no memory), or on the CPU for the few
    models whose constructors compute with tensors (RegNet)."""
    try:
        with torch.device("meta"):
            return sum(p.numel() for p in build_model(model).parameters())
    except NotImplementedError:
        return sum(p.numel() for p in build_model(model).parameters())
