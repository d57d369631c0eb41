"""data.decode = "gpu": the device-side JPEG path, run here on the CPU (the same functions,
device cpu): the batches it makes, how they match the PIL pipeline, and an exact resume."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from trainer_tiny import tiny_config

from runwatch.errors import RunwatchError
from runwatch.trainer.checkpoint import load_checkpoint
from runwatch.trainer.config import DataConfig
from runwatch.trainer.data import build_datasets, build_loaders
from runwatch.trainer.device_decode import decode_batch
from runwatch.trainer.train import run

CPU = torch.device("cpu")


def jpeg_folder(root: Path, per_class: int = 8, classes: int = 2) -> Path:
    """train/ and val/ of smooth random images of assorted sizes, PIL-encoded; one grey JPEG
    and one PNG named .JPEG (ImageNet has both kinds)."""
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for c in range(classes):
            folder = root / split / f"n{c:08d}"
            folder.mkdir(parents=True)
            for i in range(per_class):
                h, w = int(rng.integers(20, 48)), int(rng.integers(20, 48))
                coarse = rng.integers(0, 255, (4, 4, 3), dtype=np.uint8)
                image = Image.fromarray(coarse).resize((w, h), Image.BILINEAR)
                if i == 0 and c == 0:
                    image = image.convert("L")
                fmt = "PNG" if (i == 1 and c == 0) else "JPEG"
                image.save(folder / f"{i}.JPEG", fmt, quality=90)
    return root


def config_dict(root: Path, decode: str) -> dict:
    return {"data": {"dataset": "imagenet", "data_dir": str(root), "image_size": 16,
                     "batch_size": 4, "workers": 0, "decode": decode}}


def test_the_device_path_makes_the_batches_the_pil_pipeline_makes(tmp_path):
    root = jpeg_folder(tmp_path)
    batches = {}
    for decode in ("cpu", "gpu"):
        cfg = DataConfig(dataset="imagenet", data_dir=str(root), image_size=16, batch_size=4,
                         workers=0, decode=decode)
        train, val = build_datasets(cfg, 2, seed=0)
        loaders = build_loaders(cfg, train, val, world=1, rank=0, seed=0, pin_memory=False)
        batches[decode] = [(loaders.val_images(x, CPU), y) for x, y in loaders.val]
        images, labels = next(iter(loaders.train))
        torch.manual_seed(5)
        first = loaders.train_images(images, CPU)
        torch.manual_seed(5)
        assert torch.equal(first, loaders.train_images(images, CPU))  # the global RNG decides
        assert first.shape == (4, 3, 16, 16) and first.dtype == torch.float32
        assert labels.shape == (4,)
    # Val: the same resize and center crop, decoded by libjpeg-turbo either way; resampling
    # differs a little between PIL and torch.
    for (gpu, y_gpu), (pil, y_pil) in zip(batches["gpu"], batches["cpu"], strict=True):
        assert torch.equal(y_gpu, y_pil)
        assert (gpu - pil).abs().mean() < 0.1 and gpu.shape == pil.shape


def test_a_file_that_is_no_image_is_one_line():
    with pytest.raises(RunwatchError, match=r"cannot be decoded .*: remove or replace it"):
        decode_batch([torch.tensor(list(b"not an image"), dtype=torch.uint8)], CPU)
    buffer = io.BytesIO()
    Image.new("RGB", (9, 7)).save(buffer, "PNG")
    png = torch.frombuffer(bytearray(buffer.getvalue()), dtype=torch.uint8)
    assert decode_batch([png], CPU)[0].shape == (3, 7, 9)  # decoded on the CPU instead


def test_gpu_decode_needs_imagenet_files():
    with pytest.raises(RunwatchError, match=r"data.decode in tiny is 'gpu'.*data.dataset"):
        tiny_config(data={"decode": "gpu"})


@pytest.mark.slow
def test_a_run_decoding_on_the_device_resumes_exactly(tmp_path):
    # Its crops and flips come from the checkpointed global RNG: replayed after a resume.
    root = jpeg_folder(tmp_path / "data")
    config = tiny_config(**config_dict(root, "gpu"), train={"epochs": 2})
    straight = run(config, tmp_path / "straight")
    assert straight.status == "completed"
    first = run(tiny_config(**config_dict(root, "gpu"), train={"epochs": 1}), tmp_path / "split")
    assert first.status == "completed"
    run(config, tmp_path / "split", resume_from=tmp_path / "split", override_schedule=True)
    a = load_checkpoint(tmp_path / "straight" / "checkpoints" / "last.pt")["model"]
    b = load_checkpoint(tmp_path / "split" / "checkpoints" / "last.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
