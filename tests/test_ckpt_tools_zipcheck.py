"""Hostile torch zips: real torch.save files with entries, records or headers changed.

Each one is refused by `ckpt inspect` and `ckpt edit` with one line (exit status 2) and never
written; `runwatch train --resume-from` refuses the bad `.storage_alignment` ones the same way.
Files torch loads are still edited, and every output loads with torch.load(weights_only=True).
"""

from __future__ import annotations

import argparse
import struct
import warnings
import zipfile
from pathlib import Path

import pytest
import torch
from ckpt_builders import torchvision_checkpoint

from runwatch.ckpt_tools.pickled import dumps_torch, loads_restricted
from runwatch.cli import main
from runwatch.errors import RunwatchError
from runwatch.trainer import checkpoint as trainer_checkpoint

P = "base/"  # the top folder torch.save gives base.pth


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    return torchvision_checkpoint(tmp_path_factory.mktemp("base") / "base.pth", 30)


def _entries(path: Path) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(path) as zf:
        return [(i.filename, zf.read(i)) for i in zf.infolist()]


def _rezip(path: Path, entries: list[tuple[str, bytes]],
           patches: tuple[tuple[bytes, bytes], ...] = ()) -> Path:
    """A stored zip of `entries`; then each (placeholder, hostile) name patched in the raw bytes
    (zipfile cannot write a NUL or invalid UTF-8 in a name)."""
    with zipfile.ZipFile(path, "w") as zf, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Duplicate name": one case wants it
        for name, data in entries:
            zf.writestr(name, data)
    raw = path.read_bytes()
    for old, new in patches:
        assert len(old) == len(new) and raw.count(old) == 2  # local and central header
        raw = raw.replace(old, new)
    path.write_bytes(raw)
    return path


def _replace(entries, name, data):
    return [(n, data if n == name else d) for n, d in entries]


class _RawTensor:
    """Pickles as a tensor rebuild call with any arguments (TensorRef refuses bad ones)."""

    def __init__(self, rebuild, args) -> None:
        self.rebuild, self.args = rebuild, args

    def __reduce__(self):
        return (self.rebuild, self.args)


def _tensor_args(entries, change) -> list[tuple[str, bytes]]:
    """data.pkl re-pickled with the first weight's rebuild arguments changed by `change`."""
    tree = loads_restricted(dict(entries)[P + "data.pkl"])
    weight = tree["model"]["0.weight"]
    tree["model"]["0.weight"] = _RawTensor(weight.rebuild, change(weight.args))
    return _replace(entries, P + "data.pkl", dumps_torch(tree))


# name -> (entries of base.pth -> entries, name patches, a fragment of the one-line error)
HOSTILE_ENTRIES = {
    "parent-folder entry": (lambda e: [*e, ("../x", b"x")], (), "'../x'"),
    "absolute entry": (lambda e: [*e, ("/etc/x", b"x")], (), "'/etc/x'"),
    "backslash entry": (lambda e: [*e, (P + "data\\0", b"x")], (), r"'base/data\\0'"),
    "NUL in a name, read as data.pkl twice":
        (lambda e: [*e, (P + "zzzzzzzzzzzzz", b"x")],
         ((b"base/zzzzzzzzzzzzz", b"base/data.pkl\0evil"),), r"'base/data.pkl\x00evil'"),
    "invalid UTF-8 name":
        (lambda e: [*e, (P + "\u00e9xx", b"x")], ((b"base/\xc3\xa9xx", b"base/\xff\xfexx"),),
         "not valid UTF-8"),
    "second top folder": (lambda e: [*e, ("other/data/0", b"x")], (), "'other/data/0'"),
    "unknown record": (lambda e: [*e, (P + "extra.py", b"x")], (), "'base/extra.py'"),
    "TorchScript constants.pkl": (lambda e: [*e, (P + "constants.pkl", b"x")], (),
                                  "'base/constants.pkl'"),
    "folder entry": (lambda e: [*e, (P + "data/", b"")], (), "'base/data/'"),
    "escape sequence in the folder":
        (lambda e: [("a\x1b[31m/" + n[len(P):], d) for n, d in e], (), r"'a\x1b[31m/"),
    "duplicate record": (lambda e: [*e, e[4]], (), "appears twice"),
    "short tensor record": (lambda e: _replace(e, P + "data/0", dict(e)[P + "data/0"][:-4]), (),
                            "holds 124 bytes; its storage needs 128 (32 x float32)"),
    "long tensor record": (lambda e: _replace(e, P + "data/0", dict(e)[P + "data/0"] + b"1234"),
                           (), "holds 132 bytes; its storage needs 128"),
    "missing tensor record": (lambda e: [x for x in e if x[0] != P + "data/1"], (),
                              "has no record 'base/data/1'"),
    "tensor past its storage": (lambda e: _tensor_args(e, lambda a: (a[0], 30, *a[2:])), (),
                                "shape [8, 4] reads past its storage data/0 (32 elements)"),
    "malformed tensor shape": (lambda e: _tensor_args(e, lambda a: (a[0], a[1], "8x4", a[3],
                                                                    *a[4:])), (),
                               "_rebuild_tensor_v2 call with arguments torch never writes"),
    "alignment abc": (lambda e: _replace(e, P + ".storage_alignment", b"abc"), (),
                      ".storage_alignment is b'abc', not a number"),
    "alignment 0": (lambda e: _replace(e, P + ".storage_alignment", b"0"), (),
                    ".storage_alignment is 0; torch writes a power of two"),
    "alignment -64": (lambda e: _replace(e, P + ".storage_alignment", b"-64"), (),
                      "is b'-64', not a number"),
    "alignment 100000": (lambda e: _replace(e, P + ".storage_alignment", b"100000"), (),
                         "is 100000; torch writes a power of two up to 4096"),
    "alignment 48": (lambda e: _replace(e, P + ".storage_alignment", b"48"), (),
                     "is 48; torch writes a power of two"),
    "alignment empty": (lambda e: _replace(e, P + ".storage_alignment", b""), (),
                        "is b'', not a number"),
    "alignment 1 MB of digits": (lambda e: _replace(e, P + ".storage_alignment", b"6" * 2**20),
                                 (), "is 1048576 bytes; torch writes a few"),
    "version abc": (lambda e: _replace(e, P + "version", b"abc\n"), (), "not a number"),
    "version 0": (lambda e: _replace(e, P + "version", b"0\n"), (), "format version 0"),
    "version 99": (lambda e: _replace(e, P + "version", b"99\n"), (), "format version 99"),
    "no version record": (lambda e: [x for x in e if x[0] != P + "version"], (),
                          "no base/version record"),
    "byteorder x": (lambda e: _replace(e, P + "byteorder", b"x"), (), "byteorder is b'x'"),
}

# Raw byte changes to torch's own file: name -> (bytes -> bytes, fragment of the error).
HOSTILE_BYTES = {
    "header offset past the end": (lambda raw: _central(raw, P + "data/1", offset=len(raw) + 9),
                                   "claims 32 bytes at offset"),
    "negative header offsets": (lambda raw: _shift_central_directory(raw, 100),
                                "at offset -100, beyond"),
    "data.pkl claims 4 GB": (lambda raw: _central(raw, P + "data.pkl", size=0xFFFFFFF0),
                             "claims 4294967280 bytes"),
    "overlapping records": (lambda raw: _central(raw, P + "data/0", offset=0,
                                                 size=len(raw) - 100), "(they overlap)"),
    "truncated central directory": (lambda raw: raw[:-30], "damaged zip archive"),
    "encrypted data.pkl": (lambda raw: _central_field(raw, P + "data.pkl", 8, "<H", 0x0809),
                           "entry 'base/data.pkl' is encrypted"),
    "local name longer than the central one": (
        lambda raw: _local_field(raw, P + "data.pkl", 26, 0xFFFF),
        "the local header of entry 'base/data.pkl' does not match"),
    "local header of another entry": (
        lambda raw: _central(raw, P + "data/1", offset=_local_offset(raw, P + "data/0")),
        "the local header of entry 'base/data/1' does not match"),
}


def _central_entries(raw: bytes):
    """(name, position) of each central directory header."""
    eocd = raw.rfind(b"PK\x05\x06")
    (pos,) = struct.unpack_from("<I", raw, eocd + 16)
    while raw[pos:pos + 4] == b"PK\x01\x02":
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", raw, pos + 28)
        yield raw[pos + 46:pos + 46 + name_len].decode(), pos
        pos += 46 + name_len + extra_len + comment_len


def _central(raw: bytes, name: str, offset: int | None = None, size: int | None = None) -> bytes:
    out = bytearray(raw)
    pos = dict(_central_entries(raw))[name]
    if size is not None:
        struct.pack_into("<II", out, pos + 20, size, size)
    if offset is not None:
        struct.pack_into("<I", out, pos + 42, offset)
    return bytes(out)


def _central_field(raw: bytes, name: str, at: int, fmt: str, value: int) -> bytes:
    out = bytearray(raw)
    struct.pack_into(fmt, out, dict(_central_entries(raw))[name] + at, value)
    return bytes(out)


def _local_offset(raw: bytes, name: str) -> int:
    return struct.unpack_from("<I", raw, dict(_central_entries(raw))[name] + 42)[0]


def _local_field(raw: bytes, name: str, at: int, value: int) -> bytes:
    out = bytearray(raw)
    struct.pack_into("<H", out, _local_offset(raw, name) + at, value)
    return bytes(out)


def _shift_central_directory(raw: bytes, by: int) -> bytes:
    """Both end records claim the central directory `by` bytes later than it is: zipfile then
    moves every header offset `by` bytes back, the first one below 0."""
    out = bytearray(raw)
    eocd, eocd64 = raw.rfind(b"PK\x05\x06"), raw.rfind(b"PK\x06\x06")
    struct.pack_into("<I", out, eocd + 16, struct.unpack_from("<I", raw, eocd + 16)[0] + by)
    struct.pack_into("<Q", out, eocd64 + 48, struct.unpack_from("<Q", raw, eocd64 + 48)[0] + by)
    return bytes(out)


@pytest.fixture(scope="module")
def hostile(base, tmp_path_factory) -> dict[str, tuple[Path, str]]:
    folder = tmp_path_factory.mktemp("hostile")
    files = {}
    for i, (kind, (change, patches, fragment)) in enumerate(HOSTILE_ENTRIES.items()):
        files[kind] = (_rezip(folder / f"h{i}.pth", change(_entries(base)), patches), fragment)
    for i, (kind, (change, fragment)) in enumerate(HOSTILE_BYTES.items()):
        path = folder / f"b{i}.pth"
        path.write_bytes(change(base.read_bytes()))
        files[kind] = (path, fragment)
    return files


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("runwatch: error: "), err
    assert "\x1b" not in lines[0]  # names from the file are escaped, never raw
    return lines[0]


KINDS = [*HOSTILE_ENTRIES, *HOSTILE_BYTES]


@pytest.mark.parametrize("kind", KINDS)
def test_hostile_zip_is_refused_by_inspect_in_one_line(hostile, kind, capsys):
    path, fragment = hostile[kind]
    assert main(["ckpt", "inspect", str(path)]) == 2
    assert fragment in _one_line_error(capsys)


@pytest.mark.parametrize("kind", KINDS)
def test_hostile_zip_is_never_written_by_edit(hostile, kind, tmp_path, capsys):
    path, fragment = hostile[kind]
    out = tmp_path / "out.pth"
    assert main(["ckpt", "edit", str(path), "-o", str(out), "--t0", "50", "--yes"]) == 2
    assert fragment in _one_line_error(capsys)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind", [k for k in KINDS if k.startswith("alignment")])
def test_the_trainer_refuses_a_bad_alignment_in_one_line(hostile, kind):
    # `runwatch train --resume-from` checks CRCs through ckpt_tools' zip reader first.
    path, fragment = hostile[kind]
    with pytest.raises(RunwatchError, match=r"\.storage_alignment is ") as err:
        trainer_checkpoint.load_checkpoint(path)
    assert fragment in str(err.value) and "\n" not in str(err.value)


def _torch_loads(path: Path) -> dict:
    with torch.serialization.safe_globals([argparse.Namespace]):
        return torch.load(path, map_location="cpu", weights_only=True)


def _rich(folder: Path, base: Path) -> Path:
    """base.pth plus tensors that share, view, hold nothing, are bf16 or a Parameter."""
    tree = _torch_loads(base)
    weight = tree["model"]["0.weight"]
    tree["extra"] = {"view": weight[1:3, 1:], "same": weight, "empty": torch.zeros(0, 3),
                     "bf16": torch.ones(3, dtype=torch.bfloat16),
                     "param": torch.nn.Parameter(torch.ones(2)), "shared": [weight, weight]}
    path = folder / "rich.pth"
    torch.save(tree, path)
    return path


# Files torch loads (what torch writes, and what other zip writers do with it): edited.
TOLERATED = {
    "torch's own file": lambda f, b: b,
    "views, empties, bf16, a Parameter": _rich,
    "no byteorder, format_version or serialization_id": lambda f, b: _rezip(
        f / "optional.pth", [x for x in _entries(b) if x[0] not in
                             (P + "byteorder", P + ".format_version",
                              P + ".data/serialization_id")]),
    ".data/version instead of version": lambda f, b: _rezip(
        f / "dataversion.pth", [(P + ".data/version" if n == P + "version" else n, d)
                                for n, d in _entries(b)]),
    "alignment 4096, records in another order": lambda f, b: _rezip(
        f / "align.pth", _replace(_entries(b)[::-1], P + ".storage_alignment", b"4096")),
    "alignment 1, unaligned records": lambda f, b: _rezip(
        f / "align1.pth", _replace(_entries(b), P + ".storage_alignment", b"1")),
}


@pytest.mark.parametrize("kind", TOLERATED)
def test_every_output_edit_writes_loads_in_torch_weights_only(base, tmp_path, kind, capsys):
    source = TOLERATED[kind](tmp_path, base)
    want = _torch_loads(source)
    out = tmp_path / "edited.pth"
    assert main(["ckpt", "edit", str(source), "-o", str(out), "--t0", "50", "--yes"]) == 0
    got = _torch_loads(out)
    assert got["lr_scheduler"]["T_0"] == 50
    for name, tensor in want["model"].items():
        assert torch.equal(got["model"][name], tensor)
    if "extra" in want:
        extra = got["extra"]
        assert torch.equal(extra["view"], want["extra"]["view"])
        assert extra["same"].untyped_storage().data_ptr() == \
            got["model"]["0.weight"].untyped_storage().data_ptr()  # still one storage
        assert extra["bf16"].dtype == torch.bfloat16 and extra["empty"].shape == (0, 3)
        assert isinstance(extra["param"], torch.nn.Parameter)
