"""Shells around the app: open a source and run the monitor, or start the demo training.

The demo starts `python -m runwatch.trainer --config smoke_cpu --run-dir DIR` as its own
process (its own session, so a Ctrl-C in the monitor does not reach it); on quit the app asks
whether to stop it (SIGTERM: the trainer checkpoints and stops) or leave it running. A monitor
that crashes exits non-zero (its traceback is Textual's), never 0.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from runwatch.errors import RunwatchError
from runwatch.terminal import printable
from runwatch.trainer.cli import require_training_extra

DEMO_CONFIG = "smoke_cpu"
STOP_WAIT_S = 30
CRASHED = 1  # exit status of a monitor that crashed (a bug: Textual prints the traceback)


def watch(path: Path, target: float | None = None, metric: str | None = None,
          replay: float | None = None, lr_tag: str | None = None,
          choice: str | None = None, notify=None) -> int:
    from runwatch.stream.sources import open_source

    if replay is not None:
        from runwatch.stream.replay import open_replay

        if replay <= 0:
            raise RunwatchError(f"--replay {replay}: the speed must be positive (epochs/s)")
        source = open_replay(path, replay, metric, lr_tag=lr_tag, choice=choice)
    else:
        source = open_source(path, metric, lr_tag=lr_tag, choice=choice)
    return _exit_status(_run_app(source, path, target, replay=replay is not None,
                                 notify=notify)[1])


def watch_runs(scanner, target: float | None = None, metric: str | None = None,
               lr_tag: str | None = None, notify=None,
               run=lambda app: app.run()) -> int:
    """The run list; Enter opens a run in the monitor, whose Esc comes back to the list as it
    was. One app at a time (`run` runs each: tests drive them headless): the monitor stays the
    app it is for one run, and the list's state (`ListState`) outlives both."""
    from runwatch.stream.sources import open_source
    from runwatch.tui.app import RunwatchApp
    from runwatch.tui.runs_app import ListState, RunsApp

    state = ListState(scanner)
    while True:
        listing = RunsApp(state, target=target)
        run(listing)
        chosen = listing.return_value
        if listing.return_code or chosen is None:
            return _exit_status(listing)
        try:
            source = open_source(chosen, metric, lr_tag=lr_tag)
        except RunwatchError as exc:
            state.problem = f"{printable(chosen)}: {printable(exc)}"
            continue
        monitor = RunwatchApp(source, chosen, target=target, notify=notify, back=True)
        run(monitor)
        if monitor.return_code or monitor.return_value != "back":
            return _exit_status(monitor)


def demo_seed_run(epochs_per_s: float | None, headless: bool = False, notify=None) -> int:
    """The seed run replayed; headless (for CI): stepped epoch by epoch when no speed is given,
    and a plain-text summary printed at the end."""
    from runwatch.stream.replay import ReplaySource, seed_run_records
    from runwatch.tui import headless as hl
    from runwatch.tui.app import RunwatchApp

    if epochs_per_s is not None and epochs_per_s <= 0:
        raise RunwatchError(f"--speed {epochs_per_s}: the speed must be positive (epochs/s)")
    speed = epochs_per_s or 1.0
    clock = hl.StepClock() if headless and epochs_per_s is None else None
    source = ReplaySource(seed_run_records(), speed, kind="seed run replay",
                          **({"clock": clock} if clock is not None else {}))
    app = RunwatchApp(source, Path("seed-run"), run_name="ResNet50/ImageNet seed run",
                      replay=True, notify=notify, poll_s=0.05 if headless else 0.25)
    if not headless:
        app.run()
        return _exit_status(app)
    app.run(headless=True, size=hl.SIZE, auto_pilot=hl.stepper(clock, speed))
    if app.return_code:
        return _exit_status(app)
    print(hl.summary(app))
    return 0


def demo_command(run_dir: Path) -> list[str]:
    return [sys.executable, "-m", "runwatch.trainer", "--config", DEMO_CONFIG,
            "--run-dir", str(run_dir)]


def demo(notify=None) -> int:
    require_training_extra("runwatch demo (it trains a small model; --seed-run does not)")
    run_dir = Path(tempfile.mkdtemp(prefix="runwatch-demo-"))
    log = open(run_dir / "train.log", "w")  # noqa: SIM115 - the child writes it
    process = subprocess.Popen(demo_command(run_dir), stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    log.close()
    print(f"runwatch demo: training in the background (pid {process.pid}), run dir {run_dir}")
    from runwatch.stream.sources import open_source

    choice, app = _run_app(open_source(run_dir), run_dir, None, training=process,
                           notify=notify)
    return _exit_status(app) or finish_training(process, run_dir, choice)


def finish_training(process: subprocess.Popen, run_dir: Path, choice: str | None) -> int:
    """Stop the demo's training (SIGTERM, then wait) or say how to re-attach."""
    if process.poll() is not None:
        print(f"runwatch demo: the training ended (exit {process.returncode}); run in {run_dir}")
        return 0
    if choice == "leave":
        print(f"runwatch demo: training left running (pid {process.pid}); re-attach with:\n"
              f"  runwatch watch {run_dir}")
        return 0
    # Said before the wait: the trainer finishes its step and writes a checkpoint first.
    print(f"runwatch demo: stopping the training (pid {process.pid}): waiting for its "
          f"checkpoint (up to {STOP_WAIT_S} s)...", flush=True)
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(STOP_WAIT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        print(f"runwatch demo: training did not stop in {STOP_WAIT_S} s; killed")
        return 1
    print(f"runwatch demo: training stopped (checkpointed); run in {run_dir}")
    return 0


def _exit_status(app) -> int:
    """0, or non-zero when the app crashed (Textual sets the return code and has printed the
    traceback): a crash must never look like success to a script or CI."""
    code = app.return_code
    return code if code else 0


def _run_app(source, path: Path, target: float | None, **kwargs):
    """(what the app exited with, the app)."""
    from runwatch.tui.app import RunwatchApp

    app = RunwatchApp(source, path, target=target, **kwargs)
    return app.run(), app
