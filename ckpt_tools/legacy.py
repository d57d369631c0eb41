"""Legacy (pre-1.6, non-zip) torch files: every pickle read restricted first, then torch's loader.

A legacy file is five pickles back to back (the magic number, the protocol version, sys_info,
the object, the storage keys) followed by each storage's bytes (an 8-byte count, then the
data). torch's weights-only loader builds the real tensors, but it allocates each storage at the
size the pickle claims before it checks the file holds it, fails on damaged files with whatever
exception it meets, and its refusals advise `weights_only=False`, which would run the file's
code. So the pickles are read first with the restricted unpickler (`pickled`): a global off the
allow-list is refused naming it, a tree too deep or too shared is refused, and storages that
claim more bytes than the file holds are refused, all before torch is imported.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import BinaryIO

from runwatch.ckpt_tools import pickled, placeholders
from runwatch.errors import RunwatchError
from runwatch.terminal import printable

MAGIC = 0x1950A86A20F9469CFC6C
# The global torch's weights-only loader refused, in its message (both wordings: "Unsupported
# global: GLOBAL x.y was not an allowed global" and, for blocked modules since torch 2.6,
# "Trying to load unsupported GLOBAL x.y whose module x is blocked").
REFUSED_GLOBAL = re.compile(r"unsupported global:? (?:GLOBAL )?([\w.]+)", re.IGNORECASE)
STORAGE_HEADER = 8  # bytes of the element count before each storage's data


class _Bounded:
    """A file whose reads never ask for more bytes than are left (a pickle opcode claiming 4 GB
    would otherwise make the buffered reader allocate 4 GB before it finds the file short)."""

    def __init__(self, f: BinaryIO, size: int) -> None:
        self._f, self._size = f, size

    def read(self, n: int = -1) -> bytes:
        left = self._size - self._f.tell()
        if n > left:
            raise EOFError(f"a pickle asks for {n} bytes, {left} are left")
        return self._f.read(n)

    def readline(self) -> bytes:
        return self._f.readline()

    def tell(self) -> int:
        return self._f.tell()


class _LegacyUnpickler(pickled.RestrictedUnpickler):
    """The object pickle of a legacy file: its persistent ids name storages by a root key, with
    an optional view (key, offset, size) into them."""

    def __init__(self, f: _Bounded) -> None:
        super().__init__(f)
        self.claimed: dict[str, int] = {}  # root key -> bytes its storage needs

    def persistent_load(self, pid: object) -> placeholders.StorageRef:
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"
                and (pid[5] is None or isinstance(pid[5], tuple))):
            raise pickled.refusal(f"an unknown persistent id {printable(pid, 80)}")
        _, type_ref, key, location, numel, view = pid
        ref = super().persistent_load(("storage", type_ref, key, location, numel))
        self.claimed[key] = ref.nbytes
        if view is None:
            return ref
        if not (len(view) == 3 and isinstance(view[0], str) and placeholders.is_count(view[1])
                and placeholders.is_count(view[2]) and view[1] + view[2] <= numel):
            raise pickled.refusal("a storage view outside its storage")
        return super().persistent_load(("storage", type_ref, view[0], location, view[2]))


def _pickle(f: _Bounded, size: int) -> object:
    return pickled.load_with(pickled.RestrictedUnpickler(f), size, "the legacy file")


def check_legacy(p: Path, size: int) -> None:
    """Read every pickle of the legacy file `p` restricted; RunwatchError when it is not a
    torch file, names a global off the allow-list, or claims storage bytes it does not hold."""
    with open(p, "rb") as raw:
        f = _Bounded(raw, size)
        if _pickle(f, size) != MAGIC:
            raise RunwatchError(f"{p} is a pickle but not a torch checkpoint: refusing to load "
                                "it")
        _pickle(f, size)  # the protocol version
        _pickle(f, size)  # sys_info: byte order and type sizes
        unpickler = _LegacyUnpickler(f)
        pickled.load_with(unpickler, size, "the legacy file")
        keys = _pickle(f, size)
        left = size - raw.tell()
    if not (isinstance(keys, list) and set(keys) == set(unpickler.claimed)):
        raise RunwatchError(f"{p}: damaged legacy checkpoint (its storage list does not match "
                            "its tensors); use another checkpoint")
    needed = sum(unpickler.claimed.values()) + STORAGE_HEADER * len(keys)
    if needed > left:
        raise RunwatchError(f"{p}: its tensors claim {needed} bytes of storage, the file holds "
                            f"{left} after its pickles: the file is truncated or damaged; use "
                            "another checkpoint")


def load_legacy(p: Path, size: int) -> object:
    """The object tree of a legacy torch file, real tensors built by torch's weights-only loader
    after `check_legacy` passed; every failure one RunwatchError line."""
    check_legacy(p, size)
    import torch  # only legacy files need torch: its weights-only loader reads them

    allowed = [v for v in pickled.SAFE_GLOBALS.values() if isinstance(v, type)]
    try:
        with torch.serialization.safe_globals(allowed):
            obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - a damaged file fails anywhere in torch's reader
        raise RunwatchError(f"{p}: damaged legacy checkpoint ({torch_error_line(exc)}); use "
                            "another checkpoint") from None
    pickled.check_tree(obj, pickled.node_budget(size))
    return obj


def torch_error_line(exc: Exception) -> str:
    """One line of a torch.load error for a user: the refused global when it names one, never
    its advice to retry with weights_only=False (which would run the file's code)."""
    text = str(exc)
    refused = REFUSED_GLOBAL.search(text)
    if refused:
        return f"torch refuses the global {refused.group(1)}"
    lines = [line.strip() for line in text.splitlines()
             if line.strip() and "weights_only" not in line]
    return printable(lines[0], 200) if lines else type(exc).__name__
