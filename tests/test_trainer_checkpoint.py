"""Checkpoint files: weights-only loads, atomic writes, separate copies, no non-finite weights."""

from __future__ import annotations

import os
import random
import signal
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from ckpt_builders import Payload

from runwatch.atomic import PARTIAL_MARK
from runwatch.errors import RunwatchError
from runwatch.trainer import checkpoint as ckpt


def payload(epoch: int, value: float = 1.0) -> dict:
    return {"format": "runwatch", "format_version": 1, "epoch": epoch,
            "model": {"layer.weight": torch.full((4, 4), value), "layer.bias": torch.zeros(4)},
            "rng": ckpt.rng_state(), "config": {"train": {"epochs": 3}}}


def test_save_writes_separate_whole_files_and_keeps_the_newest(tmp_path):
    for epoch in range(1, 6):
        written = ckpt.save_checkpoint(tmp_path, payload(epoch), is_best=epoch == 2, keep=2)
    assert [p.name for p in written] == ["epoch-0005.pt", "last.pt"]
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert names == ["best.pt", "epoch-0004.pt", "epoch-0005.pt", "last.pt"]
    files = [tmp_path / "checkpoints" / n for n in names]
    assert all(f.stat().st_nlink == 1 for f in files)  # copies, never hard links
    assert len({f.stat().st_ino for f in files}) == len(files)
    assert ckpt.load_checkpoint(files[0])["epoch"] == 2
    assert ckpt.load_checkpoint(tmp_path)["epoch"] == 5  # a run dir means its last.pt


def test_pruning_leaves_the_files_of_an_abandoned_branch(tmp_path):
    for epoch in (5, 6, 7):
        ckpt.save_checkpoint(tmp_path, payload(epoch), is_best=False, keep=2)
    # Rewound to epoch 3: the new branch writes 4 and 5 (5 replaces the old branch's file).
    for epoch in (4, 5):
        ckpt.save_checkpoint(tmp_path, payload(epoch, value=2.0), is_best=False, keep=2)
    names = sorted(p.name for p in (tmp_path / "checkpoints").glob("epoch-*.pt"))
    assert names == ["epoch-0004.pt", "epoch-0005.pt", "epoch-0006.pt", "epoch-0007.pt"]
    assert ckpt.load_checkpoint(tmp_path / "checkpoints" / "epoch-0005.pt")["model"][
        "layer.weight"][0, 0] == 2.0


def test_refuses_non_finite_weights_and_keeps_the_old_files(tmp_path):
    ckpt.save_checkpoint(tmp_path, payload(1), is_best=True, keep=3)
    before = (tmp_path / "checkpoints" / "last.pt").read_bytes()
    bad = payload(2)
    bad["model"]["layer.weight"][0, 0] = float("nan")
    with pytest.raises(RunwatchError, match="non-finite.*layer.weight"):
        ckpt.save_checkpoint(tmp_path, bad, is_best=True, keep=3)
    assert (tmp_path / "checkpoints" / "last.pt").read_bytes() == before
    assert not (tmp_path / "checkpoints" / "epoch-0002.pt").exists()


WRITER = """
import sys, torch
from runwatch.trainer import checkpoint as ckpt
run_dir = sys.argv[1]
print("ready", flush=True)
epoch = 0
while True:
    epoch += 1
    model = {"w": torch.full((256, 1024), float(epoch))}  # 1 MiB: writes take a while
    ckpt.save_checkpoint(run_dir, {"format": "runwatch", "format_version": 1, "epoch": epoch,
                                   "model": model}, is_best=epoch % 3 == 0, keep=2)
"""


def test_sigkill_during_writes_leaves_every_name_absent_or_whole(tmp_path):
    rng = random.Random(0)
    for trial in range(4):
        run_dir = tmp_path / f"run{trial}"
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(run_dir)],
                                stdout=subprocess.PIPE, env={**os.environ, "OMP_NUM_THREADS": "1"})
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(0.3 + rng.random() * 0.7)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        names = [p for p in (run_dir / "checkpoints").iterdir() if PARTIAL_MARK not in p.name]
        assert names, "the writer wrote nothing before it was killed"
        for path in names:
            with zipfile.ZipFile(path) as archive:
                assert archive.testzip() is None
            loaded = ckpt.load_checkpoint(path)
            assert torch.equal(loaded["model"]["w"],
                               torch.full((256, 1024), float(loaded["epoch"])))


# A tiny run whose checkpoint writer blocks inside epoch 2's file, after writing its bytes.
BLOCKED_TRAINER = """
import os, sys
from pathlib import Path
fsync = os.fsync
def blocking_fsync(fd):
    name = os.readlink(f"/proc/self/fd/{fd}")
    if "epoch-0002" in name:
        print(name, flush=True)
        sys.stdin.read()
    fsync(fd)
os.fsync = blocking_fsync
sys.path.insert(0, "tests")
from trainer_tiny import tiny_config
from runwatch.trainer.train import run
run(tiny_config(train={"epochs": 3}), Path(sys.argv[1]))
"""


def test_the_partial_file_of_a_killed_trainer_is_removed_when_it_resumes(tmp_path):
    from trainer_tiny import tiny_config

    from runwatch.trainer.train import run

    run_dir = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-c", BLOCKED_TRAINER, str(run_dir)],
                            cwd=Path(__file__).resolve().parent.parent, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        partial = Path(next(line for line in proc.stdout if "epoch-0002" in line).strip())
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        proc.kill()
        proc.wait()
    folder = run_dir / "checkpoints"
    assert partial.parent == folder and partial.is_file()
    assert partial.name.startswith(f"epoch-0002.pt{PARTIAL_MARK}")  # visible, says what it is
    assert run(tiny_config(train={"epochs": 3}), run_dir, resume_from=run_dir).epoch == 3
    assert sorted(p.name for p in folder.iterdir()) == [
        "best.pt", "epoch-0002.pt", "epoch-0003.pt", "last.pt"]


def test_rng_state_round_trips_through_a_weights_only_file(tmp_path):
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    ckpt.save_checkpoint(tmp_path, payload(1), is_best=False, keep=1)
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    ckpt.set_rng_state(ckpt.load_checkpoint(tmp_path / "checkpoints" / "last.pt")["rng"])
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected


def test_load_refuses_what_is_not_a_runwatch_checkpoint(tmp_path):
    torch.save({"state_dict": {}}, tmp_path / "other.pt")
    with pytest.raises(RunwatchError, match="not a runwatch checkpoint") as err:
        ckpt.load_checkpoint(tmp_path / "other.pt")
    # No runwatch command converts other trainers' checkpoints: the message must not say so.
    assert "convert" not in str(err.value) and "start a fresh run" in str(err.value)
    (tmp_path / "junk.pt").write_bytes(b"not a zip")
    with pytest.raises(RunwatchError, match="weights_only=True"):
        ckpt.load_checkpoint(tmp_path / "junk.pt")
    with pytest.raises(RunwatchError, match="not found"):
        ckpt.load_checkpoint(tmp_path / "missing.pt")


def test_load_never_unpickles_code(tmp_path):
    class Payload:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "pwned"),))

    torch.save({"format": "runwatch", "format_version": 1, "x": Payload()}, tmp_path / "evil.pt")
    with pytest.raises(RunwatchError):
        ckpt.load_checkpoint(tmp_path / "evil.pt")
    assert not (tmp_path / "pwned").exists()


def test_strip_prefixes():
    sd = {"module._orig_mod.conv.weight": 1, "_orig_mod.fc.bias": 2, "layer.0.weight": 3}
    assert ckpt.strip_prefixes(sd) == {"conv.weight": 1, "fc.bias": 2, "layer.0.weight": 3}


def test_background_saver_writes_in_order_and_reports_errors(tmp_path):
    saver = ckpt.BackgroundSaver()
    done = []
    for epoch in (1, 2, 3):
        saver.submit(tmp_path, payload(epoch, value=float(epoch)), is_best=epoch == 1, keep=2,
                     epoch_file=True, on_written=lambda paths: done.append(paths[0].name))
    saver.wait()
    assert done == ["epoch-0001.pt", "epoch-0002.pt", "epoch-0003.pt"]
    assert ckpt.load_checkpoint(tmp_path)["model"]["layer.weight"][0, 0] == 3.0
    bad = payload(4)
    bad["model"]["layer.bias"][0] = float("inf")
    with pytest.raises(RunwatchError, match="non-finite"):  # refused at once, on this thread
        saver.submit(tmp_path, bad, is_best=False, keep=2, epoch_file=True, on_written=print)
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / "checkpoints").write_text("a file where the directory should be")
    saver.submit(blocked, payload(5), is_best=False, keep=2, epoch_file=True, on_written=print)
    # A write error surfaces at the next wait, as the user's to fix (one line, no traceback).
    with pytest.raises(RunwatchError, match="cannot create .*blocked/checkpoints"):
        saver.wait()
    assert ckpt.load_checkpoint(tmp_path)["epoch"] == 3


def test_load_refuses_a_checkpoint_whose_record_fails_its_crc(tmp_path):
    # torch.load does not check CRCs: without our check, a flipped weight byte loads silently.
    path = ckpt.save_checkpoint(tmp_path, payload(1, value=2.0), is_best=False, keep=1)[0]
    with zipfile.ZipFile(path) as archive:
        info = next(i for i in archive.infolist() if "/data/" in i.filename and i.file_size)
    data = bytearray(path.read_bytes())
    # The local header's name and extra lengths (its extra holds torch's alignment padding).
    name_len, extra_len = struct.unpack_from("<HH", data, info.header_offset + 26)
    at = info.header_offset + 30 + name_len + extra_len
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(RunwatchError, match=r"corrupt: record .* fails its CRC check"):
        ckpt.load_checkpoint(path)


def test_a_truncated_checkpoint_is_named_as_such(tmp_path):
    # A cut-off copy: torch's message ("failed finding central directory. This is an internal
    # miniz error...") does not tell the user what happened.
    path = ckpt.save_checkpoint(tmp_path, payload(1), is_best=False, keep=1)[0]
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(RunwatchError, match=r"is truncated \(a zip archive without its end\)"):
        ckpt.load_checkpoint(path)


def test_files_that_are_not_runwatch_checkpoints_say_what_they_are(tmp_path):
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(RunwatchError, match=r"is empty \(0 bytes\)"):
        ckpt.load_checkpoint(tmp_path / "empty.pt")
    # A torchvision reference checkpoint (its args are an argparse.Namespace): torch's message
    # has terminal escapes and advises weights_only=False, which would run the file's code.
    import argparse

    torch.save({"model": {}, "args": argparse.Namespace(lr=0.1)}, tmp_path / "tv.pth")
    with pytest.raises(RunwatchError, match="holds argparse.Namespace, which torch's "
                                            "weights-only loader refuses") as err:
        ckpt.load_checkpoint(tmp_path / "tv.pth")
    assert "\x1b" not in str(err.value) and "weights_only=False" not in str(err.value)
    (tmp_path / "junk.pt").write_bytes(b"not a zip")
    with pytest.raises(RunwatchError, match=r"\(Unsupported operand 110\): it is damaged"):
        ckpt.load_checkpoint(tmp_path / "junk.pt")


def test_a_payload_names_its_global_without_torchs_advice(tmp_path):
    # torch 2.6+ words a global of a blocked module (os, posix, subprocess) differently from
    # one that is merely not allowed; its first line is the advice to load unsafely.
    torch.save({"model": {}, "x": Payload(tmp_path / "pwned")}, tmp_path / "payload.pt")
    with pytest.raises(RunwatchError, match=rf"holds {os.system.__module__}\.system, which "
                                            "torch's weights-only loader refuses") as err:
        ckpt.load_checkpoint(tmp_path / "payload.pt")
    assert "weights_only=False" not in str(err.value) and "likely" not in str(err.value)
    assert not (tmp_path / "pwned").exists()


def test_a_damaged_file_names_the_inspect_command(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"not a zip")
    with pytest.raises(RunwatchError, match="runwatch ckpt inspect"):
        ckpt.load_checkpoint(tmp_path / "junk.pt")
