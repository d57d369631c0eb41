"""Legacy (non-zip) torch files: every pickle is read restricted before torch sees the file, so
payloads are refused naming their global (never with torch's advice to load them unsafely),
storage claims are checked against the file, and damaged files are one line."""

from __future__ import annotations

import os
import pickle
import struct
import subprocess
import sys

import pytest
import torch
from ckpt_builders import Payload

from runwatch.ckpt_tools import diff_checkpoints
from runwatch.ckpt_tools.legacy import MAGIC
from runwatch.ckpt_tools.load import load_checkpoint
from runwatch.errors import RunwatchError

PROTO = b"\x80\x02"


def s(text: str) -> bytes:
    raw = text.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def g(module: str, name: str) -> bytes:
    return b"c" + f"{module}\n{name}\n".encode()


def legacy_file(obj_pickle: bytes, keys: list[str], tail: bytes = b"") -> bytes:
    """A legacy torch file around a hand-made object pickle, as torch.save lays it out."""
    head = b"".join(pickle.dumps(x, protocol=2) for x in (
        MAGIC, 1001, {"protocol_version": 1001, "little_endian": True,
                      "type_sizes": {"short": 2, "int": 4, "long": 4}}))
    return head + obj_pickle + pickle.dumps(keys, protocol=2) + tail


def storage_id(key: str, numel: bytes, view: bytes = b"N") -> bytes:
    """A legacy persistent id: ('storage', FloatStorage, key, 'cpu', numel, view)."""
    return (b"(" + s("storage") + g("torch", "FloatStorage") + s(key) + s("cpu") + numel + view
            + b"tQ")


def one_float(value: float = 1.0) -> bytes:
    return struct.pack("<q", 1) + struct.pack("<f", value)


class _Eval:
    def __reduce__(self):
        return (eval, ("1",))


def test_a_legacy_payload_is_refused_naming_its_global_without_torchs_advice(tmp_path):
    marker = tmp_path / "pwned"
    for obj, name in ((Payload(marker), f"{os.system.__module__}.system"),
                      (_Eval(), "builtins.eval")):
        path = tmp_path / "payload.pt"
        torch.save({"x": obj}, path, _use_new_zipfile_serialization=False)
        with pytest.raises(RunwatchError) as err:
            load_checkpoint(path)
        assert f"names the global {name}, which is not on the allow-list" in str(err.value)
        assert "weights_only" not in str(err.value)
    assert not marker.exists()


DAMAGED = {
    # torch's own loader raised TypeError, ValueError or AssertionError on these.
    "a storage class called": (PROTO + g("torch", "FloatStorage") + s("x") + b"\x85R.", [],
                               "FloatStorage is not a tensor rebuild function"),
    "a persistent id of five fields": (
        PROTO + b"(" + s("storage") + g("torch", "FloatStorage") + s("1") + s("cpu") + b"K\x01tQ.",
        ["1"], "unknown persistent id"),
    "storage keys that name no tensor's storage": (
        PROTO + storage_id("1", b"K\x01") + b"0N.", ["2"],
        "storage list does not match its tensors"),
    "a view past its storage": (
        PROTO + storage_id("1", b"K\x01", b"(" + s("2") + b"K\x00K\x05t") + b"0N.", ["1"],
        "a storage view outside its storage"),
}


@pytest.mark.parametrize("kind", DAMAGED)
def test_a_damaged_legacy_file_is_one_line(kind, tmp_path):
    obj, keys, fragment = DAMAGED[kind]
    path = tmp_path / "damaged.pt"
    path.write_bytes(legacy_file(obj, keys, one_float()))
    with pytest.raises(RunwatchError, match="refused|damaged") as err:
        load_checkpoint(path)
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_a_real_legacy_file_with_a_flipped_storage_size_is_one_line(tmp_path):
    path = tmp_path / "flipped.pt"
    torch.save({"w": torch.ones(4)}, path, _use_new_zipfile_serialization=False)
    raw = bytearray(path.read_bytes())
    raw[-17] ^= 0x01  # the storage's element count: 4 -> 5
    path.write_bytes(bytes(raw))
    with pytest.raises(RunwatchError, match=r"damaged legacy checkpoint \(storage has wrong"):
        load_checkpoint(path)


def test_storage_claims_and_payloads_are_refused_before_torch_is_imported(tmp_path):
    # 2**40 floats claimed by a 300-byte file: torch would allocate 4 TiB before reading.
    bomb = tmp_path / "bomb.pt"
    bomb.write_bytes(legacy_file(PROTO + storage_id("1", b"\x8a\x06\x00\x00\x00\x00\x00\x01")
                                 + b"0N.", ["1"], one_float()))
    payload = tmp_path / "payload.pt"
    torch.save(Payload(tmp_path / "pwned"), payload, _use_new_zipfile_serialization=False)
    script = ("import sys; from runwatch.ckpt_tools.load import load_checkpoint\n"
              "from runwatch.errors import RunwatchError\n"
              "try: load_checkpoint(sys.argv[1])\n"
              "except RunwatchError as exc: print(exc)\n"
              "print('torch' in sys.modules)")
    for path, fragment in ((bomb, "its tensors claim 4398046511112 bytes of storage, the file "
                                  "holds 12"), (payload, ".system, which is not on the allow")):
        out = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True,
                             text=True, timeout=120, check=True).stdout
        assert fragment in out and out.endswith("False\n"), out
    assert not (tmp_path / "pwned").exists()


def test_a_deeply_nested_legacy_file_is_refused_before_anything_walks_it(tmp_path):
    # torch's loader reads 5000 nested lists (it does not recurse); walking them would.
    path = tmp_path / "deep.pt"
    path.write_bytes(legacy_file(PROTO + b"]" * 5000 + b"a" * 4999 + b".", []))
    with pytest.raises(RunwatchError, match="nesting deeper than 100 levels"):
        diff_checkpoints(path, path)
