"""The demo's process handling: a stand-in trainer that writes a stream and obeys SIGTERM."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from runwatch.errors import RunwatchError
from runwatch.tui import launch

FAKE_TRAINER = r"""
import json, signal, sys, time
from pathlib import Path
stream = Path(sys.argv[-1]) / "metrics.jsonl"
stopped = []
signal.signal(signal.SIGTERM, lambda *_: stopped.append(1))
with open(stream, "a") as f:
    f.write(json.dumps({"type": "run_start", "time": time.time(), "epochs": 3}) + "\n")
    f.flush()
    while not stopped:
        time.sleep(0.05)
    f.write(json.dumps({"type": "run_end", "time": time.time(), "status": "interrupted"}) + "\n")
"""


def fake_command(run_dir: Path) -> list[str]:
    return [sys.executable, "-c", FAKE_TRAINER, str(run_dir)]


@pytest.mark.parametrize("choice", ["stop", "leave"])
def test_demo_starts_training_and_stops_or_leaves_it(monkeypatch, capsys, choice):
    started = []

    def fake_app(source, path, target, training=None, notify=None):
        started.append((path, training))
        end = time.monotonic() + 10
        while not (path / "metrics.jsonl").exists() and time.monotonic() < end:
            time.sleep(0.05)
        return choice, SimpleNamespace(return_code=0)

    monkeypatch.setattr(launch, "demo_command", fake_command)
    monkeypatch.setattr(launch, "_run_app", fake_app)
    assert launch.demo() == 0
    (run_dir, process), = started
    out = capsys.readouterr().out
    assert f"run dir {run_dir}" in out
    try:
        if choice == "stop":
            assert process.returncode is not None and "training stopped" in out
            assert '"status": "interrupted"' in (run_dir / "metrics.jsonl").read_text()
        else:
            assert process.poll() is None
            assert f"runwatch watch {run_dir}" in out
    finally:
        process.kill()
        process.wait()


def test_finish_training_that_already_ended(tmp_path, capsys):
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    assert launch.finish_training(process, tmp_path, "stop") == 0
    assert "the training ended (exit 0)" in capsys.readouterr().out


def test_replay_speed_must_be_positive(tmp_path):
    with pytest.raises(RunwatchError, match="speed must be positive"):
        launch.watch(tmp_path, replay=0.0)


def test_stopping_says_so_before_it_waits_for_the_checkpoint(tmp_path, capsys, monkeypatch):
    # Defect: after "stop", nothing was shown for ~20 s while the trainer checkpointed.
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    said_before_waiting = []
    wait = process.wait

    def waiting(timeout=None):
        said_before_waiting.append(capsys.readouterr().out)
        return wait(timeout)

    monkeypatch.setattr(process, "wait", waiting)
    try:
        assert launch.finish_training(process, tmp_path, "stop") == 0
    finally:
        process.kill()
        wait()
    assert "stopping the training" in said_before_waiting[0]
    assert "waiting for its checkpoint (up to 30 s)" in said_before_waiting[0]


def test_a_crash_in_the_monitor_exits_non_zero(tmp_path, monkeypatch):
    # Issue 9: a record that crashed the monitor left it with exit status 0.
    from runwatch.tui.run_model import RunModel

    def broken(self, records, steps=None):
        raise RuntimeError("a bug")

    (tmp_path / "metrics.jsonl").write_text('{"type": "run_start", "time": 1.0}\n')
    monkeypatch.setattr(RunModel, "apply", broken)
    assert launch.watch(tmp_path) == 1
