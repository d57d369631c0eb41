"""Atomic file writes: a partial file beside the target, fsync, publish, fsync the folder.

At every moment the target name is absent, the old file or the new one, whole. Publishing a new
name never replaces a file another process wrote meanwhile (a hard link, or a rename with
RENAME_NOREPLACE where the file system has no hard links): the loser of a race gets a one-line
error and leaves nothing behind. Only `replace=True` renames over a file: the trainer's own
rotating names, an explicit `--in-place` edit (which keeps a backup), a forced report.

A partial file is named `<target>.runwatch-partial-<host>-<pid>-<hex>`, so a user sees what it
is; a SIGKILL leaves no chance to delete it, so `remove_stale_partials` is the next run's job.
Torch-free, so every part writes through it.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import itertools
import os
import re
import secrets
import shutil
import socket
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from runwatch.errors import RunwatchError

PARTIAL_MARK = ".runwatch-partial-"
_PARTIAL_NAME = re.compile(
    r"(?P<target>.+)\.runwatch-partial-(?P<host>[A-Za-z0-9.-]+)-(?P<pid>\d{1,9})-[0-9a-f]{8}")
# os.link's errors on file systems without hard links (vfat, some FUSE and SMB mounts).
_NO_HARD_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS}
_AT_FDCWD, _RENAME_NOREPLACE = -100, 1


class AlreadyExists(RunwatchError):
    """The name was free when planned, and another process took it before the publish."""


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname())[:40] or "localhost"


class Partial:
    """A new file being written beside its target, under a name that says what it is."""

    def __init__(self, target: Path) -> None:
        self.path = target.with_name(
            f"{target.name}{PARTIAL_MARK}{_host()}-{os.getpid()}-{secrets.token_hex(4)}")
        try:
            # open(..., "xb") rather than mkstemp: the file gets the umask's mode, not 0600.
            self.file: BinaryIO = open(self.path, "xb")  # noqa: SIM115 - partial_file closes it
        except OSError as exc:  # a read-only or missing folder: the user's to fix
            raise RunwatchError(f"cannot write {target} ({exc.strerror}): make {target.parent} "
                                f"writable or choose another folder") from None

    def publish(self, target: Path, *, replace: bool = False,
                fallbacks: Iterable[Path] = ()) -> Path:
        """Make the written bytes durable under `target`; returns the name they got.

        Without `replace`, a name another process took meanwhile is never replaced: the next of
        `fallbacks` is tried (where a free name was asked for), else AlreadyExists.
        """
        self.file.flush()
        os.fsync(self.file.fileno())
        if replace:
            os.replace(self.path, target)
            fsync_dir(target.parent)
            return target
        for name in itertools.chain([target], fallbacks):
            if _publish_new(self.path, name):
                fsync_dir(name.parent)
                return name
        raise AlreadyExists(f"{target} already exists (another process wrote it meanwhile): "
                            "choose a new name")


@contextmanager
def partial_file(target: str | os.PathLike) -> Iterator[Partial]:
    """A partial file for `target`; gone on any exit (published under its new name, or not)."""
    partial = Partial(Path(target))
    try:
        with partial.file:
            yield partial
    finally:
        # After a link this drops the second name; after an error, the unfinished bytes.
        partial.path.unlink(missing_ok=True)


def _publish_new(src: Path, dst: Path) -> bool:
    """Give `src`'s file the name `dst` unless it exists (then False)."""
    try:
        os.link(src, dst)
        return True
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise
    return _rename_noreplace(src, dst)


def rename_noreplace(src: str | os.PathLike, dst: str | os.PathLike) -> bool:
    """Rename `src` (a file or a folder) to `dst` unless `dst` exists (then False)."""
    return _rename_noreplace(Path(src), Path(dst))


def _rename_noreplace(src: Path, dst: Path) -> bool:
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is not None and renameat2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD,
                                           os.fsencode(dst), _RENAME_NOREPLACE) == 0:
        return True
    code = ctypes.get_errno() if renameat2 is not None else errno.ENOSYS
    if code == errno.EEXIST:
        return False
    if code in (errno.EINVAL, errno.ENOSYS):
        raise RunwatchError(f"cannot write {dst} without risking replacing a file: the file "
                            f"system of {dst.parent} has neither hard links nor "
                            "RENAME_NOREPLACE; write to another folder")
    raise OSError(code, os.strerror(code), str(dst))


def write_bytes_atomic(path: str | os.PathLike, data: bytes, *, replace: bool = False,
                       fallbacks: Iterable[Path] = ()) -> Path:
    with partial_file(path) as partial:
        partial.file.write(data)
        return partial.publish(Path(path), replace=replace, fallbacks=fallbacks)


def write_text_atomic(path: str | os.PathLike, text: str, *, replace: bool = False,
                      fallbacks: Iterable[Path] = ()) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"), replace=replace, fallbacks=fallbacks)


def copy_atomic(src: str | os.PathLike, dst: str | os.PathLike, *, replace: bool = False,
                fallbacks: Iterable[Path] = ()) -> Path:
    """Copy `src` to `dst` atomically; the bytes move inside the kernel where it can.

    A second checkpoint name (last.pt, best.pt) copied this way costs a fraction of writing
    the same bytes again from Python (measured: 0.05 s against 0.2 s for 90 MB).
    """
    with open(src, "rb") as source, partial_file(dst) as partial:
        target = partial.file
        size = os.fstat(source.fileno()).st_size
        copied = 0
        try:
            while copied < size:
                n = os.copy_file_range(source.fileno(), target.fileno(), size - copied)
                if n == 0:
                    break
                copied += n
        except OSError:  # a file system without copy_file_range: copy in user space
            pass
        source.seek(copied)
        target.seek(copied)
        shutil.copyfileobj(source, target)
        return partial.publish(Path(dst), replace=replace, fallbacks=fallbacks)


def fsync_dir(directory: str | os.PathLike) -> None:
    """Make a rename in `directory` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_stale_partials(folder: str | os.PathLike) -> list[Path]:
    """Delete the partial files in `folder` whose writer, a process of this host, is gone.

    Nothing else is touched: not a live process's partial, nor one of another host (a shared
    file system: its pid says nothing here), nor any file that is not a partial of ours.
    """
    try:
        entries = list(os.scandir(folder))
    except OSError:  # no such folder (yet): nothing left there
        return []
    host, removed = _host(), []
    for entry in entries:
        match = _PARTIAL_NAME.fullmatch(entry.name)
        if (match and match["host"] == host and not _alive(int(match["pid"]))
                and entry.is_file(follow_symlinks=False)):
            with contextlib.suppress(FileNotFoundError):  # another cleaner was first
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def _alive(pid: int) -> bool:
    """Whether process `pid` exists on this host (unknown counts as alive: keep its file)."""
    if pid <= 0 or pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):  # another user's process; not a real pid
        return True
    return True
