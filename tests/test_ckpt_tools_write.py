"""A write that fails for want of space (ENOSPC) is one line: nothing is left behind (no partial
file, no output, no backup, no rewind event) and the input is unchanged."""

from __future__ import annotations

import errno
import io
import os
import shutil
from pathlib import Path

import pytest
import torch
from ckpt_builders import torchvision_checkpoint

from runwatch import atomic
from runwatch.cli import main

SEED_RUN = Path(__file__).parent / "fuzz" / "ckpt_seeds" / "runwatch"


class _Disk:
    """A file system with `left` bytes free: the write past them fails as the kernel's does."""

    left = 0


class _FullDisk(io.BufferedWriter):
    def write(self, data) -> int:
        if len(data) > _Disk.left:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        _Disk.left -= len(data)
        return super().write(data)


@pytest.fixture
def full_disk(monkeypatch):
    """Partial files the atomic writer opens share `_Disk.left` bytes (set by the test); copies
    inside the kernel (copy_file_range) fail at once, so they go through those writes."""
    real_open = open

    def open_partial(path, mode="r", *args, **kwargs):
        if mode != "xb":
            return real_open(path, mode, *args, **kwargs)
        return _FullDisk(io.FileIO(path, mode))

    def copy_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(atomic, "open", open_partial, raising=False)
    monkeypatch.setattr(os, "copy_file_range", copy_full)
    return _Disk


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1, err
    return err


@pytest.fixture
def checkpoints(tmp_path) -> Path:
    folder = tmp_path / "ckpts"
    folder.mkdir()
    torchvision_checkpoint(folder / "model_2.pth", 3)
    legacy = torch.load(folder / "model_2.pth", weights_only=False)  # our own file
    torch.save(legacy, folder / "legacy.pth", _use_new_zipfile_serialization=False)
    return folder


@pytest.mark.parametrize("name", ["model_2.pth", "legacy.pth"])
@pytest.mark.parametrize("in_place", [False, True])
def test_edit_on_a_full_disk_is_one_line_and_leaves_nothing(checkpoints, name, in_place,
                                                            full_disk, capsys):
    before = _files(checkpoints)
    source = checkpoints / name
    # In place, the backup copy fits and the edited file does not.
    full_disk.left = source.stat().st_size * (3 if in_place else 1) // 2
    out = ["--in-place"] if in_place else ["-o", str(checkpoints / "edited.pth")]
    assert main(["ckpt", "edit", str(source), *out, "--t0", "5", "--yes"]) == 2
    err = _one_line_error(capsys)
    assert "No space left on device" in err and "nothing was written" in err
    assert _files(checkpoints) == before


def test_rewind_on_a_full_disk_is_one_line_and_leaves_the_run_as_it_was(tmp_path, full_disk,
                                                                        capsys):
    run = tmp_path / "run"
    shutil.copytree(SEED_RUN, run)
    before = _files(run)
    full_disk.left = 1000
    assert main(["ckpt", "rewind", str(run), "--to", "2", "--yes"]) == 2
    assert "No space left on device" in _one_line_error(capsys)
    assert _files(run) == before
