"""A folder of runs summarised for the run list: status, epoch of total, best, format."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from torch.utils.tensorboard import SummaryWriter

from runwatch.stream import StreamWriter
from runwatch.stream.runs import TAIL_BYTES, scan_runs

NOW = 1_800_000_000.0


def our_run(run: Path, epochs_done: int, planned: int = 10, end: str | None = None,
            steps: int = 0, age_s: float = 0.0, best_field: bool = True) -> Path:
    run.mkdir(parents=True)
    with StreamWriter(run / "metrics.jsonl") as w:
        w.write("run_start", time=NOW - 1e5, epochs=planned, lr_schedule=[0.1] * planned)
        best = 0.0
        for e in range(1, epochs_done + 1):
            for s in range(1, steps + 1):
                w.write("step", time=NOW - 1e4, epoch=e, step=s, global_step=e * steps + s,
                        loss=1.0, lr=0.1)
            acc = 50.0 + (e % 7)  # best 56 at the 6th epoch, seen again later
            best = max(best, acc)
            extra = {"best_acc1": best, "best_epoch": 6 if e >= 6 else e} if best_field else {}
            w.write("epoch", time=NOW - 1e4 + e, epoch=e, test_acc1=acc, epoch_time_s=60.0,
                    **extra)
        if end:
            w.write("run_end", time=NOW - 1e4, status=end, epoch=epochs_done)
    os.utime(run / "metrics.jsonl", (NOW - age_s, NOW - age_s))
    return run


def test_statuses_epochs_and_best_of_a_folder_of_runs(tmp_path):
    our_run(tmp_path / "done", 10, end="completed", age_s=1e5)
    our_run(tmp_path / "crashed", 4, end="failed")
    our_run(tmp_path / "ctrl-c", 4, end="interrupted")
    our_run(tmp_path / "live", 3, age_s=60)
    our_run(tmp_path / "quiet", 3, age_s=3600)  # 3 epochs of 60 s, 10 min minimum: stalled
    our_run(tmp_path / "plain", 7, best_field=False, age_s=1e5)  # no best_acc1: max of epochs
    with SummaryWriter(tmp_path / "tb") as w:
        for e in range(3):
            w.add_scalar("val/acc", 0.5 + e / 10, e)
    for event_file in (tmp_path / "tb").iterdir():
        os.utime(event_file, (NOW - 60, NOW - 60))
    (tmp_path / "both").mkdir()
    (tmp_path / "both" / "log.txt").write_text('{"epoch": 0, "test_acc1": 5.0}\n')
    (tmp_path / "both" / "curve.csv").write_text("epoch,val_acc\n1,5\n")
    (tmp_path / "both" / "sub").mkdir()
    (tmp_path / "both" / "sub" / "metrics.csv").write_text("epoch,step,val_acc\n0,1,0.5\n")
    runs = {r.name: r for r in scan_runs(tmp_path, now=NOW)}
    assert {n: r.status for n, r in runs.items()} == {
        "done": "finished", "crashed": "failed", "ctrl-c": "stopped", "live": "running",
        "quiet": "stalled", "plain": "stalled", "tb": "running", "both": "unreadable"}
    assert (runs["done"].epoch, runs["done"].epochs) == (10, 10)
    assert (runs["done"].best_acc1, runs["done"].best_epoch) == (56.0, 6)
    assert (runs["plain"].best_acc1, runs["plain"].best_epoch) == (56.0, 6)
    assert runs["tb"].kind == "TensorBoard events (val/acc)"
    assert runs["tb"].best_acc1 == pytest.approx(70.0)
    assert "holds several logs" in runs["both"].note


def test_a_long_stream_is_read_at_its_ends_only(tmp_path):
    run = our_run(tmp_path / "long", 300, planned=300, steps=20, end="completed")
    assert (run / "metrics.jsonl").stat().st_size > 2 * TAIL_BYTES
    (summary,) = scan_runs(tmp_path, now=NOW)
    assert (summary.epoch, summary.epochs, summary.status) == (300, 300, "finished")
    assert (summary.best_acc1, summary.best_epoch) == (56.0, 6)
    # What lies between the ends is not read: a damaged middle changes nothing.
    data = bytearray((run / "metrics.jsonl").read_bytes())
    middle = len(data) // 2
    data[middle:middle + 100] = b"x" * 100
    (run / "metrics.jsonl").write_bytes(bytes(data))
    assert scan_runs(tmp_path, now=NOW)[0].epoch == 300
    assert json.loads((run / "metrics.jsonl").read_text().split("\n", 1)[0])["epochs"] == 300


def test_a_folder_is_a_folder_of_runs_when_only_its_sub_folders_hold_logs(tmp_path):
    from runwatch.stream.runs import is_folder_of_runs

    runs = tmp_path / "runs"
    our_run(runs / "a", 2)
    assert not is_folder_of_runs(runs)  # one run, its log a folder down: as before
    our_run(runs / "b", 2)
    assert is_folder_of_runs(runs)
    assert not is_folder_of_runs(runs / "a")  # a run directory itself
    (runs / "train.log").write_text('{"epoch": 0, "test_acc1": 5.0}\n')  # a stdout, no log
    assert is_folder_of_runs(runs)
    (runs / "training.log").write_text("epoch,accuracy,val_accuracy\n0,0.5,0.4\n")  # Keras
    assert not is_folder_of_runs(runs)
    (runs / "training.log").unlink()
    (runs / "log.txt").write_text('{"epoch": 0, "test_acc1": 5.0}\n')
    assert not is_folder_of_runs(runs)  # a log of its own: one run (several logs: --source)
    assert not is_folder_of_runs(runs / "log.txt")


def test_a_rescan_reads_again_only_the_runs_that_changed(tmp_path, monkeypatch):
    from runwatch.stream import runs as runs_module
    from runwatch.stream.runs import RunScanner

    our_run(tmp_path / "quiet", 3, age_s=60)
    live = our_run(tmp_path / "live", 3, age_s=60)
    scanner = RunScanner(tmp_path)
    assert [r.status for r in scanner.scan(NOW)] == ["running", "running"]
    read = []
    real = runs_module.summarise
    monkeypatch.setattr(runs_module, "summarise", lambda name, *a: read.append(name)
                        or real(name, *a))
    with StreamWriter(live / "metrics.jsonl") as w:
        w.write("epoch", time=NOW, epoch=4, test_acc1=60.0)
    later = NOW + 3600  # quiet is stalled by now without being read again
    summaries = {r.name: r for r in scanner.scan(later)}
    assert read == ["live"]
    assert (summaries["live"].epoch, summaries["quiet"].status) == (4, "stalled")
    our_run(tmp_path / "new", 1)
    assert [r.name for r in scanner.scan(later)] == ["live", "new", "quiet"]
    assert read == ["live", "new"]


def test_paths_given_are_the_runs_and_a_missing_one_is_unreadable(tmp_path):
    from runwatch.stream.runs import RunScanner

    a = our_run(tmp_path / "a", 2)
    scanner = RunScanner(paths=[a / "metrics.jsonl", tmp_path / "gone"])
    ours, gone = scanner.scan(NOW)
    assert (ours.name, ours.epoch, ours.entry) == ("metrics.jsonl", 2, a / "metrics.jsonl")
    assert gone.status == "unreadable" and "gone" in gone.note


def test_run_records_skip_steps_and_a_line_still_being_written(tmp_path):
    from runwatch.stream.runs import run_records

    run = our_run(tmp_path / "r", 5, steps=3)
    with open(run / "metrics.jsonl", "a") as f:
        f.write('{"type":"epoch","epoch":6,"test_acc1":')
    (summary,) = scan_runs(tmp_path, now=NOW)
    records = run_records(summary)
    assert [r["type"] for r in records] == ["run_start"] + ["epoch"] * 5


def test_a_training_hf_output_dir_is_one_run_not_a_list_of_its_checkpoints(tmp_path):
    # While the Trainer trains, its output dir holds only checkpoint-N/trainer_state.json.
    from tiny_fits import hf_fit

    from runwatch.stream.runs import is_folder_of_runs
    from runwatch.stream.sources import read_source

    out = tmp_path / "runs" / "hf"
    hf_fit(out, epochs=3)
    (out / "trainer_state.json").unlink(missing_ok=True)
    assert len(list(out.glob("checkpoint-*/trainer_state.json"))) >= 2
    assert not is_folder_of_runs(out)
    assert read_source(out)[1].kind.startswith("Hugging Face")
    hf_fit(tmp_path / "runs" / "hf2", epochs=2)  # a folder of two such runs is a list
    assert is_folder_of_runs(tmp_path / "runs")


def test_a_project_whose_lightning_logs_hold_two_versions_opens_the_run_list(tmp_path):
    # One version logged to CSV, the next to TensorBoard: two runs, not "several logs: pick".
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
    from tiny_fits import lightning_fit

    from runwatch.stream.runs import RunScanner, is_folder_of_runs

    project = tmp_path / "project"
    lightning_fit(project, epochs=2, loggers=[CSVLogger(project, name="lightning_logs")])
    lightning_fit(project, epochs=3,
                  loggers=[TensorBoardLogger(project, name="lightning_logs")])
    assert is_folder_of_runs(project) and is_folder_of_runs(project / "lightning_logs")
    summaries = {s.name: s for s in RunScanner(project).scan()}
    assert sorted(summaries) == ["version_0 (lightning_logs)", "version_1 (lightning_logs)"]
    assert [summaries[n].epoch for n in sorted(summaries)] == [2, 3]
    assert not is_folder_of_runs(project / "lightning_logs" / "version_0")


def test_a_fifo_stream_and_a_broken_link_are_listed_unreadable_with_words(tmp_path):
    from runwatch.stream.runs import RunScanner

    runs = tmp_path / "runs"
    our_run(runs / "a", 2)
    (runs / "fifo").mkdir()
    os.mkfifo(runs / "fifo" / "metrics.jsonl")
    (runs / "gone").symlink_to(tmp_path / "nowhere")
    summaries = {s.name: s for s in RunScanner(runs).scan(NOW)}
    assert summaries["fifo"].status == "unreadable" and "a FIFO" in summaries["fifo"].note
    assert summaries["gone"].status == "unreadable"
    assert summaries["gone"].note == "gone: No such file or directory"
    assert summaries["a"].status != "unreadable"
