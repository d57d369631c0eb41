"""torchrun / DDP plumbing: which process this is, the process group, and reductions."""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    launched: bool = False  # by torchrun: a process group even for one process

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        """Whether this process is one of a process group (DDP, all-reduced metrics): always
        under torchrun, so `--nproc-per-node 1` runs the multi-GPU path on one GPU."""
        return self.world_size > 1 or self.launched


def dist_from_env() -> DistInfo:
    """Rank and world size as torchrun sets them (RANK, LOCAL_RANK, WORLD_SIZE, and
    TORCHELASTIC_RUN_ID, its own); 1 process else."""
    return DistInfo(rank=int(os.environ.get("RANK", 0)),
                    local_rank=int(os.environ.get("LOCAL_RANK", 0)),
                    world_size=int(os.environ.get("WORLD_SIZE", 1)),
                    launched="TORCHELASTIC_RUN_ID" in os.environ)


def pick_device(requested: str, info: DistInfo) -> torch.device:
    """cuda:LOCAL_RANK when CUDA is there (or asked for), else cpu."""
    if requested == "cuda" or (requested == "auto" and torch.cuda.is_available()):
        torch.cuda.set_device(info.local_rank)
        return torch.device("cuda", info.local_rank)
    return torch.device("cpu")


def init_distributed(info: DistInfo, device: torch.device) -> None:
    """Join the process group (NCCL on GPU, gloo on CPU) when there is more than one process."""
    if info.enabled and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        kwargs = {"device_id": device} if device.type == "cuda" else {}
        dist.init_process_group(backend=backend, rank=info.rank, world_size=info.world_size,
                                **kwargs)


def wrap_ddp(model: nn.Module, device: torch.device, info: DistInfo) -> nn.Module:
    if not info.enabled:
        return model
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


def all_reduce(tensor: torch.Tensor, info: DistInfo, op: str = "sum") -> torch.Tensor:
    """Sum (or max) a tensor over all processes, in place; identity for one process."""
    if info.enabled:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM if op == "sum" else dist.ReduceOp.MAX)
    return tensor


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def shutdown(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        # DDP's reducer sits in reference cycles and holds the group: collect it now, or its
        # gloo threads are torn down at interpreter exit and abort the process (SIGABRT).
        gc.collect()
        dist.destroy_process_group()
