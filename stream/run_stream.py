"""The public writer of a run's metric stream, for any training loop (docs/metric-stream.md,
"Writing the stream from your loop"). Stable: fields may be added, none removed or renamed.

    from runwatch.stream import open_run
    stream = open_run("runs/exp1")                    # rank 0 writes; other ranks do nothing
    stream.run_start(config=cfg, lr_schedule=plan, epochs=90)
    stream.epoch(epoch, test_acc1=acc, train_loss=loss, lr=lr)
    stream.run_end()

It never raises into the training loop: a record that breaks the schema (docs, "What readers
accept") is not written, a full disk or any other write error is reported once as a
RuntimeWarning, and training goes on; later records are tried again (a line a failed write
left half written is ended first, so readers skip it alone). Only `open_run` raises, a
RunwatchError before training starts, when another live writer holds the run directory. A
process that dies of an uncaught exception with the stream open writes `run_end` failed as it
exits (interrupted for Ctrl-C).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import socket
import sys
import time
import uuid
import warnings
from pathlib import Path

from runwatch.errors import RunwatchError
from runwatch.runlock import hold_run
from runwatch.stream.reader import MAX_LINE_BYTES, not_a_file
from runwatch.stream.schema import END_STATUSES, SCHEMA_VERSION, STREAM_NAME, record_problem

MESSAGE_CHARS = 500  # of an uncaught exception's words in run_end


def rank_from_env() -> int:
    """This process's global rank as launchers set it (torchrun, SLURM, MPI), else 0."""
    for name in ("RANK", "SLURM_PROCID", "OMPI_COMM_WORLD_RANK", "PMI_RANK"):
        value = os.environ.get(name, "")
        if value.isdigit():
            return int(value)
    return 0


def _plain(value: object) -> object:
    """A JSON value for what json cannot write: numpy and torch scalars, paths, the rest as
    text."""
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        return value.item()
    if isinstance(value, (set, tuple, frozenset)):
        return list(value)
    return str(value)


class RunStream:
    """Appends records to `RUN_DIR/metrics.jsonl`, one flushed line each (see module doc).

    `enabled` is False on ranks other than 0 and after the file could not be opened: every
    method is then a no-op. `lock` holds the run directory like runwatch's trainer does, so
    `runwatch ckpt rewind` and the monitor's surgery refuse a run being written.
    """

    def __init__(self, run_dir: str | os.PathLike, *, rank: int | None = None,
                 lock: bool = True) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / STREAM_NAME
        self.enabled = (rank_from_env() if rank is None else rank) == 0
        self.ended = False
        self._reported: set[str] = set()
        self._torn = False
        self._fd: int | None = None
        self._hold = contextlib.ExitStack()
        if not self.enabled:
            return
        if lock:
            self._hold.enter_context(hold_run(self.run_dir, "trainer"))
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            if self.path.exists() and not_a_file(self.path, self.path.stat()):
                raise OSError(0, not_a_file(self.path, self.path.stat()))
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            self._report("open", f"cannot write {self.path} ({exc.strerror}): no stream for "
                                 "this run; training goes on")
            self.enabled = False
            return
        self._earlier_exception = getattr(sys, "last_value", None)
        atexit.register(self._end_at_exit)

    # --- the records (docs/metric-stream.md) ----------------------------------------------

    def run_start(self, *, config: dict | None = None, lr_schedule: list[float] | None = None,
                  epochs: int | None = None, target_acc1: float | None = None,
                  run_id: str | None = None, **fields: object) -> dict | None:
        """Once, when a fresh run starts: its config and planned LR of every epoch 1..E."""
        return self.write("run_start", schema=SCHEMA_VERSION,
                          run_id=run_id or uuid.uuid4().hex[:12], config=config or {},
                          lr_schedule=lr_schedule, epochs=epochs, target_acc1=target_acc1,
                          host=socket.gethostname(), pid=os.getpid(), **fields)

    def resume(self, after_epoch: int, *, lr_schedule: list[float] | None = None,
               **fields: object) -> dict | None:
        """When a run resumes after `after_epoch` epochs; `lr_schedule` the whole plan (NaN
        for epochs whose LR is not known)."""
        fields.setdefault("override", [])
        return self.write("resume", schema=SCHEMA_VERSION, after_epoch=after_epoch,
                          lr_schedule=lr_schedule, host=socket.gethostname(), pid=os.getpid(),
                          **fields)

    def epoch(self, epoch: int, **metrics: object) -> dict | None:
        """End of epoch `epoch` (1-based): `test_acc1` (percent), `train_loss`, `lr` ..."""
        return self.write("epoch", epoch=epoch, **metrics)

    def step(self, epoch: int, step: int, **fields: object) -> dict | None:
        """A training step: `step` within the epoch (1-based), `global_step`, `loss`, `lr`."""
        return self.write("step", epoch=epoch, step=step, **fields)

    def checkpoint(self, epoch: int, path: str | os.PathLike, **fields: object) -> dict | None:
        """A checkpoint in place after `epoch` epochs."""
        return self.write("checkpoint", epoch=epoch, path=str(path), **fields)

    def event(self, kind: str, **fields: object) -> dict | None:
        """Anything a user should notice (docs: event kinds)."""
        return self.write("event", kind=kind, **fields)

    def run_end(self, status: str = "completed", epoch: int | None = None,
                message: str | None = None) -> dict | None:
        """Once, when the run stops: completed, interrupted, diverged, early_stopped, failed."""
        if self.ended:
            return None
        if status not in END_STATUSES:
            self._report(f"status {status}", f"run_end status {status!r} is not one of "
                                             f"{', '.join(END_STATUSES)}: written as failed")
            status = "failed"
        self.ended = True
        return self.write("run_end", status=status, epoch=epoch, message=message)

    def _end_at_exit(self) -> None:
        """At interpreter exit with the run not ended: an exception nobody caught stopped it (the
        HF Trainer and a plain loop have no hook for that), so it is written as failed, or
        interrupted for Ctrl-C. A normal exit without run_end does not say how the run ended:
        nothing is written."""
        exc = getattr(sys, "last_value", None)
        if self.ended or not self.enabled or exc is None or exc is self._earlier_exception:
            return
        status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        self.run_end(status, message=f"{type(exc).__name__}: {exc}"[:MESSAGE_CHARS])
        self.close()

    # --- writing ----------------------------------------------------------------------------

    def write(self, record_type: str, **fields: object) -> dict | None:
        """Append one record; the record as written, or None when it was not (said once)."""
        if not self.enabled or self._fd is None:
            return None
        record = {"type": record_type, "time": fields.pop("time", None) or time.time(),
                  **fields}
        try:
            line = json.dumps(record, default=_plain, separators=(",", ":"))
            record = json.loads(line)
        except (TypeError, ValueError, RecursionError) as exc:
            return self._refuse(record_type, f"cannot be written as JSON ({exc})")
        problem = record_problem(record) or (
            f"longer than {MAX_LINE_BYTES >> 20} MiB" if len(line) > MAX_LINE_BYTES else None)
        if problem:
            return self._refuse(record_type, problem)
        data = (b"\n" if self._torn else b"") + line.encode() + b"\n"
        try:
            while data:
                data = data[os.write(self._fd, data):]
        except OSError as exc:
            self._torn = True  # part of the line may be out: the next write ends it first
            self._report("write", f"cannot write {self.path} ({exc.strerror}): the stream "
                                  "misses records from here on; training goes on")
            return None
        self._torn = False
        return record

    def _refuse(self, record_type: str, problem: str) -> None:
        # Said once per field at fault ("epoch record with lr"), whatever its value.
        self._report(" ".join(problem.split(" ")[:4]),
                     f"a {record_type} record not written: {problem}")
        return None

    def _report(self, key: str, message: str) -> None:
        """Warn once per kind of problem: a loop calling every step must not flood."""
        if key not in self._reported:
            self._reported.add(key)
            warnings.warn(f"runwatch: {message}", RuntimeWarning, stacklevel=4)

    def close(self) -> None:
        """Close the file and release the run directory (a stream without run_end stays
        'running' to readers until they see it stall)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._hold.close()
        self.enabled = False
        atexit.unregister(self._end_at_exit)

    def __enter__(self) -> RunStream:
        return self

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: object) -> None:
        if exc_type is not None and not self.ended:
            interrupted = issubclass(exc_type, KeyboardInterrupt)
            self.run_end("interrupted" if interrupted else "failed",
                         message=None if interrupted else f"{exc_type.__name__}: {exc}"[:500])
        elif exc_type is None and not self.ended:
            self.run_end("completed")
        self.close()


def open_run(run_dir: str | os.PathLike, *, rank: int | None = None,
             lock: bool = True) -> RunStream:
    """The stream of `run_dir` for this process: written on rank 0 (`rank`, default from
    RANK/SLURM_PROCID/...), a no-op elsewhere. RunwatchError when another live trainer holds
    the directory."""
    try:
        return RunStream(run_dir, rank=rank, lock=lock)
    except RunwatchError:
        raise
    except OSError as exc:  # the run directory itself cannot be made
        raise RunwatchError(f"cannot use {run_dir} as a run directory ({exc.strerror}): "
                            "choose a writable one") from None
