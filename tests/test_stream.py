"""The stream writer and reader: round trip, and a reader that survives real-world files."""

import json
import math
import os

from runwatch.stream import (
    StreamFollower,
    StreamWriter,
    latest_plan,
    read_stream,
    split_branches,
)


def test_round_trip_keeps_fields_and_non_finite_values(tmp_path):
    with StreamWriter(tmp_path / "metrics.jsonl") as w:
        w.write("run_start", schema=1, run_id="r", config={"a": 1}, lr_schedule=[0.1, 0.05])
        w.write("epoch", epoch=1, test_acc1=12.5, train_loss=float("nan"))
        w.event("divergence", value=float("inf"))
    records, state = read_stream(tmp_path)
    assert [r["type"] for r in records] == ["run_start", "epoch", "event"]
    assert records[1]["test_acc1"] == 12.5 and math.isnan(records[1]["train_loss"])
    assert records[2]["value"] == math.inf and state.bad_lines == 0
    assert latest_plan(records) == [0.1, 0.05]


def test_follower_waits_for_a_partial_line_and_counts_garbage(tmp_path):
    path = tmp_path / "metrics.jsonl"
    f = StreamFollower(path)
    assert f.poll() == ([], False) and f.state.missing
    path.write_text('{"type":"epoch","epoch":1}\n\nnot json\n{"type":"epo')
    records, reset = f.poll()
    assert [r["epoch"] for r in records] == [1] and not reset
    assert f.state.bad_lines == 1 and f.state.last_bad == "not json"
    with open(path, "a") as fh:
        fh.write('ch","epoch":2}\n[1,2]\n')
    records, _ = f.poll()
    assert [r["epoch"] for r in records] == [2] and f.state.bad_lines == 2


def test_follower_starts_over_after_truncation_and_replacement(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps({"type": "epoch", "epoch": i}) + "\n" for i in range(5)))
    f = StreamFollower(path)
    assert len(f.poll()[0]) == 5
    path.write_text('{"type":"epoch","epoch":9}\n')  # truncated in place, shorter
    records, reset = f.poll()
    assert reset and [r["epoch"] for r in records] == [9] and f.state.resets == 1
    other = tmp_path / "new.jsonl"
    other.write_text("".join(json.dumps({"type": "epoch", "epoch": i}) + "\n" for i in range(7)))
    os.replace(other, path)  # replaced by a new file (new inode), longer
    records, reset = f.poll()
    assert reset and len(records) == 7


def test_follower_takes_another_line_parser(tmp_path):
    path = tmp_path / "log.txt"
    path.write_text("skip me\nrec 7\nrec x\n")

    def parse(line: str) -> dict | None:
        if not line.startswith("rec "):
            return None
        return {"type": "epoch", "epoch": int(line[4:])}  # ValueError: a bad line

    f = StreamFollower(path, parse=parse)
    records, _ = f.poll()
    assert records == [{"type": "epoch", "epoch": 7}] and f.state.bad_lines == 1


def test_follower_reads_only_new_bytes(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"type":"epoch","epoch":1}\n')
    f = StreamFollower(path)
    f.poll()
    with open(path, "a") as fh:
        fh.write('{"type":"epoch","epoch":2}\n')
    # Corrupt the already-read prefix in place: a follower that re-read it would count it.
    with open(path, "r+b") as fh:
        fh.write(b"X")
    records, _ = f.poll()
    assert [r["epoch"] for r in records] == [2] and f.state.bad_lines == 0


def test_resume_and_rewind_split_off_abandoned_branches():
    epochs = [{"type": "epoch", "epoch": e, "test_acc1": float(e)} for e in range(1, 6)]
    records = epochs + [
        {"type": "event", "kind": "rewind", "to_epoch": 3},
        {"type": "resume", "after_epoch": 3},
        {"type": "epoch", "epoch": 4, "test_acc1": 40.0},
    ]
    b = split_branches(records)
    assert [(r["epoch"], r["test_acc1"]) for r in b.live] == [(1, 1.0), (2, 2.0), (3, 3.0),
                                                              (4, 40.0)]
    assert sorted(r["epoch"] for r in b.abandoned) == [4, 5]
