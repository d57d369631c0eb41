"""The run lock: who holds a run, when a record is stale, and that holders refuse each other."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lock_holder import REPO, holder_of
from trainer_tiny import tiny_config, tiny_dict, write_toml

from runwatch import runlock
from runwatch.cli import main
from runwatch.errors import RunwatchError
from runwatch.runlock import (
    Holder,
    checkpoint_run_dir,
    ensure_not_live,
    hold_run,
    live_holder,
    lock_path,
    read_holder,
    stop_holder,
    wait_released,
)
from runwatch.stream import read_stream


def write_record(run_dir: Path, **fields) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    now = time.time()
    record = {"role": "trainer", "pid": os.getpid(), "host": runlock.socket.gethostname(),
              "started": now, "heartbeat": now, "run_id": "abc", **fields}
    lock_path(run_dir).write_text(json.dumps(record))


def acquire(run_dir: Path) -> None:
    with hold_run(run_dir, "trainer"):
        pass


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_held_run_is_live_with_the_documented_record_and_released_after(tmp_path):
    with hold_run(tmp_path, "trainer") as lock:
        lock.set_run_id("run-1")
        record = json.loads(lock_path(tmp_path).read_text())
        assert set(record) == {"role", "pid", "host", "started", "heartbeat", "run_id"}
        assert (record["role"], record["pid"], record["run_id"]) == ("trainer", os.getpid(),
                                                                      "run-1")
        assert live_holder(tmp_path) == lock.holder
    assert not lock_path(tmp_path).exists()
    assert live_holder(tmp_path) is None
    assert not list(tmp_path.iterdir())  # no temp file left either


def test_a_second_holder_is_refused_with_who_holds_it_and_how_to_stop_it(tmp_path):
    with holder_of(tmp_path) as other:
        with pytest.raises(RunwatchError) as refused:
            acquire(tmp_path)
        message = str(refused.value)
        assert message == (f"{tmp_path}: the trainer (pid {other.pid}) is still running: stop "
                           f"it first (kill -TERM {other.pid}; it checkpoints and exits)")
        with pytest.raises(RunwatchError, match=f"pid {other.pid}"):
            ensure_not_live(tmp_path)
        assert read_holder(tmp_path).pid == other.pid  # the refused one removed nothing


def test_the_holder_stops_on_sigterm_and_its_lock_goes_with_it(tmp_path):
    with holder_of(tmp_path) as other:
        stop_holder(live_holder(tmp_path))
        assert wait_released(tmp_path, timeout_s=10)
        assert other.wait(10) == 0
    assert not lock_path(tmp_path).exists()
    assert wait_released(tmp_path, timeout_s=0)  # free: True at once


def test_a_lock_of_a_dead_pid_is_stale_and_replaced(tmp_path):
    pid = dead_pid()
    write_record(tmp_path, pid=pid)
    assert live_holder(tmp_path) is None
    ensure_not_live(tmp_path)  # no refusal
    with hold_run(tmp_path, "trainer") as lock:
        assert lock.replaced.pid == pid
        assert read_holder(tmp_path).pid == os.getpid()


def test_a_live_pid_that_does_not_hold_the_flock_is_a_reused_pid(tmp_path):
    # A crashed trainer's pid, now someone else's process: alive, but not holding the run.
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        write_record(tmp_path, pid=other.pid)
        assert live_holder(tmp_path) is None
        with hold_run(tmp_path, "trainer") as lock:
            assert lock.replaced.pid == other.pid
    finally:
        other.kill()
        other.wait()


FORK_THEN_HOLD = """
import os, sys, time
from runwatch.runlock import hold_run
with hold_run(sys.argv[1], "trainer"):
    child = os.fork()  # as a DataLoader worker is forked
    if child == 0:
        time.sleep(60)
        os._exit(0)
    print(child, flush=True)
    time.sleep(60)
"""


def test_a_forked_child_outliving_a_killed_holder_does_not_keep_the_run(tmp_path):
    # An orphaned worker of an OOM-killed trainer must not lock its run for ever.
    holder = subprocess.Popen([sys.executable, "-c", FORK_THEN_HOLD, str(tmp_path)], cwd=REPO,
                              stdout=subprocess.PIPE, text=True)
    child = int(holder.stdout.readline())
    try:
        holder.kill()
        holder.wait()
        holder.stdout.close()  # the child keeps its copy: reading to the end would wait for it
        assert runlock.pid_alive(child)
        assert live_holder(tmp_path) is None
        with hold_run(tmp_path, "trainer") as lock:
            assert lock.replaced.pid == holder.pid
    finally:
        os.kill(child, signal.SIGKILL)


def test_a_pid_that_is_not_ours_to_signal_counts_as_alive(monkeypatch):
    def not_permitted(pid, sig):
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(runlock.os, "kill", not_permitted)
    assert runlock.pid_alive(12345)
    with pytest.raises(RunwatchError, match="not yours to stop.*kill -TERM 12345"):
        stop_holder(Holder("trainer", 12345, runlock.socket.gethostname(), 0.0, 0.0))


def test_another_hosts_lock_is_live_while_its_heartbeat_is_fresh(tmp_path):
    now = time.time()
    write_record(tmp_path, host="node-7", pid=4242, heartbeat=now - 10)
    holder = live_holder(tmp_path)
    assert holder is not None and holder.host == "node-7"  # its pid cannot be tested here
    with pytest.raises(RunwatchError, match=r"\(pid 4242 on host node-7\) is still running: "
                                            r"stop it first \(kill -TERM 4242 on node-7;"):
        acquire(tmp_path)
    with pytest.raises(RunwatchError, match="on another host: stop it there"):
        stop_holder(holder)
    for beat in (now - runlock.STALE_AFTER_S - 1, now + 10 * runlock.STALE_AFTER_S):
        write_record(tmp_path, host="node-7", pid=4242, heartbeat=beat)
        assert live_holder(tmp_path) is None, beat


def test_the_heartbeat_is_refreshed_while_the_run_is_held(tmp_path):
    with hold_run(tmp_path, "trainer", heartbeat_s=0.05) as lock:
        first = read_holder(tmp_path).heartbeat
        deadline = time.monotonic() + 5
        while read_holder(tmp_path).heartbeat == first:
            assert time.monotonic() < deadline, "no heartbeat"
            time.sleep(0.02)
        assert read_holder(tmp_path).started == lock.holder.started


@pytest.mark.parametrize("content", [
    b"not json", b"[1, 2]", b"{}", b"x" * 10_000,
    json.dumps({"role": "trainer", "pid": True, "host": "h", "started": 0,
                "heartbeat": 0}).encode(),
    json.dumps({"role": "trainer", "pid": 1, "host": "\x1b]0;pwned\x07", "started": 0,
                "heartbeat": 0}).encode(),
    json.dumps({"role": "root", "pid": 1, "host": "h", "started": 0, "heartbeat": 0}).encode(),
    json.dumps({"role": "trainer", "pid": 1, "host": "[b]node", "started": 0,
                "heartbeat": 0}).encode(),
])
def test_a_record_that_is_not_a_lock_is_no_holder(tmp_path, content):
    lock_path(tmp_path).write_bytes(content)
    assert read_holder(tmp_path) is None
    with hold_run(tmp_path, "trainer"):  # and it does not block
        pass


def test_a_run_id_that_is_not_a_plain_name_is_dropped_not_shown(tmp_path):
    # The trainer copies run_id from a checkpoint, which may be anyone's: the lock stays valid.
    write_record(tmp_path, run_id="\x1b]52;c;cHduZWQ=\x07")
    assert read_holder(tmp_path).run_id is None


def test_without_flock_the_pid_decides(tmp_path, monkeypatch):
    # A network file system that refuses flock: the record alone decides.
    def unsupported(fd, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", unsupported)
    with holder_of(tmp_path):  # holds the flock itself: this process cannot see it
        assert live_holder(tmp_path) is not None
        with pytest.raises(RunwatchError, match="still running"):
            acquire(tmp_path)
    write_record(tmp_path, pid=dead_pid())
    with hold_run(tmp_path, "trainer") as lock:
        assert lock.replaced is not None


def test_a_run_directory_created_for_a_run_that_wrote_nothing_is_removed(tmp_path):
    with hold_run(tmp_path / "new" / "run", "trainer"):
        assert (tmp_path / "new" / "run" / "run.lock").is_file()
    assert not (tmp_path / "new" / "run").exists()
    with hold_run(tmp_path / "kept", "trainer"):
        (tmp_path / "kept" / "metrics.jsonl").write_text("")
    assert (tmp_path / "kept" / "metrics.jsonl").is_file()


def test_a_run_directory_that_cannot_be_made_is_one_line(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(RunwatchError, match="cannot use .*file/run as a run directory"):
        acquire(tmp_path / "file" / "run")


def test_this_process_holding_the_run_does_not_block_itself(tmp_path):
    with hold_run(tmp_path, "rewind"):
        ensure_not_live(tmp_path)  # a rewind writes its edit while it holds the run


def test_the_run_of_a_checkpoint():
    assert checkpoint_run_dir(Path("runs/x/checkpoints/last.pt")) == Path("runs/x")
    assert checkpoint_run_dir(Path("elsewhere/e.pt")) == Path("elsewhere")


def test_a_wait_gives_up_at_its_timeout(tmp_path):
    with holder_of(tmp_path) as other:
        started = time.monotonic()
        assert not wait_released(tmp_path, timeout_s=0.3, poll_s=0.05)
        assert time.monotonic() - started < 5
        other.send_signal(signal.SIGTERM)
        assert wait_released(tmp_path, timeout_s=10)


# A real trainer ----------------------------------------------------------------------------

def start_trainer(tmp_path: Path) -> tuple[subprocess.Popen, Path, Path]:
    """A tiny run long enough to be stopped (it trains until SIGTERM), at its second epoch."""
    config = write_toml(tmp_path / "tiny.toml", tiny_dict(train={"epochs": 10_000}))
    run_dir = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, "-m", "runwatch.trainer", "--config", str(config),
         "--run-dir", str(run_dir)],
        cwd=REPO, env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while epochs_in(run_dir) < 2 or not (run_dir / "checkpoints" / "best.pt").is_file():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the trainer did not train 2 epochs"
        time.sleep(0.1)
    return process, config, run_dir


def epochs_in(run_dir: Path) -> int:
    if not (run_dir / "metrics.jsonl").is_file():
        return 0
    return sum(r["type"] == "epoch" for r in read_stream(run_dir)[0])


@pytest.mark.slow
def test_a_running_trainer_holds_its_run_until_it_stops(tmp_path, capsys):
    process, config, run_dir = start_trainer(tmp_path)
    try:
        holder = live_holder(run_dir)
        assert (holder.role, holder.pid) == ("trainer", process.pid)
        assert holder.run_id == read_stream(run_dir)[0][0]["run_id"]
        refusal = (f"the trainer (pid {process.pid}) is still running: stop it first "
                   f"(kill -TERM {process.pid}; it checkpoints and exits)")
        capsys.readouterr()

        assert main(["ckpt", "rewind", str(run_dir), "--yes"]) == 2
        out, err = capsys.readouterr()
        assert err == f"runwatch: error: {run_dir}: {refusal}\n"
        assert out == ""  # refused before the preview, not after it
        best = run_dir / "checkpoints" / "best.pt"
        assert main(["ckpt", "edit", str(best), "--in-place", "--t0", "7", "--yes"]) == 2
        assert refusal in capsys.readouterr().err
        edited = run_dir / "checkpoints" / "edited.pt"
        assert main(["ckpt", "edit", str(best), "-o", str(edited), "--t0", "7", "--yes"]) == 2
        assert refusal in capsys.readouterr().err
        assert main(["ckpt", "rewind", str(run_dir), "--dry-run"]) == 0
        assert f"dry run: nothing written; writing is refused now: {refusal}" in \
            capsys.readouterr().out
        # A second trainer, resuming or starting afresh in the same folder.
        assert main(["train", "--config", str(config), "--resume-from", str(run_dir)]) == 2
        assert refusal in capsys.readouterr().err
        assert main(["train", "--config", str(config), "--run-dir", str(run_dir)]) == 2
        assert refusal in capsys.readouterr().err

        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0, process.communicate()
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()
    records = read_stream(run_dir)[0]
    assert records[-1]["status"] == "interrupted"
    assert not any(r.get("kind") == "rewind" for r in records)  # the refusals wrote nothing
    assert not edited.exists() and not list(run_dir.glob("checkpoints/*.bak*"))
    assert not lock_path(run_dir).exists()

    assert main(["ckpt", "rewind", str(run_dir), "--yes"]) == 0  # stopped: allowed
    assert read_stream(run_dir)[0][-1]["kind"] == "rewind"
    assert not lock_path(run_dir).exists()  # the rewind's own hold is released too


@pytest.mark.slow
def test_a_failed_run_releases_the_lock_it_held(tmp_path, monkeypatch):
    from runwatch.trainer import train

    seen = []

    def evaluate_then_fail(*args, **kwargs):
        seen.append(live_holder(tmp_path))
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(train, "evaluate", evaluate_then_fail)
    with pytest.raises(RuntimeError, match="disk on fire"):
        train.run(tiny_config(train={"epochs": 2}), tmp_path)
    assert seen[0].pid == os.getpid() and seen[0].role == "trainer"
    assert read_stream(tmp_path)[0][-1]["status"] == "failed"
    assert not lock_path(tmp_path).exists()


@pytest.mark.slow
def test_a_killed_trainers_lock_is_stale_and_the_next_run_says_so(tmp_path, capsys):
    from runwatch.trainer.train import run

    pid = dead_pid()
    write_record(tmp_path, pid=pid)
    assert run(tiny_config(train={"epochs": 1}), tmp_path).status == "completed"
    assert f"replaced the stale lock of the trainer (pid {pid})" in capsys.readouterr().out
    assert not lock_path(tmp_path).exists()
