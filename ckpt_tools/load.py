"""Open any checkpoint path safely: torch zip, legacy torch file, or a checkpoint folder.

Zip files are read torch-free (`pickled.load_restricted` over data.pkl, every record's CRC
checked). Legacy (pre-1.6, non-zip) files go through torch's weights-only loader with the same
allow-list, after every pickle in them was read with the restricted unpickler (`legacy`).
"""

from __future__ import annotations

import stat
from dataclasses import dataclass, field
from pathlib import Path

from runwatch.ckpt_tools import hf_files, legacy, pickled, zipcheck, zipfmt
from runwatch.errors import RunwatchError

# A checkpoint folder's parts by role: a Hugging Face Trainer checkpoint-N folder
# (optimizer.pt, scheduler.pt, trainer_state.json, training_args.bin) or an Accelerate
# save_state folder (optimizer.bin, scheduler.bin). training_args.bin is read by its layout
# as inert data (ckpt_tools/inert.py), never here.
FOLDER_PARTS = {"optimizer": ("optimizer.pt", "optimizer.bin"),
                "scheduler": ("scheduler.pt", "scheduler.bin"),
                "model": ("model.safetensors", "pytorch_model.bin")}
FOLDER_FILES = ("trainer_state.json", "training_args.bin")
# A running trainer replaces last.pt and best.pt by rename; the archive's index and its records
# are read through several opens, so a read that spans a rename mixes two files. The stamp
# (inode, size, mtime) tells: the read is tried again, a few times.
READ_ATTEMPTS = 3


@dataclass
class LoadedCheckpoint:
    """A checkpoint's object tree (tensors as placeholders) and where it came from."""

    path: Path
    container: str  # "zip", "legacy" or "folder"
    obj: object
    archive: zipfmt.Archive | None = None
    files: dict[str, Path] = field(default_factory=dict)  # folder: file name -> path
    parts: dict[str, LoadedCheckpoint] = field(default_factory=dict)  # folder: role -> file
    stamp: tuple[int, int, int] = ()  # (inode, size, mtime_ns) when loaded: see ensure_unchanged


def file_stamp(p: Path) -> tuple[int, int, int]:
    st = p.stat()
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def ensure_unchanged(loaded: LoadedCheckpoint, stamp: tuple[int, int, int]) -> None:
    """Refuse to act on a file replaced since it was previewed (a running trainer rotates
    `best.pt`, `last.pt` and prunes `epoch-N.pt`): the preview would describe another file."""
    if stamp and loaded.stamp != stamp:
        raise RunwatchError(f"{loaded.path} changed since the preview (a running trainer may "
                            "have replaced it): preview again, or stop the run first")


def load_checkpoint(path: str | Path, check_crc: bool = True) -> LoadedCheckpoint:
    """Load `path` without running any code in it; RunwatchError on anything else.

    `check_crc=False` skips the pass over the tensor records, for callers that stream them
    through a CRC check anyway (the rewrite) or just wrote them (the verification). A file
    replaced while it was read is read again (READ_ATTEMPTS).
    """
    p = Path(path)
    for _ in range(READ_ATTEMPTS - 1):
        before = _stamp_or_none(p)
        try:
            loaded = _load_named(p, check_crc)
        except RunwatchError:
            if _stamp_or_none(p) == before:
                raise
            continue  # replaced while read: the reads mixed two files
        if _stamp_or_none(p) == before:
            loaded.stamp = before or ()
            return loaded
    before = _stamp_or_none(p)  # the last try stands, whatever happens meanwhile
    loaded = _load_named(p, check_crc)
    loaded.stamp = before or ()
    return loaded


def _stamp_or_none(p: Path) -> tuple[int, int, int] | None:
    try:
        return file_stamp(p)
    except OSError:
        return None


def _load_named(p: Path, check_crc: bool) -> LoadedCheckpoint:
    """`_load_any`, every error one line naming `p`."""
    try:
        return _load_any(p, check_crc)
    except RunwatchError as exc:
        if str(p) in str(exc):
            raise
        raise RunwatchError(f"{p}: {exc}") from None
    except OSError as exc:  # unreadable (permissions, a link loop, an I/O error)
        raise RunwatchError(f"cannot read {exc.filename or p} ({exc.strerror or exc}): check "
                            "the path and its permissions") from None


def _load_any(p: Path, check_crc: bool) -> LoadedCheckpoint:
    try:
        mode = p.stat().st_mode
    except FileNotFoundError:
        raise RunwatchError(f"{p}: no such file: check the path") from None
    if stat.S_ISDIR(mode):
        return _load_folder(p)
    if not stat.S_ISREG(mode):  # never opened: a FIFO or a device would be read forever
        raise RunwatchError(f"{p} is not a regular file ({_file_kind(mode)}): pass the "
                            ".pt/.ckpt file torch.save wrote")
    size = p.stat().st_size
    if size == 0:
        raise RunwatchError(f"{p} is empty (0 bytes): the save was interrupted; use another "
                            "checkpoint")
    if zipfmt.is_zip(p):
        archive, obj = load_zip_tree(p, check_crc)
        return LoadedCheckpoint(p, "zip", obj, archive)
    with open(p, "rb") as f:
        head = f.read(min(size, 1 << 16))
    if head[:1] == b"\x80":
        return LoadedCheckpoint(p, "legacy", legacy.load_legacy(p, size))
    if _looks_like_text(head):
        raise RunwatchError(f"{p} is a text file, not a checkpoint: pass the .pt/.ckpt file "
                            "torch.save wrote")
    raise RunwatchError(f"{p} is not a torch checkpoint (neither a zip archive nor a pickle): "
                        "pass the .pt/.ckpt file torch.save wrote")


def _file_kind(mode: int) -> str:
    kinds = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
    return next((name for test, name in kinds if test(mode)), "not a file")


def load_zip_tree(p: Path, check_crc: bool = True) -> tuple[zipfmt.Archive, object]:
    """The archive index and data.pkl's object tree; refuses corrupt, missing or short records
    and entries torch.save does not write."""
    archive = zipfmt.open_archive(p)
    bad = zipfmt.check_crcs(archive) if check_crc else []
    if bad:
        raise RunwatchError(
            f"{p}: {len(bad)} record(s) fail their CRC check ({', '.join(bad[:3])}): the file is "
            "corrupt (torch.load would not notice); use another checkpoint"
        )
    tree, storages = pickled.load_restricted(zipfmt.read_record(archive, archive.pickle_name))
    zipcheck.check_tensor_records(archive, storages.values())
    return archive, tree


def _looks_like_text(head: bytes) -> bool:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(c.isprintable() or c.isspace() for c in text)


def _load_folder(p: Path) -> LoadedCheckpoint:
    """A checkpoint folder: each torch file loaded as a part (`obj[role]` is its tree, the
    part keeps its archive for a rewrite), trainer_state.json as JSON, weights as a summary
    (`hf_files` reads both plain files exactly)."""
    files = {name: p / name for name in FOLDER_FILES if (p / name).is_file()}
    obj: dict = {}
    parts: dict[str, LoadedCheckpoint] = {}
    for role, names in FOLDER_PARTS.items():
        name = next((n for n in names if (p / n).is_file()), None)
        if name is None:
            continue
        files[name] = p / name
        if name.endswith(".safetensors"):
            obj[role] = hf_files.read_safetensors_header(p / name)
        else:
            parts[role] = load_checkpoint(p / name)
            obj[role] = parts[role].obj
    if not ({"optimizer", "scheduler"} & set(parts) or "trainer_state.json" in files):
        raise RunwatchError(f"{p} is a directory, not a checkpoint: pass a .pt/.ckpt file, a "
                            "Hugging Face Trainer checkpoint-N folder or an Accelerate "
                            "save_state folder")
    if "trainer_state.json" in files:
        obj["trainer_state"] = hf_files.read_trainer_state(files["trainer_state.json"])
    return LoadedCheckpoint(p, "folder", obj, files=files, parts=parts)
