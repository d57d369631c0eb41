"""Shells around the app: open a source and run the monitor, or start the demo training.

The demo starts `python -m trainer --config smoke_cpu --run-dir DIR` as its own process (its
own session, so a Ctrl-C in the monitor does not reach it); on quit the app asks whether to
stop it (SIGTERM: the trainer checkpoints and stops) or leave it running.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from runwatch.errors import RunwatchError
from runwatch.trainer.cli import require_training_extra

DEMO_CONFIG = "smoke_cpu"
STOP_WAIT_S = 30


def watch(path: Path, target: float | None = None, metric: str | None = None,
          replay: float | None = None, lr_tag: str | None = None,
          choice: str | None = None) -> int:
    from runwatch.stream.sources import open_source

    if replay is not None:
        from runwatch.stream.replay import open_replay

        if replay <= 0:
            raise RunwatchError(f"--replay {replay}: the speed must be positive (epochs/s)")
        source = open_replay(path, replay, metric, lr_tag=lr_tag, choice=choice)
    else:
        source = open_source(path, metric, lr_tag=lr_tag, choice=choice)
    _run_app(source, path, target)
    return 0


def demo_seed_run(epochs_per_s: float) -> int:
    from runwatch.stream.replay import ReplaySource, seed_run_records

    source = ReplaySource(seed_run_records(), epochs_per_s, kind="seed run replay")
    _run_app(source, Path("seed-run"), None, run_name="ResNet50/ImageNet seed run")
    return 0


def demo_command(run_dir: Path) -> list[str]:
    return [sys.executable, "-m", "runwatch.trainer", "--config", DEMO_CONFIG,
            "--run-dir", str(run_dir)]


def demo() -> int:
    require_training_extra("runwatch demo (it trains a small model; --seed-run does not)")
    run_dir = Path(tempfile.mkdtemp(prefix="runwatch-demo-"))
    log = open(run_dir / "train.log", "w")  # noqa: SIM115 - the child writes it
    process = subprocess.Popen(demo_command(run_dir), stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    log.close()
    print(f"runwatch demo: training in the background (pid {process.pid}), run dir {run_dir}")
    from runwatch.stream.sources import open_source

    choice = _run_app(open_source(run_dir), run_dir, None, training=process,
                      config_name=DEMO_CONFIG)
    return finish_training(process, run_dir, choice)


def finish_training(process: subprocess.Popen, run_dir: Path, choice: str | None) -> int:
    """Stop the demo's training (SIGTERM, then wait) or say how to re-attach."""
    if process.poll() is not None:
        print(f"runwatch demo: the training ended (exit {process.returncode}); run in {run_dir}")
        return 0
    if choice == "leave":
        print(f"runwatch demo: training left running (pid {process.pid}); re-attach with:\n"
              f"  runwatch watch {run_dir}")
        return 0
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


def _run_app(source, path: Path, target: float | None, **kwargs) -> str | None:
    from runwatch.tui.app import RunwatchApp

    return RunwatchApp(source, path, target=target, **kwargs).run()
