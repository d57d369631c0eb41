"""TensorBoard event files written by torch's SummaryWriter and Lightning's TensorBoardLogger,
read (whole and live) without TensorFlow."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest
from tiny_fits import lightning_fit
from torch.utils.tensorboard import SummaryWriter

from runwatch.errors import RunwatchError
from runwatch.stream.logs.tfevents import masked_crc32c
from runwatch.stream.sources import open_source, read_source


def epochs_of(records: list[dict]) -> list[dict]:
    return [r for r in records if r["type"] == "epoch"]


def log_epochs(writer: SummaryWriter, epochs: range, steps: int = 4, offset: float = 0.0,
               new_style: bool = False) -> None:
    """A plain loop's logging: step losses, the LR, and a fraction accuracy at the epoch."""
    for e in epochs:
        for s in range(steps):
            writer.add_scalar("train/loss", 2.0 - e * 0.1 - s * 0.01, e * steps + s)
        writer.add_scalar("train/lr", 0.1 * 0.5 ** (e // 3), e * steps)
        writer.add_scalar("val/acc", 0.3 + 0.05 * e + offset, e * steps + steps - 1,
                          new_style=new_style)
        writer.add_scalar("epoch", e, e * steps + steps - 1)
    writer.flush()


def test_a_summary_writer_log_reads_as_epochs_in_percent_with_step_losses(tmp_path):
    with SummaryWriter(tmp_path / "run") as w:
        log_epochs(w, range(6))
    records, source = read_source(tmp_path / "run")
    epochs = epochs_of(records)
    assert source.kind == "TensorBoard events (val/acc)"
    assert [r["epoch"] for r in epochs] == [1, 2, 3, 4, 5, 6]  # Lightning-style 0-based epoch
    assert [r["test_acc1"] for r in epochs] == pytest.approx([30, 35, 40, 45, 50, 55])
    assert [r["lr"] for r in epochs] == pytest.approx([0.1] * 3 + [0.05] * 3)
    assert epochs[0]["train_loss"] == pytest.approx(2.0 - 0.015)  # mean of its 4 step losses
    assert epochs[0]["time"] > 1e9  # the event's wall-clock time
    steps = [r for r in records if r["type"] == "step"]
    assert len(steps) == 24 and steps[4]["epoch"] == 2 and steps[4]["step"] == 1
    assert records[0]["synthetic"] and "fractions" in source.note and source.state.bad_lines == 0


def test_the_step_is_the_epoch_without_an_epoch_tag_and_new_style_scalars_read(tmp_path):
    with SummaryWriter(tmp_path) as w:
        for e in range(3):
            w.add_scalar("Accuracy/test", 40.0 + e, e, new_style=True)  # percent, a tensor
            w.add_scalar("Loss/train", 1.0 - e / 10, e)
    records, source = read_source(tmp_path)
    assert [(r["epoch"], r["test_acc1"]) for r in epochs_of(records)] == [(1, 40), (2, 41),
                                                                           (3, 42)]
    assert "epoch = step + 1" in source.note and "fractions" not in source.note


def test_a_live_log_is_followed_and_a_restart_in_a_new_file_replaces_its_steps(tmp_path):
    writer = SummaryWriter(tmp_path, flush_secs=3600)
    log_epochs(writer, range(2))
    source = open_source(tmp_path)
    first, reset = source.poll()
    assert not reset and [r["epoch"] for r in epochs_of(first)] == [1, 2]
    assert source.poll() == ([], False)
    log_epochs(writer, range(2, 4))
    more, reset = source.poll()
    assert not reset and [r["epoch"] for r in epochs_of(more)] == [3, 4]
    writer.close()
    # Resumed from epoch 2 (0-based) in a new process: a new event file, other accuracies.
    with SummaryWriter(tmp_path, filename_suffix=".resumed") as again:
        log_epochs(again, range(2, 5), offset=0.01)
    records, reset = source.poll()
    assert reset and [r["epoch"] for r in epochs_of(records)] == [1, 2, 3, 4, 5]
    assert epochs_of(records)[2]["test_acc1"] == pytest.approx(41.0)
    assert len(list(tmp_path.glob("events.out.tfevents.*"))) == 2


def test_overrides_and_the_tags_found_when_no_accuracy_tag_is_known(tmp_path):
    with SummaryWriter(tmp_path) as w:
        for e in range(3):
            w.add_scalar("quality/score", 0.5 + e / 10, e)
            w.add_scalar("opt/step_size", 0.1 / (e + 1), e)
    with pytest.raises(RunwatchError, match=r"no accuracy tag among: opt/step_size, "
                                            r"quality/score; name one with --metric TAG"):
        read_source(tmp_path)
    source = open_source(tmp_path)  # live: says so and waits for the tag
    assert source.poll() == ([], False) and "no accuracy tag among" in source.note
    records, source = read_source(tmp_path, metric="quality/score", lr_tag="opt/step_size")
    assert [r["test_acc1"] for r in epochs_of(records)] == pytest.approx([50, 60, 70])
    assert [r["lr"] for r in epochs_of(records)] == pytest.approx([0.1, 0.05, 0.1 / 3])
    with pytest.raises(RunwatchError, match="--lr-tag 'lr' is not in this log"):
        read_source(tmp_path, metric="quality/score", lr_tag="lr")


def test_a_torn_last_record_waits_and_a_damaged_length_stops_that_file(tmp_path):
    with SummaryWriter(tmp_path) as w:
        log_epochs(w, range(3))
        w.add_scalar("train/loss", 1.5, 12)
    (path,) = tmp_path.glob("events.out.tfevents.*")
    data = path.read_bytes()
    path.write_bytes(data[:-7])  # the last record (epoch 4's first loss) half written
    source = open_source(tmp_path)
    records, _ = source.poll()
    assert [r["epoch"] for r in epochs_of(records)] == [1, 2, 3] and not source.caught_up()
    # A length whose checksum does not match: nothing after it can be trusted.
    header = struct.pack("<Q", 10**6)
    path.write_bytes(data + header + struct.pack("<I", masked_crc32c(header) ^ 1) + b"x" * 40)
    assert read_source(tmp_path)[1].state.problem.endswith("the rest of that file is not read")
    source = open_source(tmp_path)
    assert len(epochs_of(source.poll()[0])) == 3 and source.poll() == ([], False)
    assert "bad record length" in source.state.problem  # still said on the next poll


def test_lightning_tensorboard_logger_run_is_read_from_its_version_folder(tmp_path):
    from lightning.pytorch.loggers import TensorBoardLogger

    lightning_fit(tmp_path, epochs=3, loggers=[TensorBoardLogger(tmp_path, name="tb")])
    records, source = read_source(tmp_path)  # found two folders down: tb/version_0
    epochs = epochs_of(records)
    assert source.path.parent == tmp_path / "tb" / "version_0"
    assert [r["epoch"] for r in epochs] == [1, 2, 3]
    assert all(0 <= r["test_acc1"] <= 100 for r in epochs) and "val_acc" in source.kind
    assert "epoch = epoch + 1" in source.note


def test_the_reader_needs_no_tensorflow_nor_protobuf():
    code = ("import sys, runwatch.stream.sources; "
            "print(sorted(m for m in ('tensorflow', 'tensorboard', 'google.protobuf', 'torch')"
            " if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).parent.parent)
    assert out.stdout.strip() == "[]"


def test_forecast_takes_the_overrides_and_a_folder_of_several_logs_asks(tmp_path, capsys):
    from runwatch.cli import main

    with SummaryWriter(tmp_path / "run") as w:
        for e in range(8):
            w.add_scalar("quality/score", 0.3 + 0.05 * e - 0.002 * e * e, e)
            w.add_scalar("opt/step_size", 0.1, e)
    args = ["--metric", "quality/score", "--lr-tag", "opt/step_size"]
    assert main(["forecast", str(tmp_path / "run"), *args]) == 0
    assert "TensorBoard events (quality/score)" in capsys.readouterr().out
    (tmp_path / "run" / "log.txt").write_text('{"epoch": 0, "test_acc1": 5.0}\n')
    assert main(["forecast", str(tmp_path / "run"), *args]) == 2
    assert "holds several logs (deit: log.txt, tensorboard: .)" in capsys.readouterr().err
    assert main(["forecast", str(tmp_path / "run"), *args, "--source", "tensorboard"]) == 0
