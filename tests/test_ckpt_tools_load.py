"""Loading refuses every bad input with a RunwatchError and never runs pickled code."""

from __future__ import annotations

import argparse
import copy
import os
import pickle
import zipfile

import pytest
import torch
from ckpt_builders import Payload

from runwatch.ckpt_tools import zipfmt
from runwatch.ckpt_tools.load import file_stamp, load_checkpoint
from runwatch.ckpt_tools.pickled import dumps_torch, loads_restricted
from runwatch.ckpt_tools.placeholders import TensorRef
from runwatch.errors import RunwatchError


def test_zip_checkpoint_with_a_payload_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"model": {}, "x": Payload(marker)}, path)
    with pytest.raises(RunwatchError, match=r"(posix|os)\.system"):
        load_checkpoint(path)
    assert not marker.exists()


def test_plain_pickle_with_a_payload_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(Payload(marker), protocol=2))
    with pytest.raises(RunwatchError, match=r"system"):
        load_checkpoint(path)
    assert not marker.exists()


def test_allow_listed_classes_and_tensors_load_as_placeholders(tmp_path):
    path = tmp_path / "ok.pt"
    torch.save({"args": argparse.Namespace(lr=0.1), "w": torch.zeros(3, 2, dtype=torch.float16),
                "p": torch.nn.Parameter(torch.ones(4)), "b": b"\x00\xff"}, path)
    obj = load_checkpoint(path).obj
    assert obj["args"] == argparse.Namespace(lr=0.1)
    assert isinstance(obj["w"], TensorRef)
    assert (obj["w"].dtype, obj["w"].shape, obj["w"].nbytes) == ("float16", (3, 2), 12)
    assert obj["p"].is_parameter and obj["p"].shape == (4,)
    assert obj["b"] == b"\x00\xff"


def test_a_loaded_tree_can_be_copied_and_the_copy_shares_its_tensors(tmp_path):
    # A scheduler state may hold tensors (an LR given as a tensor); planning copies that state.
    path = tmp_path / "tensor-lr.pt"
    torch.save({"lr_scheduler": {"base_lrs": [torch.tensor(0.1)], "last_epoch": 3},
                "w": torch.ones(2)}, path)
    tree = load_checkpoint(path).obj
    copied = copy.deepcopy(tree)
    assert copied["lr_scheduler"] is not tree["lr_scheduler"]
    assert copied["lr_scheduler"]["base_lrs"][0] is tree["lr_scheduler"]["base_lrs"][0]
    assert copy.copy(tree["w"]) is tree["w"]
    with pytest.raises(AttributeError, match="TensorRef is immutable"):
        tree["w"].args = ()


def test_written_pickle_reads_back_in_torch(tmp_path):
    path = tmp_path / "a.pt"
    torch.save({"t": torch.arange(6).reshape(2, 3)}, path)
    obj = load_checkpoint(path).obj
    assert loads_restricted(dumps_torch(obj))["t"].shape == (2, 3)


def test_flipped_byte_in_a_tensor_is_reported(tmp_path):
    path = tmp_path / "flip.pt"
    torch.save({"w": torch.ones(1000)}, path)
    with zipfile.ZipFile(path) as zf:
        info = next(i for i in zf.infolist() if "/data/" in i.filename)
    raw = bytearray(path.read_bytes())
    raw[info.header_offset + 200] ^= 0x01  # inside the record's data (after a 64-byte pad)
    path.write_bytes(bytes(raw))
    torch.load(path, weights_only=True)  # torch does not notice
    with pytest.raises(RunwatchError, match="CRC"):
        load_checkpoint(path)


def test_legacy_file_loads_through_torch_weights_only(tmp_path):
    path = tmp_path / "legacy.pt"
    torch.save({"args": argparse.Namespace(lr=0.1), "w": torch.ones(2)}, path,
               _use_new_zipfile_serialization=False)
    loaded = load_checkpoint(path)
    assert loaded.container == "legacy"
    assert loaded.obj["args"].lr == 0.1


def test_legacy_file_with_a_payload_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "legacy_evil.pt"
    torch.save({"x": Payload(marker)}, path, _use_new_zipfile_serialization=False)
    with pytest.raises(RunwatchError, match="refused"):
        load_checkpoint(path)
    assert not marker.exists()


@pytest.mark.parametrize("kind,content,message", [
    ("empty", b"", "empty"),
    ("text", b"epoch,lr\n1,0.1\n", "text file"),
    ("garbage", bytes(range(256)) * 4, "not a torch checkpoint"),
    ("zip_not_torch", None, "not a torch checkpoint"),
])
def test_bad_files_are_refused(tmp_path, kind, content, message):
    path = tmp_path / f"{kind}.pt"
    if content is None:
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("readme.txt", "hi")
    else:
        path.write_bytes(content)
    with pytest.raises(RunwatchError, match=message):
        load_checkpoint(path)


def test_truncated_checkpoint_is_refused(tmp_path):
    path = tmp_path / "t.pt"
    torch.save({"w": torch.ones(1000)}, path)
    path.write_bytes(path.read_bytes()[:-300])
    with pytest.raises(RunwatchError, match="damaged|truncated"):
        load_checkpoint(path)


def test_missing_file_and_plain_directory_are_refused(tmp_path):
    with pytest.raises(RunwatchError, match="no such file"):
        load_checkpoint(tmp_path / "nope.pt")
    with pytest.raises(RunwatchError, match="directory"):
        load_checkpoint(tmp_path)


def test_a_checkpoint_replaced_while_it_is_read_is_read_again(tmp_path, monkeypatch):
    # A running trainer renames a new last.pt over the old one at any moment; the archive's
    # index and its records are read through separate opens, so one read can mix two files.
    path, newer = tmp_path / "last.pt", tmp_path / "newer.pt"
    torch.save({"epoch": 1, "w": torch.ones(64)}, path)
    torch.save({"epoch": 2, "w": torch.zeros(64)}, newer)
    real_check_crcs = zipfmt.check_crcs

    def rotate_then_check(archive):
        if newer.exists():  # the first read: the trainer's rename lands after the index
            os.replace(newer, path)
        return real_check_crcs(archive)

    monkeypatch.setattr(zipfmt, "check_crcs", rotate_then_check)
    loaded = load_checkpoint(path)
    assert loaded.obj["epoch"] == 2 and loaded.stamp == file_stamp(path)
