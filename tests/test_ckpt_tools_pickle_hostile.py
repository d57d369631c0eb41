"""Hand-assembled data.pkl payloads: each is refused on read in one line, runs no code, mutates
nothing in the process, and the writer never emits a global outside the allow-list."""

from __future__ import annotations

import argparse
import os
import pathlib
import pickle
import pickletools
import shlex
import struct
import subprocess
import sys
import zipfile

import pytest
import torch
from ckpt_builders import torchvision_checkpoint

from runwatch.ckpt_tools.load import load_checkpoint
from runwatch.ckpt_tools.pickled import dumps_torch, loads_restricted
from runwatch.ckpt_tools.placeholders import GlobalRef
from runwatch.errors import RunwatchError

PROTO = b"\x80\x02"


def s(text: str) -> bytes:
    raw = text.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def glob(module: str, name: str) -> bytes:
    return b"c" + f"{module}\n{name}\n".encode()


def storage(key: str = "0", numel: int = 1) -> bytes:
    return (b"(" + s("storage") + glob("torch", "FloatStorage") + s(key) + s("cpu")
            + b"K" + bytes([numel]) + b"tQ")


def tensor() -> bytes:
    """A real `_rebuild_tensor_v2(storage, 0, (1,), (1,), False, OrderedDict())` call."""
    return (b"(" + storage() + b"K\x00K\x01\x85K\x01\x85\x89" + glob("collections", "OrderedDict")
            + b")Rt" + b"R")


# The laundering attack: make a tensor with the real rebuild placeholder (memo 1), then BUILD
# the placeholder into os.system. Inert for torch.load, but a re-pickler that trusted the
# placeholder would write GLOBAL os system ... REDUCE.
LAUNDER = (PROTO + b"}(" + s("w") + glob("torch._utils", "_rebuild_tensor_v2") + b"q\x01"
           + tensor()[:-1] + b"R" + b"h\x01}(" + s("module") + s("os") + s("name") + s("system")
           + b"ub0u.")
BUILD_ON_CLASS = (PROTO + glob("pathlib", "Path") + b"}(" + s("exists") + s("x") + b"ub.")
BYTEARRAY_BOMB = PROTO + glob("builtins", "bytearray") + b"J\x00\x00\x00\x7f\x85R."
MEMO_BOMB = PROTO + b"]r\x00\x00\x00\x08."  # LONG_BINPUT 2**27: a dict entry, not 1 GB
HUGE_INT = PROTO + b"\x8b" + struct.pack("<i", 400_000) + b"\x01" * 400_000 + b"."
INST = PROTO + b"(ipathlib\nPath\n."
APPEND_TO_CLASS = PROTO + glob("builtins", "set") + b"K\x01a."
SETITEM_ON_CLASS = PROTO + glob("collections", "OrderedDict") + b"K\x01K\x02s."
NEWOBJ_OTHER = PROTO + glob("builtins", "bytearray") + b"J\x00\x00\x00\x7f\x85\x81."
SELF_CONTAINING = PROTO + b"]q\x00h\x00a."


def laughs(levels: int) -> bytes:
    """Each list holds the previous one twice: 2**levels leaves from a few hundred bytes."""
    body = PROTO + b"]q\x00"
    for i in range(1, levels + 1):
        body += b"h" + bytes([i - 1]) + b"h" + bytes([i - 1]) + b"\x86q" + bytes([i])
    return body + b"."


DEEP = PROTO + b"]" * 5000 + b"a" * 4999 + b"."

HOSTILE = {
    "launder": (LAUNDER, "BUILD applied to GlobalRef"),
    "build_on_class": (BUILD_ON_CLASS, "BUILD applied to type"),
    "bytearray_bomb": (BYTEARRAY_BOMB, "bytearray built from"),
    "huge_int": (HUGE_INT, "an integer of 400000 bytes"),
    "inst": (INST, "opcode torch never writes"),
    "append_to_class": (APPEND_TO_CLASS, "APPEND applied to type"),
    "setitem_on_class": (SETITEM_ON_CLASS, "SETITEM applied to type"),
    "newobj_other": (NEWOBJ_OTHER, "NEWOBJ of"),
    "self_containing": (SELF_CONTAINING, "contains itself"),
    "billion_laughs": (laughs(60), "expand to over"),
    "deep": (DEEP, "nesting deeper than"),
}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_pickle_is_refused_in_one_line(kind):
    data, reason = HOSTILE[kind]
    with pytest.raises(RunwatchError, match="refused") as info:
        loads_restricted(data)
    assert reason in str(info.value)
    assert "\n" not in str(info.value)


def test_a_refused_build_leaves_the_class_alone():
    before = pathlib.Path.exists
    with pytest.raises(RunwatchError):
        loads_restricted(BUILD_ON_CLASS)
    assert pathlib.Path.exists is before
    assert "exists" not in vars(pathlib.Path) or callable(vars(pathlib.Path)["exists"])


def test_memo_index_far_beyond_the_data_costs_nothing():
    assert loads_restricted(MEMO_BOMB) == []


def test_placeholders_cannot_be_changed_or_made_for_other_names():
    ref = GlobalRef("torch._utils", "_rebuild_tensor_v2")
    with pytest.raises(AttributeError):
        ref.module = "os"
    with pytest.raises(RunwatchError):
        GlobalRef("os", "system")


@pytest.mark.parametrize("value", [os.system, subprocess.Popen, type("Custom", (), {})(),
                                   shlex.quote, loads_restricted(PROTO + glob("_codecs",
                                                                              "encode") + b".")])
def test_the_writer_refuses_any_global_outside_the_allow_list(value):
    # A Python function (the reader's own _codecs.encode stand-in among them) went through
    # pickle's table straight to the unchecked GLOBAL writer.
    with pytest.raises(RunwatchError, match="refused to write"):
        dumps_torch({"epoch": 3, "x": value})


def test_empty_bytes_are_written_as_both_readers_take_them(tmp_path):
    # Protocol 2 writes b"" as a call of `bytes`, which neither our reader nor torch's
    # weights-only loader allows; every other bytes value is a call of codecs.encode.
    tree = {"empty": b"", "two": b"\x00\xff"}
    data = dumps_torch(tree)
    assert loads_restricted(data) == tree
    assert pickle.loads(data) == tree


def test_the_writer_keeps_allowed_values_and_torch_reads_them(tmp_path):
    path = tmp_path / "ok.pt"
    torch.save({"ns": argparse.Namespace(lr=0.1), "c": complex(1, 2), "s": {1, 2},
                "b": bytearray(b"ab"), "p": pathlib.PurePosixPath("/x"),
                "sd": torch.nn.Linear(2, 2).state_dict()}, path)
    obj = load_checkpoint(path).obj
    with zipfile.ZipFile(path) as zf:
        original = zf.read("ok/data.pkl")
    assert dumps_torch(obj) == original  # an unedited tree reproduces torch's bytes


def _with_pickle(source, out, data: bytes):
    """`source` (a torch.save file) copied to `out` with its data.pkl replaced by `data`."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            payload = data if info.filename.endswith("data.pkl") else src.read(info)
            dst.writestr(info, payload)
    return out


def _laundered(data: bytes) -> bytes:
    """A real checkpoint's data.pkl with one more key whose value is the memoized rebuild
    placeholder, BUILT into os.system: every tensor of the file then shares the changed ref."""
    ops = [(op.name, arg) for op, arg, _ in pickletools.genops(data)]
    at = ops.index(("GLOBAL", "torch._utils _rebuild_tensor_v2"))
    name, memo = ops[at + 1]
    assert name == "BINPUT"
    assert data.endswith(b"u.")
    extra = (s("zz") + b"h" + bytes([memo]) + b"}(" + s("module") + s("os") + s("name")
             + s("system") + b"ub")
    return data[:-2] + extra + b"u."


def test_the_laundering_checkpoint_is_refused_and_nothing_is_written(tmp_path):
    good = torchvision_checkpoint(tmp_path / "model_2.pth", 3)
    with zipfile.ZipFile(good) as zf:
        data = zf.read(next(n for n in zf.namelist() if n.endswith("data.pkl")))
    path = _with_pickle(good, tmp_path / "crafted.pth", _laundered(data))
    torch.load(path, weights_only=False)  # inert for torch itself: the danger is re-pickling
    before = sorted(os.listdir(tmp_path))
    for args in (["inspect", str(path)],
                 ["edit", str(path), "-o", str(tmp_path / "out.pth"), "--lr", "0.1", "--yes"]):
        proc = subprocess.run([sys.executable, "-m", "runwatch.ckpt_tools", *args],
                              capture_output=True, text=True)
        assert proc.returncode == 2, proc.stdout
        assert proc.stderr.count("\n") == 1 and "BUILD applied to GlobalRef" in proc.stderr
    assert sorted(os.listdir(tmp_path)) == before


def test_a_replaced_data_pkl_of_plain_data_still_loads(tmp_path):
    good = tmp_path / "good.pt"
    torch.save({"w": torch.ones(1)}, good)
    path = _with_pickle(good, tmp_path / "plain.pt", pickle.dumps({"epoch": 3}, protocol=2))
    assert load_checkpoint(path).obj == {"epoch": 3}
