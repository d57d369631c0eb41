"""`runwatch train` / `python -m trainer`: light imports, errors as one line and status 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from trainer_tiny import tiny_dict, write_toml

from runwatch.cli import main
from runwatch.errors import RunwatchError
from runwatch.trainer.cli import default_run_dir

REPO = Path(__file__).resolve().parent.parent


def test_the_torch_free_modules_do_not_import_torch():
    code = ("import sys, runwatch.stream, runwatch.schedule, runwatch.trainer.config, "
            "runwatch.trainer.cli, runwatch.runlock; "
            "heavy = [m for m in ('torch', 'torchvision', 'numpy') if m in sys.modules]; "
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=REPO)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(("args", "message"), [
    (["--config", "does-not-exist"], "config file does-not-exist not found"),
    (["--config", "{bad}", "--set", "optim.momentum=fast"], "optim.momentum in"),
    (["--config", "{bad}", "--set", "train.epochs"], "is not section.key=value"),
    (["--config", "{good}", "--override-schedule"], "only applies with --resume-from"),
    (["--config", "{good}", "--resume-from", "{missing}"], "not found"),
    (["--config", "{good}", "--set", "train.seed=-1"], "train.seed in --set is -1"),
    (["--config", "{good}", "--set", "optim.lr=inf"], "optim.lr in --set is inf"),
    # Bounded before anything is built: no worker is forked, no memory asked for.
    (["--config", "{good}", "--set", "data.workers=100000"], "data.workers is 100000, more "
                                                              "than the"),
    (["--config", "{good}", "--set", "model.num_classes=100000000000"], "training it needs"),
])
def test_user_errors_exit_2_with_one_line(tmp_path, capsys, args, message):
    good = write_toml(tmp_path / "good.toml", tiny_dict())
    args = [a.format(bad=good, good=good, missing=tmp_path / "nope.pt") for a in args]
    assert main(["train", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("runwatch: error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_python_dash_m_trainer_reports_errors_the_same_way(tmp_path):
    out = subprocess.run([sys.executable, "-m", "runwatch.trainer", "--config", "nope"],
                         capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 2 and out.stderr.startswith("runwatch: error: config file nope")


def test_default_run_dirs(tmp_path):
    assert default_run_dir(Path("configs/smoke_cpu.toml"), None).name.startswith("smoke_cpu-")
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    assert default_run_dir(Path("x.toml"), run / "checkpoints" / "epoch-0003.pt") == run
    assert default_run_dir(Path("x.toml"), run) == run


def test_a_checkpoint_outside_a_run_needs_a_run_dir(tmp_path):
    # An edited copy saved elsewhere (`ckpt edit -o edits/x.pt`) must not start a new stream
    # beside itself, split from the run's own.
    (tmp_path / "edited.pt").write_bytes(b"PK")
    with pytest.raises(RunwatchError, match="pass --run-dir"):
        default_run_dir(Path("x.toml"), tmp_path / "edited.pt")
    (tmp_path / "metrics.jsonl").write_text("")
    assert default_run_dir(Path("x.toml"), tmp_path / "edited.pt") == tmp_path
