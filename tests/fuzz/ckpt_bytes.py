"""Bytes of torch checkpoints made by hand: pickle opcodes (protocol 2, as torch.save writes
data.pkl), zip archives and their headers patched in place, legacy (non-zip) files."""

from __future__ import annotations

import pickle
import struct
import zipfile
from pathlib import Path

PROTO = b"\x80\x02"
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


def s(text: str) -> bytes:
    raw = text.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def g(module: str, name: str) -> bytes:
    return b"c" + f"{module}\n{name}\n".encode()


def call1(func: bytes, arg: bytes) -> bytes:
    return func + arg + b"\x85R"


def storage(key: str = "0", numel: int = 1, kind: str = "FloatStorage") -> bytes:
    return (b"(" + s("storage") + g("torch", kind) + s(key) + s("cpu")
            + b"J" + struct.pack("<i", numel) + b"tQ")


def tensor_call(numel: int = 1, shape: bytes = b"K\x01\x85", stride: bytes = b"K\x01\x85",
                key: str = "0") -> bytes:
    """`_rebuild_tensor_v2(storage, 0, shape, stride, False, OrderedDict())`."""
    return (g("torch._utils", "_rebuild_tensor_v2") + b"(" + storage(key, numel) + b"K\x00"
            + shape + stride + b"\x89" + g("collections", "OrderedDict") + b")Rt" + b"R")


def zip_entries(path: Path) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(path) as zf:
        return [(i.filename, zf.read(i)) for i in zf.infolist()]


def write_zip(path: Path, entries: list[tuple[str, bytes]], method: int = zipfile.ZIP_STORED,
              ) -> Path:
    with zipfile.ZipFile(path, "w", compression=method) as zf:
        for name, data in entries:
            zf.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), data,
                        compress_type=method)
    return path


def with_record(entries: list[tuple[str, bytes]], suffix: str, data: bytes | None,
                ) -> list[tuple[str, bytes]]:
    """`entries` with the record ending in `suffix` replaced by `data` (dropped for None)."""
    return [(n, data if n.endswith(suffix) else d) for n, d in entries
            if not (data is None and n.endswith(suffix))]


def central_entries(raw: bytes) -> dict[str, int]:
    """name -> position of its central directory header."""
    eocd = raw.rfind(b"PK\x05\x06")
    (pos,) = struct.unpack_from("<I", raw, eocd + 16)
    out = {}
    while raw[pos:pos + 4] == b"PK\x01\x02":
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", raw, pos + 28)
        out[raw[pos + 46:pos + 46 + name_len].decode("utf-8", "replace")] = pos
        pos += 46 + name_len + extra_len + comment_len
    return out


def patch_central(raw: bytes, suffix: str, **fields: int) -> bytes:
    """The central header of the entry ending in `suffix` with fields changed: offset, size,
    csize, flags, method, extra_len."""
    out = bytearray(raw)
    pos = next(p for n, p in central_entries(raw).items() if n.endswith(suffix))
    layout = {"flags": (8, "<H"), "method": (10, "<H"), "crc": (16, "<I"), "csize": (20, "<I"),
              "size": (24, "<I"), "extra_len": (30, "<H"), "offset": (42, "<I")}
    for name, value in fields.items():
        at, fmt = layout[name]
        struct.pack_into(fmt, out, pos + at, value)
    return bytes(out)


def patch_local(raw: bytes, suffix: str, **fields: int) -> bytes:
    out = bytearray(raw)
    pos = next(p for n, p in central_entries(raw).items() if n.endswith(suffix))
    (offset,) = struct.unpack_from("<I", raw, pos + 42)
    layout = {"name_len": (26, "<H"), "extra_len": (28, "<H"), "method": (8, "<H")}
    for name, value in fields.items():
        at, fmt = layout[name]
        struct.pack_into(fmt, out, offset + at, value)
    return bytes(out)


def patch_eocd(raw: bytes, **fields: int) -> bytes:
    out = bytearray(raw)
    eocd = raw.rfind(b"PK\x05\x06")
    layout = {"disk_entries": (8, "<H"), "entries": (10, "<H"), "cd_size": (12, "<I"),
              "cd_offset": (16, "<I"), "comment_len": (20, "<H")}
    for name, value in fields.items():
        at, fmt = layout[name]
        struct.pack_into(fmt, out, eocd + at, value)
    return bytes(out)


def pickle_region(path: Path) -> tuple[int, int]:
    """(start, length) of data.pkl's bytes inside a torch zip."""
    with zipfile.ZipFile(path) as zf:
        info = next(i for i in zf.infolist() if i.filename.endswith("/data.pkl"))
    raw = path.read_bytes()
    name_len, extra_len = struct.unpack_from("<HH", raw, info.header_offset + 26)
    return info.header_offset + 30 + name_len + extra_len, info.file_size


def legacy_stream(*pickles: bytes) -> bytes:
    """A legacy torch file: magic, protocol version, sys_info, then the given pickles."""
    head = (pickle.dumps(LEGACY_MAGIC, protocol=2) + pickle.dumps(1001, protocol=2)
            + pickle.dumps({"protocol_version": 1001, "little_endian": True,
                            "type_sizes": {"short": 2, "int": 4, "long": 4}}, protocol=2))
    return head + b"".join(pickles)




def write_file(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
