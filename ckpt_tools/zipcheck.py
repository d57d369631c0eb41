"""What a torch.save zip may hold, checked before anything is read from it or written from it.

torch 2.14 writes, under one top folder (the file's stem, or `archive`): `data.pkl`,
`.format_version`, `.storage_alignment`, `byteorder`, `data/<n>` (one record per storage),
`version` (older files: `.data/version`) and `.data/serialization_id`. Anything else (another
folder, `../x`, an absolute or backslashed name, a NUL, a duplicate, TorchScript's
`constants.pkl`) is refused naming the entry, as are entries that claim bytes the file does not
hold, and small records torch would choke on. After data.pkl is read, every storage it names
must have its record with exactly the bytes torch's loader expects, and every tensor must lie
inside its storage: otherwise `torch.load` fails on the file, and an edit would write it and
call it verified.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from runwatch.ckpt_tools.placeholders import StorageRef
from runwatch.errors import RunwatchError

if TYPE_CHECKING:
    from runwatch.ckpt_tools.zipfmt import Archive

LOCAL_HEADER_SIZE = 30
ENCRYPTED = 0x0041  # general purpose flag bits: encrypted, strongly encrypted
UTF8 = 0x0800  # general purpose flag bit: the name is UTF-8 (else cp437)
RECORDS = frozenset({"data.pkl", ".format_version", ".storage_alignment", "byteorder", "version",
                     ".data/version", ".data/serialization_id"})
STORAGE_RECORD = re.compile(r"data/[0-9]+")
READABLE_VERSIONS = range(1, 11)  # what torch 2.14's reader accepts
MAX_ALIGNMENT = 4096  # torch writes 64; a page is the most anyone asks for
SMALL_RECORD = 64  # bytes: version, byteorder and alignment are a few characters
LAYOUT = "torch.save writes only ARCHIVE/data.pkl, ARCHIVE/data/N and a few small records"


def check_layout(path: Path, zf: zipfile.ZipFile, size: int) -> tuple[str, int]:
    """The archive's top folder (`prefix/`) and storage alignment; RunwatchError for entries
    torch.save does not write or bytes the `size`-byte file does not hold."""
    infos = zf.infolist()
    prefix = _prefix(path, infos)
    seen = set()
    for info in infos:
        _check_name(path, info, prefix)
        if info.filename in seen:
            raise RunwatchError(f"{path}: entry {info.filename!r} appears twice (a reader may "
                                "take either): the file is damaged or crafted")
        seen.add(info.filename)
    _check_bounds(path, infos, size)
    _check_local_headers(path, infos, size)
    if prefix + "version" not in seen and prefix + ".data/version" not in seen:
        raise RunwatchError(f"{path}: no {prefix}version record (torch.load needs it): the file "
                            "is damaged; use another checkpoint")
    for name in (prefix + "version", prefix + ".data/version"):
        if name in seen:
            version = _number(path, zf, name)
            if version not in READABLE_VERSIONS:
                raise RunwatchError(f"{path}: {name} says format version {version}; torch reads "
                                    "1 to 10: use another checkpoint")
    if prefix + "byteorder" in seen:
        order = _small(path, zf, prefix + "byteorder")
        if order not in (b"little", b"big"):
            raise RunwatchError(f"{path}: {prefix}byteorder is {order!r}, not 'little' or "
                                "'big': the file is damaged or crafted")
    alignment = 64
    if prefix + ".storage_alignment" in seen:
        alignment = _number(path, zf, prefix + ".storage_alignment")
        if not 1 <= alignment <= MAX_ALIGNMENT or alignment & (alignment - 1):
            raise RunwatchError(f"{path}: {prefix}.storage_alignment is {alignment}; torch writes "
                                f"a power of two up to {MAX_ALIGNMENT} (64): the file is damaged "
                                "or crafted")
    return prefix, alignment


def _prefix(path: Path, infos: list[zipfile.ZipInfo]) -> str:
    pkl = [i.filename for i in infos if i.filename.endswith("/data.pkl")
           and i.filename.count("/") == 1]
    if not pkl:
        raise RunwatchError(f"{path}: a zip file but not a torch checkpoint (no "
                            "<archive>/data.pkl)")
    return pkl[0][: -len("data.pkl")]


def _check_name(path: Path, info: zipfile.ZipInfo, prefix: str) -> None:
    # orig_filename: zipfile cuts a name at its first NUL, torch's reader would not.
    name = info.orig_filename
    folder = prefix[:-1]
    if (name != info.filename or not name.startswith(prefix) or folder in ("", ".", "..")
            or "\\" in folder or not folder.isprintable()
            or not (name[len(prefix):] in RECORDS
                    or STORAGE_RECORD.fullmatch(name[len(prefix):]))):
        raise RunwatchError(f"{path}: entry {name!r} is not part of a torch checkpoint ({LAYOUT}"
                            f", in one folder {prefix!r}): refusing the file")


def _check_bounds(path: Path, infos: list[zipfile.ZipInfo], size: int) -> None:
    """Every entry's header and bytes inside the file, and no byte claimed twice: reads and
    copies stay bounded by the file's size, whatever the headers say."""
    total = 0
    for info in infos:
        end = info.header_offset + LOCAL_HEADER_SIZE + info.file_size
        if info.header_offset < 0 or info.compress_size != info.file_size or end > size:
            raise RunwatchError(f"{path}: entry {info.filename!r} claims {info.file_size} bytes "
                                f"at offset {info.header_offset}, beyond the {size}-byte file: "
                                "the file is truncated or damaged; use another checkpoint")
        total += info.file_size
    if total > size:
        raise RunwatchError(f"{path}: the entries claim {total} bytes in a {size}-byte file "
                            "(they overlap): the file is damaged or crafted")


def _check_local_headers(path: Path, infos: list[zipfile.ZipInfo], size: int) -> None:
    """Each entry's local header: a header, unencrypted, naming the entry as the central
    directory does, its data inside the file (a reader seeks by the local header's lengths)."""
    with open(path, "rb") as f:
        for info in infos:
            if info.flag_bits & ENCRYPTED:
                raise RunwatchError(f"{path}: entry {info.orig_filename!r} is encrypted; torch "
                                    "never writes that: the file is damaged or crafted")
            f.seek(info.header_offset)
            header = f.read(LOCAL_HEADER_SIZE)
            name_len, extra_len = int.from_bytes(header[26:28], "little"), \
                int.from_bytes(header[28:30], "little")
            start = info.header_offset + LOCAL_HEADER_SIZE + name_len + extra_len
            local_name = f.read(name_len)
            central_name = info.orig_filename.encode("utf-8" if info.flag_bits & UTF8 else
                                                     "cp437")
            if (header[:4] != b"PK\x03\x04" or local_name != central_name
                    or start + info.file_size > size):
                raise RunwatchError(f"{path}: the local header of entry {info.orig_filename!r} "
                                    "does not match the central directory: the file is damaged "
                                    "or crafted; use another checkpoint")


def _small(path: Path, zf: zipfile.ZipFile, name: str) -> bytes:
    if zf.getinfo(name).file_size > SMALL_RECORD:
        raise RunwatchError(f"{path}: record {name} is {zf.getinfo(name).file_size} bytes; "
                            "torch writes a few: the file is damaged or crafted")
    return zf.read(name)


def _number(path: Path, zf: zipfile.ZipFile, name: str) -> int:
    text = _small(path, zf, name).strip()
    if not text.isdigit():
        raise RunwatchError(f"{path}: record {name} is {text!r}, not a number: the file is "
                            "damaged or crafted")
    return int(text)


def check_tensor_records(archive: Archive, storages: Iterable[StorageRef]) -> None:
    """Refuse a data.pkl whose storages torch could not rebuild from the archive's records (each
    tensor was checked to lie inside its storage when the pickle was read)."""
    sizes = {info.filename: info.file_size for info in archive.infos}
    for storage in storages:
        name = f"{archive.prefix}data/{storage.key}"
        if name not in sizes:
            raise RunwatchError(f"{archive.path}: tensor storage {storage.key!r} has no record "
                                f"{name!r}: the file is incomplete (torch.load would fail); "
                                "use another checkpoint")
        if sizes[name] != storage.nbytes:
            raise RunwatchError(f"{archive.path}: record {name} holds {sizes[name]} bytes; its "
                                f"storage needs {storage.nbytes} ({storage.numel} x "
                                f"{storage.dtype}): the file is damaged (torch.load would "
                                "fail); use another checkpoint")
