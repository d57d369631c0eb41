"""Write an edited checkpoint atomically: a partial file in the output folder, fsync, publish.

The input is never modified: an output that is the input, or a hard link to it (timm's
`model_best.pth.tar`), is refused unless `in_place=True`, which first keeps a backup copy. A
new output never replaces a file: a name another process took since the check fails in one line,
or, where a free name was asked for, the next free one is taken. An in-place edit of a symlink
edits the file the link points to (the link stays) and keeps the backup beside that file.
"""

from __future__ import annotations

import errno
import itertools
import os
from collections.abc import Iterator
from pathlib import Path

from runwatch.atomic import copy_atomic, partial_file, remove_stale_partials
from runwatch.ckpt_tools import pickled, zipfmt
from runwatch.ckpt_tools.load import LoadedCheckpoint
from runwatch.errors import RunwatchError


def check_output_path(src: Path, out: Path, in_place: bool = False, free: bool = False) -> None:
    """Refuse an output that would write through the input (same file or same inode), or that
    exists (unless `free`: a free name chosen earlier, which the write moves on from)."""
    if out.is_dir():
        raise RunwatchError(f"-o {out} is a directory: name the output file, e.g. {out}/edited.pt")
    if not out.parent.is_dir():
        raise RunwatchError(f"-o {out}: folder {out.parent} does not exist: create it first")
    same = out.exists() and os.path.samefile(src, out)
    if same and not in_place:
        what = "the input" if out.resolve() == src.resolve() else "a hard link to the input"
        raise RunwatchError(f"-o {out} is {what}: writing it would change the input; choose a "
                            "new file, or pass --in-place (keeps a backup)")
    if not same and not free and os.path.lexists(out):
        raise RunwatchError(f"-o {out} already exists: choose a new file name")


def free_names(folder: Path, stem: str, suffix: str) -> Iterator[Path]:
    """`folder/stem+suffix`, then `stem-2`, `stem-3`, ...: each one not taken when reached."""
    for n in itertools.count(1):
        candidate = folder / (f"{stem}{suffix}" if n == 1 else f"{stem}-{n}{suffix}")
        if not os.path.lexists(candidate):  # a dangling link is taken too
            yield candidate


def free_name(folder: Path, stem: str, suffix: str) -> Path:
    """A name not taken now. Another process may take it before the write: publish it with
    `fallbacks=names_after(name)`."""
    return next(free_names(folder, stem, suffix))


def names_after(path: Path) -> Iterator[Path]:
    """The free names to try when `path`, free when chosen, is taken at the publish."""
    return free_names(path.parent, path.stem, path.suffix)


def backup_names(src: Path) -> Iterator[Path]:
    """Free names next to `src` for the kept original: `src.bak`, `src.bak1`, ..."""
    for n in itertools.count():
        candidate = src.with_name(f"{src.name}.bak{n or ''}")
        if not os.path.lexists(candidate):
            yield candidate


def keep_backup(src: Path) -> Path:
    """Copy `src` to a free backup name (never replacing a file); returns that name."""
    names = backup_names(src)
    first = next(names)
    try:
        return copy_atomic(src, first, fallbacks=names)
    except OSError as exc:
        raise RunwatchError(f"cannot keep the backup {first} ({exc.strerror}): make "
                            f"{src.parent} writable, or write a new file with -o") from None


def write_checkpoint(loaded: LoadedCheckpoint, obj: object, out: Path, in_place: bool = False,
                     free: bool = False) -> Path:
    """Write `obj` (the edited tree of `loaded`) to `out`; returns the path written. With
    `free` (`out` was a free name when chosen) a name taken since moves on to the next free
    one (`names_after`); else a taken name is an error, never replaced."""
    check_output_path(loaded.path, out, in_place, free)
    target = out.resolve() if in_place and out.is_symlink() else out  # never the link
    remove_stale_partials(target.parent)
    # The publish gives `target` a new inode: another hard link keeps the old bytes.
    backup = keep_backup(target) if in_place else None
    try:
        with partial_file(target) as partial:
            if loaded.container == "zip":
                zipfmt.rewrite_archive(loaded.archive, pickled.dumps_torch(obj), partial.file)
            else:
                _torch_save(obj, partial.file)
            return partial.publish(target, replace=in_place,
                                   fallbacks=names_after(out) if free else ())
    except OSError as exc:  # a full disk, a quota, an I/O error: the partial file is gone
        if backup is not None:  # the input is untouched: its copy is not needed
            backup.unlink(missing_ok=True)
        raise RunwatchError(f"cannot write {out} ({exc.strerror or exc}): nothing was written "
                            f"and {loaded.path} is unchanged; {_space_hint(exc, out)}") from None


def _space_hint(exc: OSError, out: Path) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"free space on the file system of {out.parent}, or write elsewhere with -o"
    return "check the output folder and the disk"


def _torch_save(obj: object, f: object) -> None:
    # Legacy inputs were loaded by torch (real tensors); they are written back as a zip.
    import torch

    try:
        torch.save(obj, f)
    except RuntimeError as exc:  # torch's writer wraps the file's own error (a full disk)
        if isinstance(exc.__context__, OSError):
            raise exc.__context__ from None
        raise
