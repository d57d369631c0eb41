"""Issue 9's streams: every record is checked where it is read; bad ones are skipped and
counted with a reason, files that are no files are refused, long lines are capped, and the
forecast, the report and a rewind's dry run read them without a traceback."""

from __future__ import annotations

import json
import os
import tracemalloc
from dataclasses import asdict
from pathlib import Path

import pytest

from runwatch.cli import main
from runwatch.errors import RunwatchError
from runwatch.schedule import ScheduleSpec, lr_plan
from runwatch.stream import StreamFollower, StreamWriter, read_stream, split_branches
from runwatch.stream import reader as reader_module
from runwatch.stream.sources import open_source, read_source

SPEC = ScheduleSpec("cosine_restarts", 0.1, 12, t0=4)


def run_start(spec: ScheduleSpec = SPEC) -> dict:
    return {"type": "run_start", "time": 1.0, "schema": 1, "run_id": "r",
            "schedule": {**asdict(spec), "milestones": list(spec.milestones)},
            "lr_schedule": lr_plan(spec), "epochs": spec.epochs, "target_acc1": 75.0}


def epoch(e: int) -> dict:
    return {"type": "epoch", "time": 1.0 + e, "epoch": e, "lr": lr_plan(SPEC, e, e)[0],
            "train_loss": 2.0 - e / 10, "test_acc1": 20.0 + 3 * e}


# Each hostile line of issue 9, and the reason a reader gives for skipping it.
HOSTILE = {
    "deep": ("[" * 100_000, "nested too deep"),
    "resume_string_lrs": (json.dumps({"type": "resume", "time": 5.0, "after_epoch": 2,
                                      "lr_schedule": ["a", "b"]}), "lr_schedule"),
    "resume_null_after_epoch": (json.dumps({"type": "resume", "time": 5.0, "after_epoch": None}),
                                "without after_epoch"),
    "rewind_to_infinity": ('{"type":"event","time":5.0,"kind":"rewind","to_epoch":Infinity}',
                           "to_epoch inf"),
    "lr_schedule_abc": (json.dumps({**run_start(), "lr_schedule": "abc"}), "lr_schedule 'abc'"),
    "epoch_1e12": (json.dumps({**epoch(4), "epoch": 10**12}), "epoch 1000000000000"),
}


def hostile_run(run: Path, line: str) -> Path:
    run.mkdir(exist_ok=True)
    lines = [json.dumps(run_start()), *(json.dumps(epoch(e)) for e in (1, 2, 3)), line,
             *(json.dumps(epoch(e)) for e in (4, 5))]
    (run / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    return run


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_each_bad_record_is_skipped_counted_and_explained(tmp_path, name):
    line, reason = HOSTILE[name]
    records, state = read_stream(hostile_run(tmp_path, line))
    assert [r["epoch"] for r in split_branches(records).live] == [1, 2, 3, 4, 5]
    assert state.bad_lines == 1 and reason in state.last_reason
    assert state.last_bad == line[:80]


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_forecast_report_and_rewind_dry_run_read_them_without_a_traceback(tmp_path, capsys,
                                                                           name):
    run = hostile_run(tmp_path / "run", HOSTILE[name][0])
    assert main(["forecast", str(run)]) == 0
    assert "1 unreadable line(s) skipped" in capsys.readouterr().out
    assert main(["report", str(run), "-o", str(tmp_path / "report.md")]) == 0
    assert "Traceback" not in capsys.readouterr().err
    # No checkpoints are kept: the dry run's answer is that one line, not a traceback.
    assert main(["ckpt", "rewind", str(run), "--to", "3", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "no checkpoint of epoch 3" in err and err.count("\n") == 1


def test_a_long_planned_schedule_on_the_first_line_is_detected(tmp_path):
    # `--set train.epochs=4000 --set schedule.name=cosine`: an 84 KB run_start line, past the
    # 64 KB the format is told by: the reader reads on to the line's end.
    spec = ScheduleSpec("cosine", 0.1, 4000)
    with StreamWriter(tmp_path / "metrics.jsonl") as w:
        w.write("run_start", **{**run_start(spec), "time": None})
        w.write("epoch", **epoch(1))
    assert (tmp_path / "metrics.jsonl").stat().st_size > 80_000
    source = open_source(tmp_path)
    records, _ = source.poll()
    assert source.kind == "runwatch stream"
    assert [r["type"] for r in records] == ["run_start", "epoch"]
    assert len(read_source(tmp_path)[0][0]["lr_schedule"]) == 4000


def test_a_line_longer_than_the_cap_is_skipped_in_bounded_memory(tmp_path):
    path = tmp_path / "metrics.jsonl"
    line_bytes = 64 << 20  # 8x the cap; a follower keeping it would hold it (and copies)
    with open(path, "wb") as f:
        f.write(b'{"type":"epoch","note":"' + b"x" * line_bytes)
    follower = StreamFollower(path)
    tracemalloc.start()
    try:
        while not follower.caught_up():
            assert follower.poll() == ([], False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < line_bytes // 2
    with open(path, "ab") as f:
        f.write(b'"}\n' + json.dumps(epoch(1)).encode() + b"\n")
    records, _ = follower.poll()
    assert [r["epoch"] for r in records] == [1]
    assert follower.state.bad_lines == 1 and "longer than 8 MiB" in follower.state.last_reason


def test_a_file_without_a_line_end_in_its_first_mebibytes_is_refused(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(b"epoch," + b"9" * (reader_module.MAX_LINE_BYTES + 10))
    with pytest.raises(RunwatchError, match="no line ends in its first 8 MiB"):
        open_source(path)


@pytest.mark.timeout(20)
def test_a_fifo_or_a_device_is_refused_at_once(tmp_path):
    fifo = tmp_path / "metrics.jsonl"
    os.mkfifo(fifo)
    for path in (fifo, Path("/dev/zero")):
        with pytest.raises(RunwatchError, match="is a (FIFO|device), not a log file"):
            open_source(path)
        with pytest.raises(RunwatchError, match="is a (FIFO|device), not a log file"):
            read_source(path)
    follower = StreamFollower(fifo)
    assert follower.poll() == ([], False) and "FIFO" in follower.state.problem
    records, state = read_stream(tmp_path)  # the trainer's resume reads it so
    assert records == [] and state.problem == f"{fifo} is a FIFO, not a log file"


def test_a_stream_replaced_by_a_directory_waits_for_a_file_again(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in (run_start(), epoch(1))))
    source = open_source(tmp_path)
    assert len(source.poll()[0]) == 2
    path.unlink()
    path.mkdir()
    assert source.poll() == ([], False)
    assert source.state.missing and "is a directory" in source.state.problem
    path.rmdir()
    path.write_text(json.dumps(epoch(7)) + "\n")
    records, reset = source.poll()
    assert reset and [r["epoch"] for r in records] == [7] and source.state.problem == ""


def test_foreign_logs_are_checked_too(tmp_path):
    # A DeiT line whose epoch is 1e12, and one whose epoch is Infinity: skipped, counted.
    log = tmp_path / "log.txt"
    log.write_text('{"epoch": 0, "test_acc1": 5.0}\n{"epoch": 1000000000000, "test_acc1": 6}\n'
                   '{"epoch": Infinity, "test_acc1": 6}\n{"epoch": 1, "test_acc1": 7.0}\n')
    records, source = read_source(log)
    assert [r["epoch"] for r in records if r["type"] == "epoch"] == [1, 2]
    assert source.state.bad_lines == 2
    # A CSV row with epoch 1e12: left out of the records, counted.
    table = tmp_path / "curve.csv"
    table.write_text("epoch,val_acc\n1,50\n1000000000000,60\n2,70\n")
    records, source = read_source(table)
    assert [r["epoch"] for r in records if r["type"] == "epoch"] == [1, 2]
    assert source.state.bad_lines == 1 and "epoch 1000000000000" in source.state.last_reason


def test_the_monitor_header_shows_the_count_and_the_reason(tmp_path):
    import asyncio

    from runwatch.tui.app import RunwatchApp
    from runwatch.tui.widgets.run_header import RunHeader

    run = tmp_path / "run"
    run.mkdir()
    lines = [json.dumps(run_start()), json.dumps(epoch(1)),
             *(line for line, _ in HOSTILE.values()), json.dumps(epoch(2))]
    (run / "metrics.jsonl").write_text("\n".join(lines) + "\n")

    async def scenario() -> str:
        app = RunwatchApp(open_source(run), run, poll_s=0.05)  # it wraps the source in its feed
        async with app.run_test(size=(120, 40)) as pilot:
            for _ in range(100):
                await pilot.pause(0.05)
                text = str(app.query_one(RunHeader).render())
                if "bad lines" in text:
                    return text
        return ""

    header = asyncio.run(scenario())
    assert f"bad lines {len(HOSTILE)} (" in header
