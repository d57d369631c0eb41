"""The rewritten archive is what torch writes: aligned stored records torch.load (mmap) reads."""

from __future__ import annotations

import io
import os
import zipfile

import pytest
import torch

from runwatch.ckpt_tools import zipfmt
from runwatch.ckpt_tools.load import load_checkpoint
from runwatch.ckpt_tools.pickled import dumps_torch
from runwatch.ckpt_tools.write import write_checkpoint
from runwatch.errors import RunwatchError


def _data_offsets(path):
    with open(path, "rb") as f:
        archive = zipfmt.open_archive(path)
        return {i.filename: zipfmt._data_offset(f, i) for i in archive.infos}


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "src.pt"
    torch.manual_seed(0)
    torch.save({"a": torch.randn(33), "b": torch.randn(5, 7).half(), "n": 3}, path)
    return path


@pytest.mark.parametrize("kernel_copy", [True, False], ids=["copy_file_range", "user-space"])
def test_rewrite_is_aligned_and_loads_in_torch_with_mmap(saved, tmp_path, monkeypatch,
                                                         kernel_copy):
    if not kernel_copy:  # a file system without copy_file_range takes the buffered path
        def unsupported(*args):
            raise OSError(95, "Operation not supported")

        monkeypatch.setattr(os, "copy_file_range", unsupported)
    loaded = load_checkpoint(saved)
    loaded.obj["n"] = "a much longer value than before, to shift every following record"
    out = write_checkpoint(loaded, loaded.obj, tmp_path / "out.pt")
    assert all(off % 64 == 0 for off in _data_offsets(out).values())
    assert zipfile.ZipFile(out).testzip() is None
    want = torch.load(saved, weights_only=True)
    for mmap in (False, True):
        got = torch.load(out, weights_only=True, mmap=mmap)
        assert got["n"].startswith("a much longer")
        assert torch.equal(got["a"], want["a"]) and torch.equal(got["b"], want["b"])


def test_unchanged_tree_reproduces_torchs_pickle(saved):
    loaded = load_checkpoint(saved)
    original = zipfmt.read_record(loaded.archive, loaded.archive.pickle_name)
    assert dumps_torch(loaded.obj) == original


def test_corrupt_record_stops_the_rewrite(saved):
    with zipfile.ZipFile(saved) as zf:
        info = next(i for i in zf.infolist() if i.filename.endswith("/data/0"))
    raw = bytearray(saved.read_bytes())
    raw[_data_offsets(saved)[info.filename] + 5] ^= 0xFF
    saved.write_bytes(bytes(raw))
    archive = zipfmt.open_archive(saved)
    assert zipfmt.check_crcs(archive) == [info.filename]
    with pytest.raises(RunwatchError, match="CRC"):
        zipfmt.rewrite_archive(archive, b"", io.BytesIO())
