"""Checkpoints as docs/checkpoint-layout.md describes them: atomic files, weights-only loads.

Every checkpoint is serialised once and written to each of its names (`epoch-NNNN.pt`,
`last.pt`, `best.pt`) as separate files: a partial file in the same directory, fsync'd, renamed
over the name, then the directory fsync'd. A kill at any moment leaves every name absent or
whole, and no name is ever a link to another; the partial file a SIGKILL leaves
(`epoch-0002.pt.runwatch-partial-HOST-PID-HEX`) goes at the next start or checkpoint.
"""

from __future__ import annotations

import io
import os
import random
import re
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from runwatch.atomic import copy_atomic, remove_stale_partials, write_bytes_atomic
from runwatch.ckpt_tools.legacy import REFUSED_GLOBAL
from runwatch.ckpt_tools.zipfmt import check_crcs as failing_records
from runwatch.ckpt_tools.zipfmt import is_zip, open_archive
from runwatch.errors import RunwatchError

FORMAT = "runwatch"
FORMAT_VERSION = 1
CHECKPOINT_DIR = "checkpoints"
EPOCH_FILE = re.compile(r"^epoch-(\d{4,})\.pt$")


def checkpoint_dir(run_dir: str | os.PathLike) -> Path:
    return Path(run_dir) / CHECKPOINT_DIR


def epoch_file_name(epoch: int) -> str:
    return f"epoch-{epoch:04d}.pt"


def strip_prefixes(state_dict: dict) -> dict:
    """A model state dict without DDP's `module.` and torch.compile's `_orig_mod.` prefixes."""
    out = {}
    for key, value in state_dict.items():
        for prefix in ("module.", "_orig_mod."):
            while key.startswith(prefix):
                key = key[len(prefix):]
        out[key.replace("._orig_mod.", ".")] = value
    return out


def nonfinite_tensors(state_dict: dict) -> list[str]:
    """Names of floating-point tensors holding NaN or inf."""
    return [k for k, v in state_dict.items()
            if torch.is_tensor(v) and v.is_floating_point() and not torch.isfinite(v).all()]


def rng_state() -> dict:
    """Every RNG the loop draws from, as tensors and lists (weights_only-loadable)."""
    version, mt_state, gauss = random.getstate()
    np_kind, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "python": [version, list(mt_state), gauss],
        "numpy": [np_kind, np_keys.tolist(), int(np_pos), int(np_has_gauss), float(np_gauss)],
    }


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    version, mt_state, gauss = state["python"]
    random.setstate((version, tuple(mt_state), gauss))
    np_kind, np_keys, np_pos, np_has_gauss, np_gauss = state["numpy"]
    np.random.set_state((np_kind, np.array(np_keys, dtype=np.uint32), np_pos, np_has_gauss,
                         np_gauss))


class NonFiniteWeights(RunwatchError):
    """A checkpoint refused because a weight is NaN or inf: the run has diverged."""


def serialize(payload: dict) -> bytes:
    """The checkpoint as torch.save bytes; refuses weights that are not finite."""
    bad = nonfinite_tensors(payload["model"])
    if bad:
        raise NonFiniteWeights(
            f"refusing to write a checkpoint with non-finite weights ({', '.join(bad[:3])}"
            f"{', ...' if len(bad) > 3 else ''}): the last good checkpoint is kept"
        )
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


def save_checkpoint(
    run_dir: str | os.PathLike, payload: dict, *, is_best: bool, keep: int,
    epoch_file: bool = True,
) -> list[Path]:
    """Write the payload as epoch-NNNN.pt (when `epoch_file`), last.pt and (if best) best.pt.

    Removes epoch files beyond the newest `keep`. Returns the paths written, in order.
    """
    return write_files(run_dir, serialize(payload), payload["epoch"], is_best=is_best,
                       keep=keep, epoch_file=epoch_file)


def writable_checkpoint_dir(run_dir: str | os.PathLike) -> Path:
    """RUN_DIR/checkpoints, created, without the partial files a killed trainer left there;
    refused at once when it cannot be written (a run checks before it trains, not after its
    first epoch)."""
    directory = checkpoint_dir(run_dir)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunwatchError(f"cannot create {directory} ({exc.strerror}): choose a writable "
                            f"--run-dir") from None
    if not os.access(directory, os.W_OK):
        raise RunwatchError(f"cannot write checkpoints in {directory}: make it writable or "
                            f"choose another --run-dir")
    remove_stale_partials(directory)
    return directory


def write_files(run_dir: str | os.PathLike, data: bytes, epoch: int, *, is_best: bool,
                keep: int, epoch_file: bool) -> list[Path]:
    """The file half of `save_checkpoint`: serialised bytes to each name, then pruning."""
    directory = writable_checkpoint_dir(run_dir)
    names = [epoch_file_name(epoch)] if epoch_file else []
    names.append("last.pt")
    if is_best:
        names.append("best.pt")
    written = [directory / name for name in names]
    # Replacing is the intent: these names rotate (and a rewound run rewrites the abandoned
    # branch's epoch files as it reaches them).
    write_bytes_atomic(written[0], data, replace=True)
    for copy in written[1:]:
        # a separate file, never a link (docs/checkpoint-layout)
        copy_atomic(written[0], copy, replace=True)
    prune_epoch_files(directory, keep, epoch)
    return written


class BackgroundSaver:
    """Saves checkpoints while training goes on: serialised on the caller's thread (so weights
    are captured as they are now, and non-finite ones refused at once), written on one
    background thread, in order. `wait()` returns when every file is in place and re-raises
    a write error; the atomic writes keep every name whole if the process dies meanwhile.
    """

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def submit(self, run_dir: str | os.PathLike, payload: dict, *, is_best: bool, keep: int,
               epoch_file: bool, on_written: Callable[[list[Path]], None]) -> None:
        data = serialize(payload)
        self.wait()
        self._thread = threading.Thread(
            target=self._write, name="checkpoint-writer", daemon=True,
            args=(run_dir, data, payload["epoch"], is_best, keep, epoch_file, on_written))
        self._thread.start()

    def _write(self, run_dir, data, epoch, is_best, keep, epoch_file, on_written) -> None:
        try:
            on_written(write_files(run_dir, data, epoch, is_best=is_best, keep=keep,
                                   epoch_file=epoch_file))
        except OSError as exc:  # a full disk, a folder made read-only: the user's to fix
            self._error = RunwatchError(
                f"cannot write the checkpoint files of epoch {epoch} in "
                f"{checkpoint_dir(run_dir)} ({exc.strerror or exc}): free space or make it "
                f"writable; each name holds its last complete file")
        except BaseException as exc:  # noqa: BLE001 - handed to the training thread
            self._error = exc

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            error, self._error = self._error, None
            raise error


def prune_epoch_files(directory: Path, keep: int, current: int) -> None:
    """Delete epoch-NNNN.pt files older than the `keep` newest up to epoch `current`.

    Files of later epochs are left alone: after a rewind they are the abandoned branch's, and
    the live run only replaces each one when it reaches that epoch.
    """
    epochs = sorted(e for p in directory.iterdir()
                    if (m := EPOCH_FILE.match(p.name)) and (e := int(m.group(1))) <= current)
    for epoch in epochs[:-keep] if keep > 0 else epochs:
        (directory / epoch_file_name(epoch)).unlink(missing_ok=True)


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """The checkpoint file `path` names: itself, or a run directory's (or its checkpoints/
    folder's) last.pt."""
    path = Path(path)
    if path.is_dir():
        path = path / "last.pt" if (path / "last.pt").exists() else checkpoint_dir(path) / "last.pt"
    return path


def load_checkpoint(path: str | os.PathLike) -> dict:
    """A runwatch checkpoint, loaded with weights_only=True only (never runs pickled code)."""
    path = resolve_checkpoint(path)
    if not path.exists():
        raise RunwatchError(f"checkpoint {path} not found: give a .pt file or a run directory")
    if not path.is_file():  # a FIFO or a device would block or never end
        raise RunwatchError(f"checkpoint {path} is not a regular file: give a .pt file or a "
                            f"run directory")
    if path.stat().st_size == 0:
        raise RunwatchError(f"checkpoint {path} is empty (0 bytes): resume from another "
                            f"checkpoint")
    check_crcs(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's to fix
        raise _unreadable(path, exc) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise RunwatchError(
            f"{path} is not a runwatch checkpoint (no format='runwatch'): `runwatch train` "
            f"resumes only its own checkpoints; start a fresh run (`runwatch ckpt inspect "
            f"{path}` shows what it holds)"
        )
    if payload.get("format_version") != FORMAT_VERSION:
        raise RunwatchError(
            f"{path} has format_version {payload.get('format_version')!r}; this trainer reads "
            f"{FORMAT_VERSION}: use a matching runwatch version"
        )
    return payload


def _unreadable(path: Path, exc: Exception) -> RunwatchError:
    """The error for a file torch's weights-only loader cannot read. Never torch's own advice
    (retry with weights_only=False, which would run the file's code), nor its terminal escapes."""
    text = str(exc)
    refused = REFUSED_GLOBAL.search(text)
    if refused:
        return RunwatchError(
            f"{path} holds {refused.group(1)}, which torch's weights-only loader refuses: it is "
            f"another trainer's checkpoint (or holds code), and runwatch resumes only its own "
            f"and never unpickles code; `runwatch ckpt inspect {path}` shows what it holds")
    match = re.search(r"(Unsupported operand \w+)", text)
    lines = [line.strip() for line in text.splitlines()
             if line.strip() and "weights_only" not in line]
    detail = match.group(1) if match else lines[0] if lines else type(exc).__name__
    return RunwatchError(
        f"cannot load {path} with weights_only=True ({detail}): it is damaged or not a "
        f"runwatch checkpoint; inspect it with `runwatch ckpt inspect {path}`"
    )


def check_crcs(path: Path) -> None:
    """Refuse a cut-off zip checkpoint, or one with a record that fails its CRC: torch.load
    checks neither, so a flipped byte in a weight would resume silently with that weight.
    The check is ckpt_tools' torch-free zip reader (records streamed in 4 MB chunks)."""
    if not is_zip(path):
        return  # not a zip (a legacy file, or not a checkpoint): torch.load reports it
    if not zipfile.is_zipfile(path):
        raise RunwatchError(
            f"checkpoint {path} is truncated (a zip archive without its end): resume "
            f"from another checkpoint, or copy this one again")
    bad = failing_records(open_archive(path))  # open_archive: one line for a damaged zip
    if bad:
        raise RunwatchError(
            f"checkpoint {path} is corrupt: record {bad[0]} fails its CRC check; resume from "
            f"another checkpoint (`runwatch ckpt inspect` shows which are whole)"
        )
