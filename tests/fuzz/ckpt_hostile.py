"""The enumerated hostile inputs of the checkpoint fuzz suite, kind by kind: pickle payloads
(in a zip and in legacy files), legacy files whose objects run code, zip attacks, memory and
time bombs, hostile Hugging Face folders, and paths that are not regular files."""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import socket
import struct
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from ckpt_bytes import (
    PROTO,
    call1,
    g,
    legacy_stream,
    patch_central,
    patch_eocd,
    patch_local,
    s,
    tensor_call,
    with_record,
    write_file,
    write_zip,
    zip_entries,
)
from ckpt_mutants import HF_SEED, ZIP_SEEDS, RunsCode, mutate, save_legacy, save_zip, torch_tree


@dataclass(frozen=True)
class Case:
    kind: str
    label: str
    seed: str  # the ZIP_SEEDS / "hf" seed it was made from, or "" when none
    make: Callable[[Path], Path]  # writes the input into a folder, returns its path


def payloads(canary: Path) -> dict[str, bytes]:
    """Pickles that would create `canary` (or call, build or mutate something) if obeyed."""
    touch = f"touch {canary}"
    opener = f"open({str(canary)!r}, 'w').close()"
    return {
        "REDUCE os.system": PROTO + call1(g("os", "system"), s(touch)) + b".",
        "REDUCE posix.system": PROTO + call1(g("posix", "system"), s(touch)) + b".",
        "REDUCE __builtin__.eval (protocol-2 name)":
            PROTO + call1(g("__builtin__", "eval"), s(opener)) + b".",
        "STACK_GLOBAL builtins.exec":
            b"\x80\x04" + s("builtins") + s("exec") + b"\x93" + s(opener) + b"\x85R.",
        "INST os.system": PROTO + b"(" + s(touch) + b"ios\nsystem\n.",
        "OBJ os.system": PROTO + b"(" + g("os", "system") + s(touch) + b"o.",
        "NEWOBJ subprocess.Popen":
            PROTO + g("subprocess", "Popen") + b"]" + s("touch") + s(str(canary)) + b"\x86"
            + b"\x85\x81.",
        "NEWOBJ_EX subprocess.Popen":
            b"\x80\x04" + g("subprocess", "Popen") + b"]" + s("touch") + s(str(canary))
            + b"\x86\x85}\x92.",
        "EXT1 code": PROTO + b"\x82\x01" + s(touch) + b"\x85R.",
        "BUILD on the rebuild placeholder (launder)":
            PROTO + b"}(" + s("w") + g("torch._utils", "_rebuild_tensor_v2") + b"q\x01"
            + tensor_call()[len(g("torch._utils", "_rebuild_tensor_v2")):]
            + b"h\x01}(" + s("module") + s("os") + s("name") + s("system") + b"ub0u.",
        "BUILD on pathlib.Path": PROTO + g("pathlib", "Path") + b"}(" + s("exists") + s("x")
                                 + b"ub.",
        "BUILD __class__ onto a Namespace":
            PROTO + g("argparse", "Namespace") + b")R}(" + s("__class__")
            + g("subprocess", "Popen") + b"ub.",
        "SETITEM on collections.OrderedDict":
            PROTO + g("collections", "OrderedDict") + s("__init__") + g("os", "system") + b"s.",
        "APPEND to builtins.set": PROTO + g("builtins", "set") + s(touch) + b"a.",
        "persistent id naming os.system":
            PROTO + b"(" + s("storage") + g("os", "system") + s("0") + s("cpu") + b"K\x01tQ.",
        "persistent id naming the rebuild function":
            PROTO + b"(" + s("storage") + g("torch._utils", "_rebuild_tensor_v2") + s("0")
            + s("cpu") + b"K\x01tQ.",
        "persistent id that is a string": PROTO + s(touch) + b"Q.",
        "torch.load named as a global": PROTO + call1(g("torch", "load"), s(str(canary))) + b".",
        "storage class called": PROTO + call1(g("torch", "FloatStorage"), s(touch)) + b".",
        "_codecs.encode with rot13": PROTO + g("_codecs", "encode") + s(touch) + s("rot13")
                                     + b"\x86R.",
        "OrderedDict of a global": PROTO + call1(g("collections", "OrderedDict"),
                                                 g("os", "system")) + b".",
        "Path of a non-string": PROTO + call1(g("pathlib", "Path"), b"K\x01") + b".",
        "copyreg._reconstructor": PROTO + g("copyreg", "_reconstructor") + b"(" +
                                  g("subprocess", "Popen") + g("builtins", "object") + b"NtR.",
        "getattr of a module": PROTO + g("builtins", "getattr") + b"(" + g("os", "path")
                               + s("join") + b"tR.",
        "out-of-band buffer": b"\x80\x05\x97.",
        "rebuild called with a global": PROTO + g("torch._utils", "_rebuild_tensor_v2") + b"("
                                        + g("os", "system") + b"K\x00]]\x89NtR.",
    }


def payload_cases(canary: Path) -> Iterator[Case]:
    base = zip_entries(ZIP_SEEDS["torchvision"])
    for name, data in payloads(canary).items():
        yield Case("payload", f"data.pkl: {name}", "torchvision",
                   lambda d, data=data: write_zip(d / "payload.pth",
                                                  with_record(base, "/data.pkl", data)))
        # Legacy: the payload as the first pickle (before the magic) and as the object pickle.
        yield Case("payload-legacy", f"first pickle: {name}", "",
                   lambda d, data=data: write_file(d / "payload.pt", data))
        yield Case("payload-legacy", f"object pickle: {name}", "",
                   lambda d, data=data: write_file(d / "payload.pt", legacy_stream(data)))


def legacy_cases(canary: Path) -> Iterator[Case]:
    touch = f"touch {canary}"
    objects = {
        "os.system object": lambda: RunsCode(os.system, touch),
        "os.system inside a state dict": lambda: {"model": {"w": torch.ones(2)},
                                                  "x": RunsCode(os.system, touch)},
        "eval of open()": lambda: {"epoch": RunsCode(eval, f"open({str(canary)!r},'w')")},
        "exec in optimizer state": lambda: {"optimizer": {"state": {0: RunsCode(
            exec, f"open({str(canary)!r},'w')")}, "param_groups": []}},
        "subprocess.call in args": lambda: {"args": RunsCode(__import__("subprocess").call,
                                                             ["touch", str(canary)])},
    }
    for name, make in objects.items():
        yield Case("legacy", f"legacy torch.save: {name}", "",
                   lambda d, make=make: save_legacy(make(), d / "legacy.pt"))
    yield Case("legacy", "zip torch.save: os.system object", "",
               lambda d: save_zip(RunsCode(os.system, touch), d / "zip-payload.pt"))


def zip_cases() -> Iterator[Case]:
    seed = ZIP_SEEDS["torchvision"]
    base = zip_entries(seed)
    raw = seed.read_bytes()
    prefix = base[0][0].split("/")[0] + "/"
    entry_cases: dict[str, Callable[[], list[tuple[str, bytes]]]] = {
        **{f".storage_alignment {v!r}": (lambda v=v: with_record(base, ".storage_alignment", v))
           for v in (b"abc", b"0", b"-64", b"100000", b"48", b"", b"64\x00", b" 64 ", b"\xff",
                     b"1e3", b"0x40", b"\xd9\xa6\xd9\xa4", b"6" * 2**16, b"4096")},
        **{f"version {v!r}": (lambda v=v: with_record(base, "/version", v))
           for v in (b"abc\n", b"0\n", b"99\n", b"-1\n", b"\xd9\xa3", b"9" * 5000)},
        "no version record": lambda: with_record(base, "/version", None),
        "no data.pkl": lambda: with_record(base, "/data.pkl", None),
        "empty data.pkl": lambda: with_record(base, "/data.pkl", b""),
        "data.pkl of a bare STOP": lambda: with_record(base, "/data.pkl", b"."),
        "data.pkl without STOP": lambda: with_record(base, "/data.pkl",
                                                     dict(base)[prefix + "data.pkl"][:-1]),
        "byteorder 'middle'": lambda: with_record(base, "/byteorder", b"middle"),
        "byteorder 'big'": lambda: with_record(base, "/byteorder", b"big"),
        "missing tensor record": lambda: with_record(base, "/data/1", None),
        "short tensor record": lambda: with_record(base, "/data/0",
                                                   dict(base)[prefix + "data/0"][:-1]),
        "empty tensor record": lambda: with_record(base, "/data/0", b""),
        "parent-folder entry": lambda: [*base, ("../evil", b"x")],
        "absolute entry": lambda: [*base, ("/tmp/evil", b"x")],
        "escape sequence entry": lambda: [*base, (prefix + "data/\x1b]52;c;eA==\x07", b"x")],
        "entry in another folder": lambda: [*base, ("other/data.pkl", b".")],
        "two archives": lambda: base + [("b/" + n.split("/", 1)[1], d) for n, d in base],
        "duplicate data.pkl": lambda: [*base, (prefix + "data.pkl", PROTO + b"}.")],
        "directory entry": lambda: [*base, (prefix + "data/", b"")],
        "10k extra storages": lambda: [*base, *((f"{prefix}data/{i}", b"")
                                                for i in range(100, 10_100))],
        "folder named '.'": lambda: [("./" + n.split("/", 1)[1], d) for n, d in base],
        "folder with a newline": lambda: [("a\nb/" + n.split("/", 1)[1], d) for n, d in base],
    }
    for name, entries in entry_cases.items():
        yield Case("zip", name, "torchvision",
                   lambda d, entries=entries: write_zip(d / "zip.pth", entries()))
    yield Case("zip", "deflated records", "torchvision",
               lambda d: write_zip(d / "zip.pth", base, zipfile.ZIP_DEFLATED))
    raw_cases: dict[str, Callable[[], bytes]] = {
        "header offset past the end": lambda: patch_central(raw, "/data/1", offset=len(raw) + 9),
        "header offset inside another record": lambda: patch_central(raw, "/data/1",
                                                                    offset=100),
        "header offset 2**32-1": lambda: patch_central(raw, "/data.pkl", offset=0xFFFFFFFF),
        "data.pkl claims 4 GB": lambda: patch_central(raw, "/data.pkl", size=0xFFFFFFF0,
                                                      csize=0xFFFFFFF0),
        "data.pkl claims 4 GB uncompressed only": lambda: patch_central(raw, "/data.pkl",
                                                                        size=0xFFFFFFF0),
        "data.pkl claims zip64 sizes": lambda: patch_central(raw, "/data.pkl",
                                                             size=0xFFFFFFFF,
                                                             csize=0xFFFFFFFF),
        "record overlapping the whole file": lambda: patch_central(raw, "/data/0", offset=0,
                                                                   size=len(raw) - 100,
                                                                   csize=len(raw) - 100),
        "encrypted flag": lambda: patch_central(raw, "/data.pkl", flags=0x0809),
        "unknown compression method 99": lambda: patch_local(
            patch_central(raw, "/data.pkl", method=99), "/data.pkl", method=99),
        "bzip2 method without bzip2 data": lambda: patch_local(
            patch_central(raw, "/data.pkl", method=12), "/data.pkl", method=12),
        "local name length 65535": lambda: patch_local(raw, "/data.pkl", name_len=0xFFFF),
        "local extra length 65535": lambda: patch_local(raw, "/data/0", extra_len=0xFFFF),
        "central extra length past the directory": lambda: patch_central(raw, "/data/1",
                                                                         extra_len=0xFFFF),
        "CRC of data.pkl wrong": lambda: patch_central(raw, "/data.pkl", crc=0),
        "central directory offset 0": lambda: patch_eocd(raw, cd_offset=0),
        "central directory size 2**32-1": lambda: patch_eocd(raw, cd_size=0xFFFFFFFF),
        "entry count 65535": lambda: patch_eocd(raw, entries=0xFFFF, disk_entries=0xFFFF),
        "entry count 0": lambda: patch_eocd(raw, entries=0, disk_entries=0),
        "comment length past the end": lambda: patch_eocd(raw, comment_len=0xFFFF),
        "no end record": lambda: raw[:raw.rfind(b"PK\x05\x06")],
        "truncated central directory": lambda: raw[:-30],
        "1 MB of junk appended": lambda: raw + b"\x00" * (1 << 20),
        "junk before the archive": lambda: b"MZ" + b"\x00" * 100 + raw,
        "only a local header": lambda: raw[:30],
        "invalid UTF-8 entry name": lambda: _rename(raw, prefix + "byteorder",
                                                    prefix.encode() + b"\xff\xfeteorder"),
        "invalid UTF-8 name without the UTF-8 flag": lambda: _rename(
            patch_central(raw, "/byteorder", flags=0x0008), prefix + "byteorder",
            prefix.encode() + b"\xff\xfeteorder"),
        "NUL in an entry name": lambda: _rename(raw, prefix + "byteorder",
                                                prefix.encode() + b"data.pkl\x00"),
    }
    for name, make in raw_cases.items():
        yield Case("zip", name, "torchvision",
                   lambda d, make=make: write_file(d / "zip.pth", make()))


def _rename(raw: bytes, old: str, new: bytes) -> bytes:
    old_b = old.encode()
    assert len(old_b) == len(new) and raw.count(old_b) == 2
    return raw.replace(old_b, new)


def _laughs(levels: int) -> list:
    node: list = ["ha"]
    for _ in range(levels):
        node = [node, node]
    return node


def bomb_cases() -> Iterator[Case]:
    tv = zip_entries(ZIP_SEEDS["torchvision"])
    rw_tree = torch_tree(ZIP_SEEDS["runwatch"])
    tv_tree = torch_tree(ZIP_SEEDS["torchvision"])

    def pkl(name: str, data: bytes) -> Case:
        return Case("bomb", name, "torchvision", lambda d: write_zip(
            d / "bomb.pth", with_record(tv, "/data.pkl", data)))

    yield pkl("memo index 2**27", PROTO + b"]r\x00\x00\x00\x08.")
    yield pkl("memo index 2**31-1 then GET", PROTO + b"]r\xff\xff\xff\x7fj\xff\xff\xff\x7f.")
    yield pkl("bytearray of 4 GB", PROTO + call1(g("builtins", "bytearray"),
                                                  b"J\x00\x00\x00\x7f") + b".")
    yield pkl("LONG4 of 1 MB (a million-digit int)",
              PROTO + b"\x8b" + struct.pack("<i", 1 << 20) + b"\x01" * (1 << 20) + b".")
    yield pkl("LONG4 claiming 2 GB", PROTO + b"\x8b" + struct.pack("<i", 2**31 - 1) + b".")
    yield pkl("BINUNICODE claiming 4 GB", PROTO + b"X\xff\xff\xff\xff" + b"x" * 10 + b".")
    yield pkl("BINBYTES claiming 4 GB", b"\x80\x03B\xff\xff\xff\xff" + b"x" * 10 + b".")
    yield pkl("BINUNICODE8 claiming 2**63", b"\x80\x04\x8d" + b"\xff" * 7 + b"\x7f.")
    yield pkl("FRAME claiming 2**63", b"\x80\x04\x95" + b"\xff" * 7 + b"\x7f.")
    yield pkl("100k-deep lists", PROTO + b"]" * 100_000 + b"a" * 99_999 + b".")
    yield pkl("100k MARKs", PROTO + b"(" * 100_000 + b".")
    yield pkl("storage of 2**60 elements", PROTO + tensor_call(numel=2**31 - 1) + b".")
    yield pkl("tensor 2**31 x 2**31, stride 0",
              PROTO + tensor_call(shape=b"J\xff\xff\xff\x7fJ\xff\xff\xff\x7f\x86",
                                  stride=b"K\x00K\x00\x86") + b".")
    yield pkl("tensor of 64 dimensions", PROTO + tensor_call(
        shape=b"(" + b"K\x01" * 64 + b"t", stride=b"(" + b"K\x01" * 64 + b"t") + b".")
    yield pkl("int epoch of 2**127", PROTO + b"}" + s("epoch") + b"\x8a\x10" + b"\xff" * 15
              + b"\x7fs.")
    for where in ("metrics", "config", "edits"):
        def laughs_at(d, where=where):
            tree = copy.copy(rw_tree)
            tree[where] = _laughs(40)
            return save_zip(tree, d / "laughs.pt")
        yield Case("bomb", f"billion laughs in runwatch {where}", "runwatch", laughs_at)

    def laughs_in_groups(d):
        tree = copy.deepcopy(tv_tree)
        groups = tree["optimizer"]["param_groups"]
        groups[0]["params"] = _laughs(40)
        return save_zip(tree, d / "laughs.pth")
    yield Case("bomb", "billion laughs in param_groups params", "torchvision", laughs_in_groups)

    def shared_args(d):
        tree = copy.deepcopy(tv_tree)
        big = list(range(50_000))
        tree["args"] = argparse.Namespace(**{f"a{i}": big for i in range(200)})
        return save_zip(tree, d / "shared.pth")
    yield Case("bomb", "one 50k list shared by 200 args", "torchvision", shared_args)

    def storage_claims_legacy(d):
        # A legacy file whose object pickle claims a 2**40-element storage.
        obj = PROTO + b"(" + s("storage") + g("torch", "FloatStorage") + s("0") + s("cpu") + \
            b"\x8a\x06\x00\x00\x00\x00\x00\x01NtQ."
        keys = PROTO + b"]" + s("0") + b"a."
        return write_file(d / "legacy-bomb.pt", legacy_stream(obj, keys) + b"\x00" * 8)
    yield Case("bomb", "legacy storage claiming 2**40 elements", "", storage_claims_legacy)


def hf_cases(rng: random.Random, count: int) -> Iterator[Case]:
    state = json.loads((HF_SEED / "trainer_state.json").read_text())

    def folder_with(files: dict[str, bytes | Callable[[Path], object]]) -> Callable[[Path], Path]:
        def make(d: Path) -> Path:
            out = d / "checkpoint-6"
            out.mkdir()
            for src in HF_SEED.iterdir():
                (out / src.name).write_bytes(src.read_bytes())
            for name, content in files.items():
                target = out / name
                if target.exists():
                    target.unlink()
                if callable(content):
                    content(target)
                else:
                    target.write_bytes(content)
            return out
        return make

    def state_with(**changes: object) -> bytes:
        return json.dumps(state | changes).encode()

    def st_header(header: bytes, claimed: int | None = None) -> bytes:
        n = len(header) if claimed is None else claimed
        return struct.pack("<Q", n) + header

    fixed: dict[str, dict] = {
        "trainer_state.json 100k-deep array": {"trainer_state.json": b"[" * 100_000
                                               + b"]" * 100_000},
        "trainer_state.json 100k-deep in log_history": {
            "trainer_state.json": state_with(log_history="DEEP").replace(
                b'"DEEP"', b"[" * 100_000 + b"]" * 100_000)},
        "trainer_state.json is a list": {"trainer_state.json": b"[1, 2]"},
        "trainer_state.json is a string": {"trainer_state.json": b'"abc"'},
        "trainer_state.json is null": {"trainer_state.json": b"null"},
        "trainer_state.json empty": {"trainer_state.json": b""},
        "trainer_state.json not UTF-8": {"trainer_state.json": b'{"epoch": "\xff"}'},
        "trainer_state.json 10k-digit epoch": {"trainer_state.json": state_with(
            epoch="BIG").replace(b'"BIG"', b"9" * 10_000)},
        "trainer_state.json epoch 1e400": {"trainer_state.json": state_with(
            epoch="BIG").replace(b'"BIG"', b"1e400")},
        "trainer_state.json epoch NaN": {"trainer_state.json": state_with(
            epoch="BIG").replace(b'"BIG"', b"NaN")},
        "trainer_state.json global_step Infinity": {"trainer_state.json": state_with(
            global_step="BIG").replace(b'"BIG"', b"-Infinity")},
        "trainer_state.json epoch a string": {"trainer_state.json": state_with(epoch="2")},
        "trainer_state.json epoch a dict": {"trainer_state.json": state_with(epoch={"a": 1})},
        "trainer_state.json best_metric escape": {"trainer_state.json": state_with(
            best_metric="\x1b]52;c;ZXZpbA==\x07")},
        "trainer_state.json a directory": {"trainer_state.json": lambda p: p.mkdir()},
        "trainer_state.json a FIFO": {"trainer_state.json": lambda p: os.mkfifo(p)},
        "trainer_state.json a link to itself": {
            "trainer_state.json": lambda p: p.symlink_to(p.name)},
        "safetensors header claims 2**63 bytes": {"model.safetensors": st_header(
            b"{}", 2**63 - 1)},
        "safetensors header claims 2**64-1 bytes": {"model.safetensors": st_header(
            b"{}", 2**64 - 1)},
        "safetensors header claims 1 GB": {"model.safetensors": st_header(b"{}", 1 << 30)},
        "safetensors header not JSON": {"model.safetensors": st_header(b"\xff{")},
        "safetensors header a list": {"model.safetensors": st_header(b"[1]")},
        "safetensors header 100k-deep": {"model.safetensors": st_header(
            b'{"w": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")},
        "safetensors shape strings": {"model.safetensors": st_header(json.dumps(
            {"w": {"dtype": "F32", "shape": ["a", "b"], "data_offsets": [0, 8]}}).encode())},
        "safetensors offsets reversed": {"model.safetensors": st_header(json.dumps(
            {"w": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}}).encode())},
        "safetensors offsets past the file": {"model.safetensors": st_header(json.dumps(
            {"w": {"dtype": "F32", "shape": [2**40], "data_offsets": [0, 2**42]}}).encode())},
        "safetensors entry a number": {"model.safetensors": st_header(b'{"w": 3}')},
        "safetensors dtype a list": {"model.safetensors": st_header(json.dumps(
            {"w": {"dtype": [1], "shape": [1], "data_offsets": [0, 4]}}).encode())},
        "safetensors huge shape product": {"model.safetensors": st_header(json.dumps(
            {"w": {"dtype": "F32", "shape": [2**62, 2**62], "data_offsets": [0, 0]}}).encode())},
        "safetensors truncated": {"model.safetensors": b"\x10\x00"},
        "scheduler.pt billion laughs": {"scheduler.pt": lambda p: save_zip(
            {"base_lrs": [5e-05], "last_epoch": 6, "lr_lambdas": [_laughs(40)]}, p)},
        "scheduler.pt payload": {"scheduler.pt": lambda p: save_zip(
            RunsCode(os.system, "true"), p)},
        "scheduler.pt a list": {"scheduler.pt": lambda p: save_zip([1, 2], p)},
        "scheduler.pt last_epoch a string": {"scheduler.pt": lambda p: save_zip(
            {"base_lrs": [5e-05], "last_epoch": "6", "_last_lr": [1e-5],
             "lr_lambdas": [None]}, p)},
        "optimizer.pt param_groups a dict": {"optimizer.pt": lambda p: save_zip(
            {"state": {}, "param_groups": {"lr": 1}}, p)},
        "optimizer.pt empty file": {"optimizer.pt": b""},
        "pytorch_model.bin instead, a payload": {
            "model.safetensors": lambda p: None,
            "pytorch_model.bin": lambda p: save_zip(RunsCode(os.system, "true"), p)},
    }
    for name, files in fixed.items():
        yield Case("hf", name, "hf", folder_with(files))
    for i in range(count):
        tree, what = mutate(state, rng)
        data = json.dumps(tree, default=repr).encode()
        yield Case("hf", f"trainer_state.json {what} #{i}", "hf",
                   folder_with({"trainer_state.json": data}))


def special_cases() -> Iterator[Case]:
    def fifo(d: Path) -> Path:
        os.mkfifo(d / "fifo.pt")
        return d / "fifo.pt"

    def sock(d: Path) -> Path:
        s = socket.socket(socket.AF_UNIX)
        s.bind(str(d / "sock.pt"))
        s.close()
        return d / "sock.pt"

    def link(target: str) -> Callable[[Path], Path]:
        def make(d: Path) -> Path:
            (d / "link.pt").symlink_to(target)
            return d / "link.pt"
        return make

    yield Case("special", "a FIFO", "", fifo)
    yield Case("special", "/dev/zero", "", lambda d: Path("/dev/zero"))
    yield Case("special", "/dev/null", "", lambda d: Path("/dev/null"))
    yield Case("special", "a link to /dev/zero", "", link("/dev/zero"))
    yield Case("special", "a UNIX socket", "", sock)
    yield Case("special", "a link to itself", "", link("link.pt"))
    yield Case("special", "a dangling link", "", link("missing.pt"))
    yield Case("special", "a plain folder", "", lambda d: d)
    yield Case("special", "an empty file", "", lambda d: write_file(d / "empty.pt", b""))
    yield Case("special", "a text file", "", lambda d: write_file(d / "notes.pt", b"hello\n"))
    yield Case("special", "a text file of escapes", "",
               lambda d: write_file(d / "esc.pt", b"\x1b]52;c;ZXZpbA==\x07\n"))
    yield Case("special", "one byte 0x80", "", lambda d: write_file(d / "one.pt", b"\x80"))
    yield Case("special", "a zip magic alone", "", lambda d: write_file(d / "magic.pt",
                                                                   b"PK\x03\x04"))
    yield Case("special", "random 4 KB", "", lambda d: write_file(
        d / "random.pt", random.Random(4).randbytes(4096)))
