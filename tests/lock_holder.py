"""Another process holding a run the way the trainer does (runwatch.runlock, role "trainer"),
until it gets SIGTERM: a stand-in for a running trainer that starts in a fraction of a second."""

from __future__ import annotations

import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

HOLD = """
import signal, sys, threading
from runwatch.runlock import hold_run
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
with hold_run(sys.argv[1], "trainer"):
    print("held", flush=True)
    stop.wait(120)
"""


def start_holder(run_dir: Path) -> subprocess.Popen:
    """A process that holds `run_dir` (it has written run.lock when this returns)."""
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(run_dir)], cwd=REPO,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    assert line == "held\n", process.communicate()
    return process


@contextmanager
def holder_of(run_dir: Path):
    process = start_holder(run_dir)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()
