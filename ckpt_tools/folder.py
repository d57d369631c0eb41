"""Write an edited checkpoint folder (Hugging Face Trainer, Accelerate) as a new folder.

The folder is built beside its target under a partial name (`OUT.runwatch-partial-HOST-PID-
HEX`): the edited parts (optimizer, scheduler) rewritten the way single files are (only
data.pkl changes, tensor records copied through their CRC check), trainer_state.json rewritten
as the Trainer writes it, every other file copied byte for byte; then fsync'd and renamed to
OUT, which must not exist (the rename never replaces). The input folder is never changed.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from pathlib import Path

from runwatch.atomic import PARTIAL_MARK, copy_atomic, fsync_dir, rename_noreplace
from runwatch.ckpt_tools import pickled, zipfmt
from runwatch.ckpt_tools.load import LoadedCheckpoint
from runwatch.errors import RunwatchError


def write_folder(loaded: LoadedCheckpoint, out: Path, in_place: bool = False) -> Path:
    """Write the edited folder `loaded` to the new folder `out`; returns `out`."""
    if in_place:
        raise RunwatchError("a checkpoint folder is not edited in place: write a new folder "
                            "with -o OUT")
    if os.path.lexists(out):
        raise RunwatchError(f"-o {out} already exists: choose a new folder name")
    if not out.parent.is_dir():
        raise RunwatchError(f"-o {out}: folder {out.parent} does not exist: create it first")
    entries = sorted(loaded.path.iterdir())
    odd = [e.name for e in entries if e.is_symlink() or not e.is_file()]
    if odd:
        raise RunwatchError(f"{loaded.path} holds {odd[0]!r}, which is not a plain file: "
                            "sharded or linked checkpoint folders are not supported")
    edited = {part.path.name: part for part in loaded.parts.values()
              if part.container == "zip"}
    partial = out.with_name(f"{out.name}{PARTIAL_MARK}{os.uname().nodename[:40]}-"
                            f"{os.getpid()}-{secrets.token_hex(4)}")
    try:
        partial.mkdir()
    except OSError as exc:
        raise RunwatchError(f"cannot write {out} ({exc.strerror}): make {out.parent} writable "
                            "or choose another folder") from None
    try:
        for entry in entries:
            target = partial / entry.name
            if entry.name in edited:
                part = edited[entry.name]
                with open(target, "xb") as f:
                    zipfmt.rewrite_archive(part.archive, pickled.dumps_torch(part.obj), f)
                    f.flush()
                    os.fsync(f.fileno())
            elif entry.name == "trainer_state.json" and "trainer_state" in loaded.obj:
                text = json.dumps(loaded.obj["trainer_state"], indent=2, sort_keys=True) + "\n"
                with open(target, "x") as f:
                    f.write(text)
                    f.flush()
                    os.fsync(f.fileno())
            else:
                copy_atomic(entry, target)
        fsync_dir(partial)
        if not rename_noreplace(partial, out):
            raise RunwatchError(f"{out} already exists (another process wrote it meanwhile): "
                                "choose a new name")
        fsync_dir(out.parent)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return out
