"""Write an edited checkpoint atomically: temp file in the output folder, fsync, rename.

The input is never modified: an output that is the input, or a hard link to it (timm's
`model_best.pth.tar`), is refused unless `in_place=True`, which first keeps a backup copy.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ckpt_tools import pickled, zipfmt
from ckpt_tools.load import LoadedCheckpoint
from trainer.atomic import atomic_writer
from trainer.errors import RunwatchError


def check_output_path(src: Path, out: Path, in_place: bool = False) -> None:
    """Refuse an output that would write through the input (same file or same inode)."""
    if out.is_dir():
        raise RunwatchError(f"-o {out} is a directory: name the output file, e.g. {out}/edited.pt")
    if not out.parent.is_dir():
        raise RunwatchError(f"-o {out}: folder {out.parent} does not exist: create it first")
    same = out.exists() and os.path.samefile(src, out)
    if same and not in_place:
        what = "the input" if out.resolve() == src.resolve() else "a hard link to the input"
        raise RunwatchError(f"-o {out} is {what}: writing it would change the input; choose a "
                            "new file, or pass --in-place (keeps a backup)")
    if out.exists() and not same:
        raise RunwatchError(f"-o {out} already exists: choose a new file name")


def free_name(folder: Path, stem: str, suffix: str) -> Path:
    """`folder/stem+suffix`, else `stem-2`, `stem-3`, ...: a new file never replaces one."""
    n = 1
    candidate = folder / f"{stem}{suffix}"
    while candidate.exists():
        n += 1
        candidate = folder / f"{stem}-{n}{suffix}"
    return candidate


def backup_path(src: Path) -> Path:
    """A free name next to `src` for the kept original."""
    n = 0
    while True:
        candidate = src.with_name(f"{src.name}.bak{n or ''}")
        if not candidate.exists():
            return candidate
        n += 1


def write_checkpoint(loaded: LoadedCheckpoint, obj: object, out: Path,
                     in_place: bool = False) -> Path:
    """Write `obj` (the edited tree of `loaded`) to `out`; returns `out`."""
    check_output_path(loaded.path, out, in_place)
    if in_place and out.exists():
        # The rename below gives `out` a new inode: another hard link keeps the old bytes.
        backup = backup_path(out)
        try:
            shutil.copy2(out, backup)
        except OSError as exc:
            backup.unlink(missing_ok=True)
            raise RunwatchError(f"cannot keep the backup {backup} ({exc.strerror}): make "
                                f"{out.parent} writable, or write a new file with -o") from None
    with atomic_writer(out) as f:
        if loaded.container == "zip":
            zipfmt.rewrite_archive(loaded.archive, pickled.dumps_torch(obj), f)
        else:
            _torch_save(obj, f)
    return out


def _torch_save(obj: object, f: object) -> None:
    # Legacy inputs were loaded by torch (real tensors); they are written back as a zip.
    import torch

    torch.save(obj, f)
