"""End to end: `runwatch watch` in a real terminal (tmux), on a stream that grows."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from tui_records import epoch, run_records, write_stream

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None,
                                reason="tmux is not installed: no real terminal to drive")


def screen(session: str) -> str:
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", session], check=True,
                          capture_output=True, text=True).stdout


def wait_screen(session: str, text: str, timeout: float = 20.0) -> str:
    end = time.monotonic() + timeout
    while True:
        shown = screen(session)
        if text in shown:
            return shown
        if time.monotonic() > end:
            raise AssertionError(f"{text!r} not on screen after {timeout} s:\n{shown}")
        time.sleep(0.2)


def test_watch_a_growing_stream_in_tmux(tmp_path: Path):
    stream = write_stream(tmp_path / "metrics.jsonl", run_records(3))
    session = f"runwatch-e2e-{uuid.uuid4().hex[:8]}"
    runwatch = Path(sys.executable).parent / "runwatch"
    # NO_COLOR: alerts must still read by their text markers.
    command = f"NO_COLOR=1 {runwatch} watch {tmp_path}; echo EXITED $?; sleep 30"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "40",
                    command], check=True)
    try:
        wait_screen(session, "epoch 3 of 40")
        shown = wait_screen(session, "q Quit")
        assert "Alerts" in shown and "LR RESTART AHEAD" in shown
        write_stream(stream, [epoch(e) for e in range(4, 12)], "a")
        shown = wait_screen(session, "epoch 11 of 40", timeout=5)
        assert "LR RESTART" in shown  # epoch 11's tag in the table
        # The regression is judged by the forecast, which follows the new epochs.
        wait_screen(session, "[!] REGRESSION: epoch 11 after an LR restart", timeout=10)
        with open(stream, "a") as f:
            f.write("garbage that is not json\n")
        wait_screen(session, "bad lines 1", timeout=5)
        subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=True)
        wait_screen(session, "EXITED 0", timeout=10)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)


def test_seed_replay_fix_then_copy_its_command_in_tmux_at_80x24():
    # The loop closed in a real terminal: the fix recommended, one key to its dialog, the
    # command kept, and copied with c through OSC 52 (tmux with set-clipboard on keeps it).
    session = f"runwatch-e2e-{uuid.uuid4().hex[:8]}"
    runwatch = Path(sys.executable).parent / "runwatch"
    command = f"{runwatch} demo --seed-run --speed 2; echo EXITED $?; sleep 30"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "80", "-y", "24",
                    command], check=True)
    try:
        subprocess.run(["tmux", "set-option", "-s", "-t", session, "set-clipboard", "on"],
                       check=True)
        shown = wait_screen(session, " instead of ", timeout=60)
        assert "LR RESTART AHEAD" in shown and "predicted drop" in shown
        subprocess.run(["tmux", "send-keys", "-t", session, "f"], check=True)
        wait_screen(session, "Edit the schedule from epoch", timeout=10)
        subprocess.run(["tmux", "send-keys", "-t", session, "C-s"], check=True)
        wait_screen(session, "c Copy cmd", timeout=10)
        subprocess.run(["tmux", "send-keys", "-t", session, "c"], check=True)
        end = time.monotonic() + 10
        buffer = ""
        while "runwatch ckpt rewind RUN_DIR --to" not in buffer and time.monotonic() < end:
            time.sleep(0.2)
            buffer = subprocess.run(["tmux", "show-buffer"], capture_output=True,
                                    text=True).stdout
        assert buffer.startswith("runwatch ckpt rewind RUN_DIR --to ")
        subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=True)
        wait_screen(session, "EXITED 0", timeout=10)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)
