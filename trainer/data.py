"""Datasets and loaders: ImageNet as an ImageFolder, or a learnable synthetic set.

Both splits are sharded by a sampler that is a pure function of (seed, epoch, rank): the data
order of any epoch can be replayed on resume, from its start or from a step within it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler

from runwatch.errors import RunwatchError
from runwatch.trainer.config import DataConfig

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class SyntheticImages(Dataset):
    """A class-conditional set a CNN can learn, deterministic from its seed.

    Each class has a fixed smooth random template; image `i` is its class template, rolled by
    a random shift of up to 1/8 of the side, scaled by a random contrast, mixed with a second
    class's template and Gaussian noise (`noise` sets how hard it is), and flipped half the
    time. Everything about image `i` comes from a generator seeded by (seed, split, i), so the
    set is the same in every process and worker. FakeData is no use here: its labels are noise.
    """

    def __init__(self, size: int, num_classes: int, image_size: int, seed: int, split: int,
                 noise: float) -> None:
        self.size, self.num_classes, self.image_size = size, num_classes, image_size
        self.seed, self.split, self.noise = seed, split, noise
        g = torch.Generator().manual_seed(seed)
        coarse = torch.randn(num_classes, 3, max(image_size // 4, 2), max(image_size // 4, 2),
                             generator=g)
        templates = F.interpolate(coarse, size=image_size, mode="bilinear", align_corners=False)
        self.templates = templates / templates.std(dim=(1, 2, 3), keepdim=True)
        self.max_shift = max(image_size // 8, 1)

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        # Modulo 2**64, the generator's seed range (only seeds near 2**32 reach it).
        key = ((self.seed * 1_000_003 + self.split) * 10_000_019 + index) % 2**64
        g = torch.Generator().manual_seed(key)
        label = int(torch.randint(self.num_classes, (1,), generator=g))
        other = int(torch.randint(self.num_classes, (1,), generator=g))
        dy, dx = torch.randint(-self.max_shift, self.max_shift + 1, (2,), generator=g).tolist()
        contrast, mix = torch.rand(2, generator=g).tolist()
        image = torch.roll(self.templates[label], shifts=(dy, dx), dims=(1, 2))
        image = (0.5 + contrast) * image + 0.5 * mix * self.templates[other]
        image = image + self.noise * torch.randn(image.shape, generator=g)
        if torch.rand(1, generator=g).item() < 0.5:
            image = image.flip(2)
        return image, label


def imagenet_datasets(cfg: DataConfig) -> tuple[Dataset, Dataset]:
    """ImageFolder train/ and val/ with torchvision's reference transforms (decoded by PIL in
    the loader's workers), or, with `data.decode = "gpu"`, as files the device decodes
    (trainer/device_decode.py)."""
    from torchvision import datasets, transforms

    root = Path(cfg.data_dir)
    for split in ("train", "val"):
        if not (root / split).is_dir():
            raise RunwatchError(
                f"ImageNet folder {root / split} not found: set data.data_dir (or --data-dir) to "
                f"a directory with train/ and val/ class folders"
            )
    if cfg.decode == "gpu":
        from runwatch.trainer.device_decode import EncodedImageFolder

        return EncodedImageFolder(root / "train"), EncodedImageFolder(root / "val")
    normalize = transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)
    resize = round(cfg.image_size * 256 / 224)
    train = datasets.ImageFolder(root / "train", transforms.Compose([
        transforms.RandomResizedCrop(cfg.image_size), transforms.RandomHorizontalFlip(),
        transforms.ToTensor(), normalize]))
    val = datasets.ImageFolder(root / "val", transforms.Compose([
        transforms.Resize(resize), transforms.CenterCrop(cfg.image_size),
        transforms.ToTensor(), normalize]))
    return train, val


def build_datasets(cfg: DataConfig, num_classes: int, seed: int) -> tuple[Dataset, Dataset]:
    if cfg.dataset == "imagenet":
        return imagenet_datasets(cfg)
    return (SyntheticImages(cfg.train_size, num_classes, cfg.image_size, seed, 0, cfg.noise),
            SyntheticImages(cfg.val_size, num_classes, cfg.image_size, seed, 1, cfg.noise))


class ResumableSampler(DistributedSampler):
    """DistributedSampler (shuffled by seed + epoch) that can start an epoch mid-way."""

    def __init__(self, dataset: Dataset, num_replicas: int, rank: int, seed: int) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed)
        self.skip = 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        """Shuffle for `epoch`, leaving out this rank's first `skip` samples (already trained)."""
        super().set_epoch(epoch)
        self.skip = skip

    def __iter__(self):
        indices = list(super().__iter__())
        return iter(indices[self.skip:])

    def __len__(self) -> int:
        return self.num_samples - self.skip


class ShardSampler(Sampler):
    """Every `world`-th index from `rank`, in order, no padding: each sample evaluated once."""

    def __init__(self, size: int, world: int, rank: int) -> None:
        self.indices = list(range(rank, size, world))

    def __iter__(self):
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def to_device(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    return images.to(device, non_blocking=True)


@dataclass(frozen=True)
class Loaders:
    """A run's data: train and val loaders, the train sampler (set per epoch), steps an epoch,
    and how a loader's batch of images becomes a float batch on the device (moved there, or
    decoded there: trainer/device_decode.py)."""

    train: DataLoader
    val: DataLoader
    sampler: ResumableSampler
    steps: int  # optimizer steps per epoch of this process
    train_images: Callable[[Any, torch.device], torch.Tensor] = to_device
    val_images: Callable[[Any, torch.device], torch.Tensor] = to_device


def build_loaders(
    cfg: DataConfig, train: Dataset, val: Dataset, *, world: int, rank: int, seed: int,
    pin_memory: bool,
) -> Loaders:
    """Train and val loaders (per-rank batch = data.batch_size) and the train sampler."""
    sampler = ResumableSampler(train, num_replicas=world, rank=rank, seed=seed)
    if sampler.num_samples < cfg.batch_size:
        raise RunwatchError(
            f"data.batch_size {cfg.batch_size} is larger than the {sampler.num_samples} training "
            f"images each of the {world} process(es) gets: lower it or use more data"
        )
    common = {"num_workers": cfg.workers, "pin_memory": pin_memory,
              "persistent_workers": cfg.workers > 0}
    on_device = {}
    if cfg.decode == "gpu":
        from runwatch.trainer.device_decode import DeviceDecode, collate_encoded

        common["collate_fn"] = collate_encoded
        on_device = {"train_images": DeviceDecode(cfg.image_size, train=True),
                     "val_images": DeviceDecode(cfg.image_size, train=False)}
    train_loader = DataLoader(train, batch_size=cfg.batch_size, sampler=sampler,
                              drop_last=True, **common)
    val_loader = DataLoader(val, batch_size=cfg.batch_size, shuffle=False,
                            sampler=ShardSampler(len(val), world, rank), **common)
    return Loaders(train_loader, val_loader, sampler,
                   math.floor(sampler.num_samples / cfg.batch_size), **on_device)
