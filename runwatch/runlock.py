"""Who is writing to a run directory: `RUN_DIR/run.lock`, held while the trainer runs.

Torch-free: the trainer (rank 0) holds it for the whole run, `runwatch ckpt rewind` while it
writes, and ckpt_tools and the monitor read it before they change a run
(docs/checkpoint-layout.md, "The run lock").

Two parts, because each covers what the other cannot:
- an OS lock, `flock(LOCK_EX)` on the run directory itself, held on an open descriptor for the
  holder's lifetime. The kernel drops it when the process dies, however it dies, so two
  processes on one host can never both hold the run, and a pid reused after a crash is told
  apart from the holder. It locks the directory, not `run.lock`, because `run.lock` is replaced
  by a rename at each heartbeat (a lock on a replaced file protects nothing). Over NFS, where
  flock may be refused, the record alone decides.
- a JSON record, `run.lock`, written atomically: `role`, `pid`, `host`, `started`, `heartbeat`
  (Unix times) and `run_id`, so readers can say who holds the run, and a reader on another host,
  which can neither test the pid nor (on every file system) see the flock, decides by the
  heartbeat: refreshed every HEARTBEAT_S by a timer thread, stale after STALE_AFTER_S.

A holder is live when, on the same host, its pid is alive (EPERM counts as alive) and the flock
is held (or flock is unsupported); on another host, when its heartbeat is fresh. Anything else is
a stale lock: it never blocks, and the next holder replaces it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import math
import os
import re
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from runwatch.atomic import write_text_atomic
from runwatch.errors import RunwatchError

LOCK_NAME = "run.lock"
ROLES = ("trainer", "rewind")
HEARTBEAT_S = 30.0
STALE_AFTER_S = 120.0  # four missed heartbeats: the holder on another host is gone
MAX_RECORD_BYTES = 4096
ACQUIRE_RETRY_S = 1.0  # rides over a reader's momentary probe of the flock
_SAFE_NAME = re.compile(r"[A-Za-z0-9._-]{1,255}")

# Descriptors that hold a run's flock in this process. A forked child (a DataLoader worker)
# would share the lock and keep it after the holder dies (an orphaned worker: for ever); each
# child closes its copies, which leaves the lock with the holder alone (closing, unlike
# LOCK_UN, does not release it for the parent).
_HELD_FDS: set[int] = set()


def _close_held_in_child() -> None:
    for fd in _HELD_FDS:
        with contextlib.suppress(OSError):
            os.close(fd)
    _HELD_FDS.clear()


os.register_at_fork(after_in_child=_close_held_in_child)


@dataclass(frozen=True)
class Holder:
    """The record in `run.lock`: who holds the run, since when, last heard of when."""

    role: str  # "trainer" or "rewind" (runwatch ckpt rewind)
    pid: int
    host: str
    started: float
    heartbeat: float
    run_id: str | None = None

    @property
    def local(self) -> bool:
        return self.host == socket.gethostname()

    def who(self) -> str:
        where = "" if self.local else f" on host {self.host}"
        name = "the trainer" if self.role == "trainer" else "runwatch ckpt rewind"
        return f"{name} (pid {self.pid}{where})"

    def describe(self) -> str:
        """Why the run cannot be changed now, and what to do: one line."""
        if self.role != "trainer":
            return f"{self.who()} is writing to this run: wait for it to finish"
        where = "" if self.local else f" on {self.host}"
        return (f"{self.who()} is still running: stop it first (kill -TERM {self.pid}{where}; "
                f"it checkpoints and exits)")


def lock_path(run_dir: str | os.PathLike) -> Path:
    return Path(run_dir) / LOCK_NAME


def checkpoint_run_dir(checkpoint: str | os.PathLike) -> Path:
    """The run a checkpoint file belongs to: RUN_DIR of RUN_DIR/checkpoints/X, else its folder."""
    path = Path(checkpoint)
    return path.parent.parent if path.parent.name == "checkpoints" else path.parent


def read_holder(run_dir: str | os.PathLike) -> Holder | None:
    """The record in `run.lock`, or None when there is none or it is not a lock record."""
    try:
        with open(lock_path(run_dir), "rb") as f:
            raw = f.read(MAX_RECORD_BYTES + 1)
        data = json.loads(raw) if len(raw) <= MAX_RECORD_BYTES else None
    except (OSError, ValueError):
        return None
    return _holder_from(data) if isinstance(data, dict) else None


def _holder_from(data: dict) -> Holder | None:
    """Only plain names get through: the host reaches terminals and the monitor's markup."""
    pid, host, role, run_id = data.get("pid"), data.get("host"), data.get("role"), \
        data.get("run_id")
    times = [data.get("started"), data.get("heartbeat")]
    if not (type(pid) is int and 0 < pid < 2**31 and role in ROLES and _is_name(host)
            and all(isinstance(t, (int, float)) and not isinstance(t, bool) and math.isfinite(t)
                    for t in times)):
        return None
    return Holder(role, pid, host, float(times[0]), float(times[1]),
                  run_id if _is_name(run_id) else None)


def _is_name(value: object) -> bool:
    return isinstance(value, str) and _SAFE_NAME.fullmatch(value) is not None


def pid_alive(pid: int) -> bool:
    """Whether a process `pid` exists on this host (another user's process counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, it is just not ours
        return True
    return True


def live_holder(run_dir: str | os.PathLike, now: float | None = None) -> Holder | None:
    """Who holds the run now, or None when nobody does (no lock, or a stale one)."""
    holder = read_holder(run_dir)
    if holder is None:
        return None
    if not holder.local:
        return holder if _heartbeat_fresh(holder, now) else None
    if not pid_alive(holder.pid):
        return None
    # The pid is alive; is it the holder, or a process that reused a crashed holder's pid?
    return None if _flock_held(run_dir) is False else holder


def ensure_not_live(run_dir: str | os.PathLike) -> None:
    """Refuse (one line) when another process, a trainer or a rewind, holds the run. This one
    holding it is no reason: a rewind writes its edited checkpoint while it holds the run."""
    holder = live_holder(run_dir)
    if holder is not None and not (holder.local and holder.pid == os.getpid()):
        raise RunwatchError(f"{run_dir}: {holder.describe()}")


def _heartbeat_fresh(holder: Holder, now: float | None) -> bool:
    # Both ways: a heartbeat far in the future is a clock that cannot be trusted either.
    now = time.time() if now is None else now
    return abs(now - holder.heartbeat) < STALE_AFTER_S


def _flock_held(run_dir: str | os.PathLike) -> bool | None:
    """True: another descriptor holds the run's flock; False: nobody does; None: cannot tell."""
    try:
        fd = os.open(run_dir, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return None
    try:
        return not _try_flock(fd, fcntl.LOCK_SH)
    except OSError:  # flock unsupported here (some network file systems)
        return None
    finally:
        os.close(fd)  # closing drops the probe's shared lock


def _try_flock(fd: int, kind: int) -> bool:
    """Take the lock without waiting: True when taken, False when another holds it."""
    try:
        fcntl.flock(fd, kind | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class RunLock:
    """The run held by this process: flock, record and heartbeat. Use `hold_run`."""

    def __init__(self, run_dir: Path, holder: Holder, fd: int, heartbeat_s: float,
                 replaced: Holder | None, created: bool) -> None:
        self.run_dir = run_dir
        self.holder = holder
        self.replaced = replaced  # the stale record this one replaced, if any
        self._fd = fd
        self._created = created  # the run directory did not exist before
        self._write_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, args=(heartbeat_s,),
                                        name="runwatch-heartbeat", daemon=True)

    def start(self) -> None:
        self._write()
        self._thread.start()

    def set_run_id(self, run_id: str) -> None:
        """Name the run once it is known (a resumed run's id is in its checkpoint)."""
        self._write(run_id=run_id)

    def release(self) -> None:
        """Stop the heartbeat, remove our record (only ours), then drop the flock."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        current = read_holder(self.run_dir)
        mine = self.holder
        if current is not None and (current.pid, current.host, current.started) == \
                (mine.pid, mine.host, mine.started):
            lock_path(self.run_dir).unlink(missing_ok=True)
        _HELD_FDS.discard(self._fd)
        os.close(self._fd)  # the record is gone first: a waiting holder never sees ours
        if self._created:  # a run that wrote nothing leaves no empty folder behind
            with contextlib.suppress(OSError):
                self.run_dir.rmdir()

    def _beat(self, interval: float) -> None:
        while not self._stop.wait(interval):
            # A heartbeat that cannot be written (a full disk) is skipped: the run's own
            # writes fail and say so; the lock must not end the run.
            with contextlib.suppress(OSError, RunwatchError):
                self._write()

    def _write(self, **changes: object) -> None:
        with self._write_lock:
            self.holder = replace(self.holder, heartbeat=time.time(), **changes)
            write_text_atomic(lock_path(self.run_dir), json.dumps(asdict(self.holder)) + "\n",
                              replace=True)


@contextlib.contextmanager
def hold_run(run_dir: str | os.PathLike, role: str, *,
             heartbeat_s: float = HEARTBEAT_S) -> Iterator[RunLock]:
    """Hold `run_dir` (created when missing) for the `with` block; refuse it when a live
    trainer or rewind holds it (RunwatchError, one line)."""
    run = Path(run_dir)
    created = not run.exists()
    try:
        run.mkdir(parents=True, exist_ok=True)
        fd = os.open(run, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise RunwatchError(f"cannot use {run} as a run directory ({exc.strerror}): choose a "
                            f"writable --run-dir") from None
    try:
        lock = _acquire(run, role, fd, heartbeat_s, created)
    except BaseException:
        _HELD_FDS.discard(fd)
        os.close(fd)
        raise
    try:
        yield lock
    finally:
        lock.release()


def _acquire(run: Path, role: str, fd: int, heartbeat_s: float, created: bool) -> RunLock:
    flocked = _flock_with_retry(fd, run)
    if flocked:
        _HELD_FDS.add(fd)
    previous = read_holder(run)
    if flocked is False:
        if previous is not None and pid_alive(previous.pid):
            raise RunwatchError(f"{run}: {previous.describe()}")
        raise RunwatchError(f"{run}: another process holds its lock and {LOCK_NAME} does not "
                            f"say which: try again in a moment (`fuser -v {run}` lists who has "
                            f"it open)")
    if previous is not None and _still_holds(previous, flocked):
        raise RunwatchError(f"{run}: {previous.describe()}")
    now = time.time()
    lock = RunLock(run, Holder(role, os.getpid(), socket.gethostname(), now, now), fd,
                   heartbeat_s, replaced=previous, created=created)
    lock.start()
    return lock


def _still_holds(previous: Holder, flocked: bool | None) -> bool:
    """Whether the holder on record is live, given that we now hold the flock (True) or cannot
    use flock here (None)."""
    if not previous.local:
        return _heartbeat_fresh(previous, None)
    # On this host a live holder would hold the flock: having it, the record is stale.
    return flocked is None and pid_alive(previous.pid)


def _flock_with_retry(fd: int, run: Path) -> bool | None:
    """Take the flock: True; False when a live holder on record has it, or another process
    still has it after the retries; None when the file system does not support flock."""
    deadline = time.monotonic() + ACQUIRE_RETRY_S
    while True:
        try:
            if _try_flock(fd, fcntl.LOCK_EX):
                return True
        except OSError as exc:
            if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EBADF, errno.EINVAL):
                return None
            raise
        previous = read_holder(run)
        if time.monotonic() >= deadline or (previous is not None and pid_alive(previous.pid)):
            return False
        time.sleep(0.05)


def stop_holder(holder: Holder) -> None:
    """Ask a trainer on this host to checkpoint and stop (SIGTERM)."""
    if not holder.local:
        raise RunwatchError(f"{holder.who()} runs on another host: stop it there")
    try:
        os.kill(holder.pid, signal.SIGTERM)
    except ProcessLookupError:
        return  # it has ended already
    except PermissionError:
        raise RunwatchError(f"{holder.who()} is not yours to stop: ask its owner, or run "
                            f"kill -TERM {holder.pid} as them") from None


def wait_released(run_dir: str | os.PathLike, timeout_s: float,
                  cancelled: Callable[[], bool] = lambda: False, poll_s: float = 0.2) -> bool:
    """Wait until nobody holds the run: True, or False on timeout or cancellation."""
    deadline = time.monotonic() + timeout_s
    while live_holder(run_dir) is not None:
        if cancelled() or time.monotonic() >= deadline:
            return False
        time.sleep(poll_s)
    return True
