"""`data.decode = "gpu"`: ImageNet's JPEGs decoded and augmented on the run's device.

The loader's workers only read each file's bytes; the training loop decodes a batch at once
(`torchvision.io.decode_jpeg`: nvJPEG on CUDA, libjpeg-turbo on the CPU, which is how the
tests run this same code) and applies the CPU pipeline's transforms (trainer/data.py) on the
device: train, RandomResizedCrop(size, scale 0.08-1, ratio 3/4-4/3) and a horizontal flip
with probability 1/2; val, a resize of the short side to size * 256 / 224 and a center crop;
both scaled to [0, 1] and normalised with ImageNet's mean and std.

The crops and flips are drawn from torch's global generator, which checkpoints save and
resume restores: a resumed run replays them (the CPU pipeline's worker RNGs are not replayed).
A file that is not a baseline JPEG (ImageNet has a few CMYK JPEGs and one PNG) is decoded on
the CPU by `decode_image` instead.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset

from runwatch.errors import RunwatchError
from runwatch.trainer.data import IMAGENET_MEAN, IMAGENET_STD

CROP_SCALE = [0.08, 1.0]  # RandomResizedCrop's defaults, as the CPU pipeline uses it
CROP_RATIO = [3 / 4, 4 / 3]


class EncodedImageFolder(Dataset):
    """An ImageFolder whose items are (the file's bytes as a uint8 tensor, class index)."""

    def __init__(self, root: Path) -> None:
        from torchvision import datasets

        self.samples = datasets.ImageFolder(root, loader=Path).samples

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        path, label = self.samples[index]
        return torch.frombuffer(bytearray(Path(path).read_bytes()), dtype=torch.uint8), label


def collate_encoded(batch: list[tuple[torch.Tensor, int]]) -> tuple[list[torch.Tensor],
                                                                   torch.Tensor]:
    """A batch of files of different lengths: (their bytes, their labels)."""
    return [data for data, _ in batch], torch.tensor([label for _, label in batch])


def decode_batch(encoded: list[torch.Tensor], device: torch.device) -> list[torch.Tensor]:
    """RGB uint8 CHW images on `device`, decoded in one call where every file is a JPEG the
    device's decoder takes; one by one (the odd ones on the CPU) otherwise."""
    from torchvision.io import ImageReadMode, decode_image, decode_jpeg

    with warnings.catch_warnings():  # torchvision 0.29 points to TorchCodec; same decoder
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            return decode_jpeg(encoded, mode=ImageReadMode.RGB, device=device)
        except RuntimeError:
            images = []
            for data in encoded:
                try:
                    images.append(decode_jpeg(data, mode=ImageReadMode.RGB, device=device))
                except RuntimeError:
                    try:
                        image = decode_image(data, mode=ImageReadMode.RGB)
                    except RuntimeError as exc:
                        raise RunwatchError(f"an image of the data set cannot be decoded "
                                            f"({exc}): remove or replace it") from None
                    images.append(image.to(device))
            return images


@dataclass(frozen=True)
class DeviceDecode:
    """A loader's batch of encoded files -> a normalised float batch on the device."""

    size: int
    train: bool

    def __call__(self, encoded: list[torch.Tensor], device: torch.device) -> torch.Tensor:
        from torchvision.transforms import RandomResizedCrop
        from torchvision.transforms.v2 import functional as F

        images = decode_batch(encoded, device)
        out = []
        for image in images:
            if self.train:
                top, left, h, w = RandomResizedCrop.get_params(image, CROP_SCALE, CROP_RATIO)
                image = F.resized_crop(image, top, left, h, w, [self.size, self.size],
                                       antialias=True)
                if torch.rand(1).item() < 0.5:
                    image = image.flip(-1)
            else:
                image = F.center_crop(F.resize(image, round(self.size * 256 / 224),
                                               antialias=True), self.size)
            out.append(image)
        batch = torch.stack(out).float().div_(255)
        mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)
        return batch.sub_(mean).div_(std)
