"""Torch's zip checkpoint format, read and rewritten without torch.

`torch.save` writes a zip of stored (uncompressed) records `<archive>/data.pkl`,
`<archive>/data/<key>` (one per storage) and a few small ones, each preceded by a local header
whose "FB" extra field pads the data to a multiple of `.storage_alignment` bytes (64), followed by
a data descriptor. `rewrite_archive` replaces only data.pkl and copies every other record's bytes
through a fixed-size buffer, checking each CRC on the way, re-padding to the same alignment rule
(PyTorchStreamWriter's `getPadding`), so torch.load (mmap too) reads the result.
"""

from __future__ import annotations

import os
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from runwatch.ckpt_tools import zipcheck
from runwatch.errors import RunwatchError

CHUNK = 4 << 20
LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")
CENTRAL_HEADER = struct.Struct("<4sHHHHHHIIIHHHHHII")
END_RECORD = struct.Struct("<4sHHHHIIH")
DESCRIPTOR = struct.Struct("<4sIII")
FLAGS = 0x0808  # data descriptor follows the data; names are UTF-8 (as torch writes)
ZIP32_LIMIT = 0xFFFFFFFF


@dataclass(frozen=True)
class Archive:
    """A torch zip checkpoint: its records and where data.pkl is."""

    path: Path
    prefix: str  # the archive's top folder, e.g. "archive/"
    infos: list[zipfile.ZipInfo]
    alignment: int

    @property
    def pickle_name(self) -> str:
        return self.prefix + "data.pkl"


def is_zip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == b"PK\x03\x04"


def open_archive(path: Path) -> Archive:
    """Index a torch zip checkpoint; RunwatchError when it is not one, is truncated, or holds
    anything torch.save does not write (`zipcheck`)."""
    size = os.stat(path).st_size
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            for info in infos:
                if info.compress_type != zipfile.ZIP_STORED:
                    raise RunwatchError(f"{path}: record {info.filename!r} is compressed; torch "
                                        "never writes that: re-save the checkpoint with "
                                        "torch.save")
            prefix, alignment = zipcheck.check_layout(path, zf, size)
    except UnicodeDecodeError:
        raise RunwatchError(f"{path}: an entry name is not valid UTF-8, which torch never "
                            "writes: the file is damaged or crafted") from None
    except (zipfile.BadZipFile, NotImplementedError, OSError, EOFError) as exc:
        raise RunwatchError(
            f"{path}: damaged zip archive ({exc}); the file is truncated or corrupt: "
            "use another checkpoint"
        ) from None
    return Archive(Path(path), prefix, infos, alignment)


def read_record(archive: Archive, name: str) -> bytes:
    """One record's bytes, its CRC checked."""
    try:
        with zipfile.ZipFile(archive.path) as zf:
            return zf.read(name)
    except (zipfile.BadZipFile, OSError, RuntimeError, ValueError, EOFError,
            NotImplementedError) as exc:  # what zipfile raises on a damaged record
        raise RunwatchError(f"{archive.path}: record {name} is damaged "
                            f"({exc}); use another checkpoint") from None


SCALAR_FORMATS = {"float32": "<f", "float64": "<d", "float16": "<e", "int64": "<q",
                  "int32": "<i", "uint8": "<B", "bool": "<?"}


def read_scalar(archive: Archive, tensor: object) -> float | None:
    """The value of a one-element tensor placeholder (None for other dtypes or shapes)."""
    fmt = SCALAR_FORMATS.get(tensor.dtype)
    if fmt is None or tensor.numel != 1:
        return None
    raw = read_record(archive, f"{archive.prefix}data/{tensor.storage.key}")
    start = tensor.offset * struct.calcsize(fmt)
    return float(struct.unpack_from(fmt, raw, start)[0])


def check_crcs(archive: Archive) -> list[str]:
    """Names of records whose bytes do not match their CRC (streamed, constant memory)."""
    bad = []
    buffer = bytearray(CHUNK)
    with open(archive.path, "rb", buffering=0) as f:
        for info in archive.infos:
            if _record_crc(f, info, buffer) != info.CRC:
                bad.append(info.filename)
    return bad


def _data_offset(f: BinaryIO, info: zipfile.ZipInfo) -> int:
    f.seek(info.header_offset)
    header = f.read(LOCAL_HEADER.size)
    if len(header) < LOCAL_HEADER.size or header[:4] != b"PK\x03\x04":
        raise RunwatchError(f"record {info.filename}: bad local header; the file is damaged")
    *_, name_len, extra_len = LOCAL_HEADER.unpack(header)
    return info.header_offset + LOCAL_HEADER.size + name_len + extra_len


def _record_crc(src: BinaryIO, info: zipfile.ZipInfo, buffer: bytearray | None = None) -> int:
    """CRC-32 of one record's data, read through one reused buffer (memory stays flat)."""
    src.seek(_data_offset(src, info))
    view = memoryview(buffer if buffer is not None else bytearray(CHUNK))
    crc, left = 0, info.file_size
    while left:
        n = src.readinto(view[:min(len(view), left)])
        if not n:
            raise RunwatchError(f"record {info.filename} is truncated; the file is damaged")
        crc = zlib.crc32(view[:n], crc)
        left -= n
    return crc


def _copy_bytes(src: BinaryIO, offset: int, size: int, dst: BinaryIO,
                buffer: bytearray) -> None:
    """Append `size` bytes of `src` from `offset` to `dst`: inside the kernel where it can
    (copy_file_range: no pass through Python's memory), else through `buffer`."""
    dst.flush()
    start, done = dst.tell(), 0
    try:
        while done < size:
            n = os.copy_file_range(src.fileno(), dst.fileno(), size - done,
                                   offset + done, start + done)
            if n == 0:
                break
            done += n
    except OSError:  # a file system or kernel without it: copy in user space
        pass
    dst.seek(start + done)
    src.seek(offset + done)
    view = memoryview(buffer)
    while done < size:
        n = src.readinto(view[:min(len(view), size - done)])
        if not n:
            raise RunwatchError("a record is truncated; the file is damaged")
        dst.write(view[:n])
        done += n


def _padding(cursor: int, name_len: int, alignment: int) -> bytes:
    """The "FB" extra field torch adds so the record's data starts aligned."""
    start = cursor + LOCAL_HEADER.size + name_len + 4
    pad = (-start) % alignment
    return b"FB" + struct.pack("<H", pad) + b"Z" * pad


def _write_local(dst: BinaryIO, name: bytes, alignment: int) -> None:
    extra = _padding(dst.tell(), len(name), alignment)
    dst.write(LOCAL_HEADER.pack(b"PK\x03\x04", 0, FLAGS, 0, 0, 0, 0, 0, 0, len(name),
                                len(extra)))
    dst.write(name)
    dst.write(extra)


def rewrite_archive(archive: Archive, new_pickle: bytes, dst: BinaryIO) -> None:
    """Write `archive` to `dst` with data.pkl replaced; every other record copied verbatim.

    Raises RunwatchError when a source record fails its CRC (nothing valid is produced).
    """
    central = []
    buffer = bytearray(CHUNK)
    with open(archive.path, "rb", buffering=0) as src:
        for info in archive.infos:
            name = info.filename.encode("utf-8")
            offset = dst.tell()
            _write_local(dst, name, archive.alignment)
            if info.filename == archive.pickle_name:
                crc, size = zlib.crc32(new_pickle), len(new_pickle)
                dst.write(new_pickle)
            else:
                crc, size = _record_crc(src, info, buffer), info.file_size
                if crc != info.CRC:
                    raise RunwatchError(
                        f"{archive.path}: record {info.filename} fails its CRC check (the "
                        "file is corrupt); nothing was written: use another checkpoint"
                    )
                _copy_bytes(src, _data_offset(src, info), size, dst, buffer)
            dst.write(DESCRIPTOR.pack(b"PK\x07\x08", crc, size, size))
            if dst.tell() > ZIP32_LIMIT:
                raise RunwatchError("checkpoints over 4 GiB are not supported yet by ckpt edit")
            central.append(CENTRAL_HEADER.pack(
                b"PK\x01\x02", 0, 0, FLAGS, 0, 0, 0, crc, size, size, len(name), 0, 0, 0, 0, 0,
                offset) + name)
    start = dst.tell()
    for entry in central:
        dst.write(entry)
    size = dst.tell() - start
    dst.write(END_RECORD.pack(b"PK\x05\x06", 0, 0, len(central), len(central), size, start, 0))
