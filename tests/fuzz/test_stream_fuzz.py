"""Fuzzing the stream reader (issue 9, "keep it fixed"): mutated and hostile streams, read
whole, followed live in random pieces and handed to what reads records (branches, plans, the
forecast's history). No exception but a one-line RunwatchError escapes, memory stays within a
fixed multiple of the input, and nothing hangs (pytest-timeout; hypothesis' deadline).

Seeded (`derandomize=True`): the same inputs every run, so a failure reproduces.
"""

from __future__ import annotations

import json
import tracemalloc
from dataclasses import asdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runwatch.errors import RunwatchError
from runwatch.forecast import history_from_records
from runwatch.schedule import ScheduleSpec, lr_plan
from runwatch.stream import StreamFollower, latest_plan, read_stream, split_branches
from runwatch.stream.sources import open_source, read_source

SPEC = ScheduleSpec("cosine_restarts", 0.1, 8, t0=3)
TEMPLATES = [
    {"type": "run_start", "time": 1.0, "schema": 1, "run_id": "r", "config": {"a": {"b": 1}},
     "schedule": {**asdict(SPEC), "milestones": []}, "lr_schedule": lr_plan(SPEC),
     "epochs": 8, "target_acc1": 75.0},
    {"type": "resume", "time": 2.0, "after_epoch": 2, "lr_schedule": lr_plan(SPEC),
     "schedule": {**asdict(SPEC), "milestones": []}, "epochs": 8},
    {"type": "epoch", "time": 3.0, "epoch": 3, "lr": 0.1, "train_loss": 1.0, "test_acc1": 40.0,
     "test_acc5": 70.0, "best_acc1": 40.0, "best_epoch": 3, "is_best": True,
     "epochs_since_best": 0, "epoch_time_s": 1.0},
    {"type": "step", "time": 3.5, "epoch": 4, "step": 1, "global_step": 31, "loss": 1.2,
     "lr": 0.1},
    {"type": "checkpoint", "time": 4.0, "epoch": 3, "path": "c.pt", "files": ["c.pt"],
     "is_best": True},
    {"type": "event", "time": 5.0, "kind": "rewind", "to_epoch": 2, "abandoned_epochs": [3]},
    {"type": "event", "time": 5.5, "kind": "nonfinite", "epoch": 4, "step": 2, "value": 1.0},
    {"type": "run_end", "time": 6.0, "status": "completed", "epoch": 4, "message": "done"},
]
FIELDS = sorted({k for t in TEMPLATES for k in t})

json_values = st.recursive(
    st.none() | st.booleans() | st.text(max_size=8)
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([10**12, -1, 2**63, 0.5, "abc", "NaN"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner,
                                                               max_size=4),
    max_leaves=12,
)


@st.composite
def mutated_record(draw) -> str:
    record = dict(draw(st.sampled_from(TEMPLATES)))
    for _ in range(draw(st.integers(0, 3))):
        key = draw(st.sampled_from(FIELDS))
        if draw(st.booleans()):
            record[key] = draw(json_values)
        else:
            record.pop(key, None)
    return json.dumps(record)  # NaN/Infinity as the tokens Python's json reads back


hostile_lines = st.sampled_from([
    "[" * 100_000, "{" * 50_000, '{"type":"epoch","epoch":' + "9" * 5000 + "}",
    '{"type":"epoch","epoch":1,"x":' + "[" * 40 + "]" * 40 + "}", "\x00" * 64, "{", "",
    '{"type": 5}', '{"type":"event","kind":"rewind","to_epoch":-Infinity}',
])
lines = st.one_of(mutated_record(), mutated_record(), hostile_lines,
                  st.binary(max_size=64).map(lambda b: b.decode("latin-1")))
streams = st.tuples(st.lists(lines, max_size=12), st.booleans(),
                    st.lists(st.integers(1, 400), max_size=4))


def consume(records: list[dict]) -> None:
    """What the monitor, the forecast and the rewind do first with the records."""
    split_branches(records)
    latest_plan(records)
    history_from_records(records)


@pytest.mark.timeout(60)
@settings(max_examples=600, derandomize=True, deadline=3000, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(streams)
def test_no_stream_crashes_hangs_or_grows_the_readers(tmp_path_factory, stream):
    body, newline_at_end, pieces = stream
    data = "\n".join(body).encode("utf-8", "surrogatepass") + (b"\n" if newline_at_end else b"")
    run = tmp_path_factory.mktemp("run")
    path = run / "metrics.jsonl"
    tracemalloc.start()
    try:
        path.write_bytes(data)
        records, state = read_stream(run)
        consume(records)
        assert state.bad_lines + len(records) <= data.count(b"\n") + 1  # one per line at most
        try:
            consume(read_source(run)[0])
        except RunwatchError as err:  # the user's answer: one line
            assert "\n" not in str(err)
        # Followed live: the same bytes arriving in pieces give the same records.
        path.write_bytes(b"")
        follower, followed, start = StreamFollower(path), [], 0
        for size in [*pieces, len(data)]:
            with open(path, "ab") as f:
                f.write(data[start:start + size])
            start += size
            followed += follower.poll()[0]
        assert followed == records or json.dumps(followed) == json.dumps(records)
        try:
            source = open_source(run)
            consume(source.poll()[0])
        except RunwatchError as err:
            assert "\n" not in str(err)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * len(data) + (8 << 20)
