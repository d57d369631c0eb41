"""The public writer (`open_run`): what any training loop writes, read back; rank 0 only; never
raising into the loop (a full disk said once, training goes on)."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

from runwatch.errors import RunwatchError
from runwatch.runlock import live_holder
from runwatch.stream import latest_plan, open_run, read_stream, run_stream
from runwatch.stream.sources import read_source


def test_a_plain_loop_writes_every_record_and_holds_the_run_while_open(tmp_path):
    run = tmp_path / "run"
    stream = open_run(run, rank=0)
    assert live_holder(run) is not None  # rewind and the monitor's surgery refuse it now
    stream.run_start(config={"lr": 0.1}, lr_schedule=[0.1, 0.1, 0.01], epochs=3,
                     target_acc1=70.0)
    for e in (1, 2, 3):
        stream.step(e, 1, global_step=10 * e, loss=torch.tensor(2.0 / e), lr=np.float32(0.1))
        stream.epoch(e, test_acc1=np.float64(40.0 + e), train_loss=1.0 / e, lr=0.1)
        stream.checkpoint(e, run / f"ckpt-{e}.pt", is_best=True)
    stream.event("note", text="done")
    stream.run_end()
    stream.close()
    assert live_holder(run) is None
    records, source = read_source(run)
    assert source.kind == "runwatch stream" and source.state.bad_lines == 0
    assert [r["type"] for r in records] == (["run_start"] + ["step", "epoch", "checkpoint"] * 3
                                            + ["event", "run_end"])
    assert latest_plan(records) == [0.1, 0.1, 0.01] and records[0]["epochs"] == 3
    assert records[1]["loss"] == 2.0 and records[2]["test_acc1"] == 41.0
    assert records[-1]["status"] == "completed"


def test_other_ranks_write_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "3")
    stream = open_run(tmp_path / "run")
    assert not stream.enabled and stream.epoch(1, test_acc1=5.0) is None
    stream.run_end()
    assert not (tmp_path / "run").exists()


def test_a_full_disk_is_said_once_and_the_loop_goes_on(tmp_path, monkeypatch):
    stream = open_run(tmp_path, rank=0)
    stream.epoch(1, test_acc1=10.0)
    real_write, failures = os.write, [2]

    def full_disk(fd, data):
        if failures[0]:
            failures[0] -= 1
            real_write(fd, data[: len(data) // 2])  # a torn line, then ENOSPC
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(run_stream.os, "write", full_disk)
    with pytest.warns(RuntimeWarning, match="No space left on device.*training goes on") as w:
        assert stream.epoch(2, test_acc1=20.0) is None
        assert stream.epoch(3, test_acc1=30.0) is None
        assert stream.epoch(4, test_acc1=40.0) is not None  # space again
    assert len(w) == 1
    stream.close()
    records, state = read_stream(tmp_path)
    assert [r["epoch"] for r in records] == [1, 4]
    assert state.bad_lines == 2  # each torn write is ended by the next: one bad line each


def test_records_readers_would_skip_are_not_written_and_said_once(tmp_path):
    stream = open_run(tmp_path, rank=0)
    with pytest.warns(RuntimeWarning, match="epoch record not written: epoch record with "
                                            "test_acc1 'abc'") as w:
        for e in (1, 2):
            stream.epoch(e, test_acc1="abc")
    assert len(w) == 1
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        stream.epoch(10**9, test_acc1=1.0)
        stream.run_end("done")  # not a status: written as failed, said so
    assert len(w) == 2 and "status 'done'" in str(w[1].message)
    stream.close()
    records, state = read_stream(tmp_path)
    assert [r["type"] for r in records] == ["run_end"] and records[0]["status"] == "failed"
    assert state.bad_lines == 0


def test_the_with_block_ends_the_run_by_how_it_ended(tmp_path):
    with pytest.raises(ZeroDivisionError), open_run(tmp_path / "a", rank=0) as stream:
        stream.epoch(1, test_acc1=1.0)
        1 / 0  # noqa: B018
    assert read_stream(tmp_path / "a")[0][-1]["status"] == "failed"
    with pytest.raises(KeyboardInterrupt), open_run(tmp_path / "b", rank=0):
        raise KeyboardInterrupt
    assert read_stream(tmp_path / "b")[0][-1]["status"] == "interrupted"
    with open_run(tmp_path / "c", rank=0) as stream:
        stream.epoch(1, test_acc1=1.0)
    assert read_stream(tmp_path / "c")[0][-1]["status"] == "completed"


def test_a_run_another_writer_holds_is_refused_before_training(tmp_path):
    with open_run(tmp_path, rank=0), pytest.raises(RunwatchError, match="still running"):
        open_run(tmp_path, rank=0)


@pytest.mark.parametrize("ending,status", [
    ("raise ValueError('loss went NaN')", "failed"),
    ("raise KeyboardInterrupt", "interrupted"),
    ("pass", None),  # a normal exit without run_end says nothing of how the run ended
])
def test_a_loop_that_dies_of_an_uncaught_exception_ends_its_stream(tmp_path, ending, status):
    script = (f"from runwatch.stream import open_run\n"
              f"stream = open_run({str(tmp_path)!r})\n"
              "stream.run_start(epochs=3)\n"
              "stream.epoch(1, test_acc1=10.0)\n"
              f"{ending}\n")
    subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    ends = [r for r in records if r["type"] == "run_end"]
    assert [r["status"] for r in ends] == ([status] if status else [])
    if status == "failed":
        assert ends[0]["message"] == "ValueError: loss went NaN"
