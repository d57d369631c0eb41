"""stream/replay.py: replaying records over time, and the packaged seed run."""

from __future__ import annotations

from pathlib import Path

import pytest

from runwatch.schedule import ScheduleSpec, lr_plan
from runwatch.stream import latest_plan
from runwatch.stream.replay import SEED_EPOCH_TIME_S, ReplaySource, open_replay, seed_run_records


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _records(n: int) -> list[dict]:
    out = [{"type": "run_start", "time": 0.0}]
    for e in range(1, n + 1):
        out += [{"type": "step", "epoch": e, "loss": 1.0 / e}, {"type": "epoch", "epoch": e}]
    return [*out, {"type": "run_end", "status": "completed"}]


def test_replay_releases_epochs_at_the_asked_rate():
    clock = FakeClock()
    replay = ReplaySource(_records(5), epochs_per_second=2.0, clock=clock)
    first, reset = replay.poll()
    assert not reset
    assert [r["type"] for r in first] == ["run_start", "step", "epoch"]  # epoch 1 at once
    assert replay.poll() == ([], False)
    clock.now += 0.49
    assert replay.poll() == ([], False)
    clock.now += 0.02  # 0.51 s: the second epoch is due
    assert [r.get("epoch") for r in replay.poll()[0]] == [2, 2]
    clock.now += 1.0  # two more
    assert [r["epoch"] for r in replay.poll()[0] if r["type"] == "epoch"] == [3, 4]
    assert not replay.caught_up()
    clock.now += 100
    assert [r["type"] for r in replay.poll()[0]] == ["step", "epoch", "run_end"]
    assert replay.caught_up() and replay.state.records == 12
    with pytest.raises(ValueError):
        ReplaySource([], 0)


def test_open_replay_reads_a_foreign_log_whole_then_releases_it():
    clock = FakeClock()
    path = Path(__file__).parent / "data" / "foreign" / "json_stats_log_txt" / "vgg_log.txt"
    replay = open_replay(path, epochs_per_second=10, clock=clock)
    assert replay.kind == "replay of Torch7 json_stats log" and replay.path == path
    first, _ = replay.poll()
    assert [r["type"] for r in first] == ["run_start", "epoch"]
    clock.now += 19.95
    assert len(replay.poll()[0]) == 199 and replay.caught_up()


def test_seed_run_has_its_plan_target_and_timing():
    records = seed_run_records(start_time=1_000_000.0)
    run_start, epochs = records[0], records[1:]
    plan = lr_plan(ScheduleSpec("cosine_restarts", 0.05, 100, t0=30, eta_min=1e-5))
    assert run_start["type"] == "run_start" and latest_plan(records) == plan
    assert run_start["target_acc1"] == 75.0 and run_start["epochs"] == 100
    assert run_start["epoch_time_s"] == SEED_EPOCH_TIME_S == 3240
    assert [r["epoch"] for r in epochs] == list(range(1, 32))
    assert epochs[29]["test_acc1"] == 69.06 and epochs[30]["test_acc1"] == 48.55
    assert epochs[30]["time"] - epochs[29]["time"] == 3240
    assert epochs[0]["time"] == 1_000_000.0 + 3240
    assert (epochs[29]["train_acc1"], epochs[30]["train_acc1"]) == (55.69, 38.11)
    # The logged LRs are the plan's: the packaged CSV and the README agree.
    assert [r["lr"] for r in epochs] == pytest.approx(plan[:31], rel=1e-3)


def test_seed_run_ends_now_by_default():
    import time

    before = time.time()
    last = seed_run_records()[-1]
    assert before - 1 <= last["time"] <= time.time() + 1
