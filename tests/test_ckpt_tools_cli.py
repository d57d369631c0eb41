"""`runwatch ckpt ...`: bad input is exit status 2, one line, no traceback, nothing written."""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch
from ckpt_builders import Payload, tiny_model, torchvision_args, torchvision_checkpoint
from torch.optim.lr_scheduler import LambdaLR, OneCycleLR

from runwatch.cli import main


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    return torchvision_checkpoint(tmp_path_factory.mktemp("good") / "model_29.pth", 30)


def _bad_files(folder, good):
    model = tiny_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    files = {
        "missing": folder / "missing.pt",
        "directory": folder / "somedir",
        "empty": folder / "empty.pt",
        "truncated": folder / "truncated.pt",
        "garbage": folder / "garbage.pt",
        "text": folder / "notes.txt",
        "payload": folder / "payload.pt",
        "no_optimizer": folder / "weights.pt",
        "no_scheduler": folder / "noscheduler.pt",
        "lambda_scheduler": folder / "lambda.pt",
        "onecycle_scheduler": folder / "onecycle.pt",
    }
    files["directory"].mkdir()
    files["empty"].write_bytes(b"")
    files["truncated"].write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    files["garbage"].write_bytes(os.urandom(4096))
    files["text"].write_text("epoch,lr\n1,0.05\n")
    torch.save({"model": model.state_dict(), "x": Payload(folder / "pwned")}, files["payload"])
    torch.save(model.state_dict(), files["no_optimizer"])
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3,
                "args": torchvision_args()}, files["no_scheduler"])
    for name, sched in (("lambda_scheduler", LambdaLR(opt, lambda e: 0.9**e)),
                        ("onecycle_scheduler", OneCycleLR(opt, max_lr=0.1, total_steps=10))):
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                    "lr_scheduler": sched.state_dict(), "epoch": 3,
                    "args": torchvision_args()}, files[name])
    return files


BAD_INPUTS = ["missing", "directory", "empty", "truncated", "garbage", "text", "payload",
              "no_optimizer", "no_scheduler", "lambda_scheduler", "onecycle_scheduler"]


@pytest.fixture(scope="module")
def bad(tmp_path_factory, good):
    return _bad_files(tmp_path_factory.mktemp("bad"), good)


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("runwatch: error: "), err
    return lines[0]


def _not_a_file(kind: str, folder: Path) -> Path:
    if kind == "FIFO":
        os.mkfifo(folder / "fifo.pt")
        return folder / "fifo.pt"
    if kind == "socket":
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind(str(folder / "sock.pt"))
        return folder / "sock.pt"
    return Path("/dev/zero")


@pytest.mark.parametrize("kind", ["FIFO", "character device", "socket"])
def test_a_path_that_is_not_a_regular_file_says_what_it_is(kind, tmp_path, capsys):
    # Never opened: reading a FIFO waits for a writer forever, /dev/zero never ends.
    path = _not_a_file(kind, tmp_path)
    for args in (["inspect", str(path)], ["edit", str(path), "-o", str(tmp_path / "o.pt"),
                                          "--t0", "5", "--yes"]):
        assert main(["ckpt", *args]) == 2
        assert f"{path} is not a regular file (a {kind})" in _one_line_error(capsys)


def test_an_unreadable_checkpoint_is_one_line(good, tmp_path, monkeypatch, capsys):
    path = tmp_path / "locked.pth"
    path.write_bytes(good.read_bytes())
    if os.geteuid() == 0:  # root reads a mode-000 file: deny the open as the kernel would
        real_open = open

        def deny(file, *args, **kwargs):
            if Path(file) == path:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr("builtins.open", deny)
    else:
        path.chmod(0)
    assert main(["ckpt", "inspect", str(path)]) == 2
    assert f"cannot read {path} (Permission denied)" in _one_line_error(capsys)


@pytest.mark.parametrize("kind", BAD_INPUTS)
def test_bad_input_to_edit_is_exit_2_one_line_nothing_written(bad, kind, tmp_path, capsys):
    before = sorted(os.listdir(bad["empty"].parent))
    out = tmp_path / "out.pt"
    code = main(["ckpt", "edit", str(bad[kind]), "-o", str(out), "--t0", "50", "--yes"])
    assert code == 2
    _one_line_error(capsys)
    assert not out.exists() and list(tmp_path.iterdir()) == []
    assert sorted(os.listdir(bad["empty"].parent)) == before
    assert not (bad["empty"].parent / "pwned").exists()


@pytest.mark.parametrize("kind", ["missing", "empty", "truncated", "garbage", "text", "payload"])
def test_bad_input_to_inspect_is_exit_2(bad, kind, capsys):
    assert main(["ckpt", "inspect", str(bad[kind])]) == 2
    _one_line_error(capsys)


@pytest.mark.parametrize("flags,word", [(["--t0", "0"], "--t0"), (["--lr", "-1"], "--lr"),
                                        (["--t-mult", "0"], "--t-mult")])
def test_out_of_range_values_are_exit_2(good, tmp_path, capsys, flags, word):
    assert main(["ckpt", "edit", str(good), "-o", str(tmp_path / "o.pt"), *flags, "--yes"]) == 2
    assert word in _one_line_error(capsys)
    assert not (tmp_path / "o.pt").exists()


def test_without_a_terminal_edit_asks_for_yes(good, tmp_path, capsys):
    out = tmp_path / "o.pt"
    assert main(["ckpt", "edit", str(good), "-o", str(out), "--t0", "100"]) == 2
    assert "--yes" in _one_line_error(capsys)
    assert not out.exists()


def test_dry_run_prints_the_preview_and_writes_nothing(good, tmp_path, capsys):
    out = tmp_path / "o.pt"
    assert main(["ckpt", "edit", str(good), "-o", str(out), "--t0", "100", "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "270x" in text and "WARNING" in text and "dry run" in text
    assert not out.exists()


def test_edit_then_diff_shows_only_the_schedule_fields(good, tmp_path, capsys):
    out = tmp_path / "o.pt"
    assert main(["ckpt", "edit", str(good), "-o", str(out), "--t0", "100",
                 "--continuity", "anneal-from-current", "--epochs", "100", "--yes"]) == 0
    assert "verified" in capsys.readouterr().out
    assert main(["ckpt", "diff", str(good), str(out), "--json", "--values"]) == 0
    diff = json.loads(capsys.readouterr().out)
    keys = {c["key"] for c in diff["changed"]}
    assert "lr_scheduler.T_0" in keys and "lr_scheduler.T_i" in keys
    assert all(k.startswith(("lr_scheduler.", "optimizer.param_groups.")) for k in keys)
    assert diff["tensors_compared"] > 0 and diff["tensor_values_differ"] == []


def test_inspect_json_reports_the_restart_jump(good, capsys):
    assert main(["ckpt", "inspect", str(good), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["layout"] == "torchvision" and info["epochs_done"] == 30
    assert info["jumps"][0]["epoch"] == 31 and info["jumps"][0]["ratio"] > 300
    assert info["optimizer"]["param_groups"][0]["momentum"] == 0.9


def test_a_trainer_folder_without_its_arguments_is_inspected_and_not_edited(tmp_path, capsys):
    from safetensors.torch import save_file

    model = tiny_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = LambdaLR(opt, lambda step: 1 - step / 100)
    folder = tmp_path / "checkpoint-500"
    folder.mkdir()
    torch.save(opt.state_dict(), folder / "optimizer.pt")
    torch.save(sched.state_dict(), folder / "scheduler.pt")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()},
              folder / "model.safetensors")
    (folder / "trainer_state.json").write_text(json.dumps(
        {"epoch": 2.0, "global_step": 500, "best_metric": 0.71, "log_history": []}))
    assert main(["ckpt", "inspect", str(folder), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["layout"] == "hf-trainer" and info["scheduler_type"] == "LambdaLR"
    assert info["model"]["tensors"] == 4 and info["global_step"] == 500
    assert "no training_args.bin" in info["lr_note"]
    assert main(["ckpt", "edit", str(folder), "-o", str(tmp_path / "x"), "--lr", "0.1",
                 "--yes"]) == 2
    _one_line_error(capsys)


def test_real_subprocess_refuses_a_payload(bad, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "runwatch", "ckpt", "edit", str(bad["payload"]), "-o",
         str(tmp_path / "o.pt"), "--t0", "50", "--yes"],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "system" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (bad["payload"].parent / "pwned").exists()
    assert not (tmp_path / "o.pt").exists()
    assert zipfile.is_zipfile(bad["payload"])  # the input is untouched


# `ckpt edit` with its writer blocked after the last record is written, before the publish.
BLOCKED_EDIT = """
import sys
from runwatch.ckpt_tools import zipfmt
rewrite = zipfmt.rewrite_archive
def rewrite_then_block(archive, new_pickle, dst):
    rewrite(archive, new_pickle, dst)
    dst.flush()
    print("written", flush=True)
    sys.stdin.read()
zipfmt.rewrite_archive = rewrite_then_block
from runwatch.cli import main
main(["ckpt", "edit", sys.argv[1], "-o", sys.argv[2], "--t0", "50", "--yes"])
"""


def test_the_partial_file_of_a_killed_edit_is_visible_and_the_next_edit_removes_it(
        good, tmp_path, capsys):
    out = tmp_path / "out.pth"
    proc = subprocess.Popen([sys.executable, "-c", BLOCKED_EDIT, str(good), str(out)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert any(line == "written\n" for line in proc.stdout)  # after the preview
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        proc.kill()
        proc.wait()
    [partial] = tmp_path.iterdir()
    assert partial.name.startswith("out.pth.runwatch-partial-")  # visible, says what it is
    assert partial.stat().st_size > good.stat().st_size // 2
    assert main(["ckpt", "edit", str(good), "-o", str(tmp_path / "again.pth"), "--t0", "50",
                 "--yes"]) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["again.pth"]


@pytest.fixture(scope="module")
def per_step_ckpt(tmp_path_factory):
    """Epoch 2 of 4 of a tiny runwatch run whose schedule steps after every optimizer step."""
    from trainer_tiny import tiny_config

    from runwatch.trainer.train import run

    run_dir = tmp_path_factory.mktemp("per_step")
    run(tiny_config(schedule={"step_per": "step"}, train={"checkpoint_keep": 4}), run_dir)
    return run_dir / "checkpoints" / "epoch-0002.pt"


def test_edit_of_a_per_step_schedule_is_refused_in_one_line(per_step_ckpt, tmp_path, capsys):
    before = per_step_ckpt.read_bytes()
    out = tmp_path / "o.pt"
    assert main(["ckpt", "edit", str(per_step_ckpt), "-o", str(out), "--t0", "10",
                 "--yes"]) == 2
    line = _one_line_error(capsys)
    assert "per-step schedules cannot be edited yet" in line and "--override-schedule" in line
    assert not out.exists() and per_step_ckpt.read_bytes() == before


def test_inspect_shows_a_per_step_schedule_by_each_epochs_first_step(per_step_ckpt, capsys):
    from runwatch.schedule import lr_at_step, lr_plan, spec_from_dict

    assert main(["ckpt", "inspect", str(per_step_ckpt), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    spec = spec_from_dict(torch.load(per_step_ckpt, weights_only=True)["schedule"])
    assert spec.steps_per_epoch == 8 and info["epochs_done"] == 2
    assert info["next_lrs"] == pytest.approx(lr_plan(spec, 3, 4))
    assert info["next_lrs"][0] == pytest.approx(lr_at_step(spec, 2 * 8 + 1))
    assert info["last_lr"] == pytest.approx(lr_plan(spec, 2, 2)[0])
    assert "per-step" in info["lr_note"]
    assert main(["ckpt", "inspect", str(per_step_ckpt)]) == 0
    assert "per-step schedule" in capsys.readouterr().out


def test_a_hint_the_layout_does_not_use_is_refused_not_ignored(per_step_ckpt, good, capsys):
    assert main(["ckpt", "inspect", str(per_step_ckpt), "--epoch-key", "nope"]) == 2
    line = _one_line_error(capsys)
    assert "--epoch-key nope: a runwatch checkpoint does not use it" in line
    assert main(["ckpt", "inspect", str(good), "--steps-per-epoch", "1"]) == 0  # torchvision's


def test_each_layout_declares_the_hints_it_reads():
    import inspect as source
    import re

    from runwatch.ckpt_tools.layouts import LAYOUTS

    for layout in LAYOUTS:
        read = set(re.findall(r"\bhints\.(\w+)\b", source.getsource(type(layout))))
        assert read - {"path_of"} == set(layout.uses_hints), layout.name
