"""Epoch records carry the best-so-far and patience on; a resume's plan keeps its history."""

from __future__ import annotations

import math

from runwatch.schedule import ScheduleSpec, lr_plan
from runwatch.stream import StreamWriter
from runwatch.trainer.records import epoch_record, format_epoch
from runwatch.trainer.resume import plan_with_history
from runwatch.trainer.state import EpochSums, RunState


def test_epoch_records_track_the_best_and_the_patience_counter():
    state = RunState()
    train = EpochSums(loss=20.0, correct=5.0, count=10.0, seconds=2.0)
    accs = [40.0, 55.0, 50.0, 55.0, 60.0]
    records = []
    for e, acc in enumerate(accs, start=1):
        test = {"test_acc1": acc, "test_acc5": 90.0, "test_loss": 1.0}
        records.append(epoch_record(e, 0.1, 10 * e, train, test, state))
        state = state.after_epoch(records[-1])
    assert [r["is_best"] for r in records] == [True, True, False, False, True]
    assert [r["epochs_since_best"] for r in records] == [0, 0, 1, 2, 0]
    assert [r["best_epoch"] for r in records] == [1, 2, 2, 2, 5]
    assert records[0]["train_loss"] == 2.0 and records[0]["train_acc1"] == 50.0
    assert records[0]["images_per_s"] == 5.0
    assert (state.epoch, state.global_step, state.best_epoch, state.epochs_since_best) == \
        (5, 50, 5, 0)


def test_building_a_record_leaves_the_state_as_it_was():
    before = RunState(best_acc1=50.0, best_epoch=3, epochs_since_best=1)
    record = epoch_record(5, 0.1, 40, EpochSums(1.0, 1.0, 1.0, 1.0),
                          {"test_acc1": 60.0, "test_acc5": 90.0, "test_loss": 1.0}, before)
    assert record["is_best"] and record["best_epoch"] == 5
    assert before == RunState(run_id=before.run_id, best_acc1=50.0, best_epoch=3,
                              epochs_since_best=1)


def test_a_resumed_plan_takes_its_history_from_the_stream(tmp_path):
    old = ScheduleSpec("cosine_restarts", 0.05, 10, t0=3)
    new = ScheduleSpec("cosine_restarts", 0.05, 10, t0=8, offset=4)  # starts after epoch 4
    assert math.isnan(plan_with_history(new, 4, tmp_path)[0])  # no stream: history unknown
    with StreamWriter(tmp_path / "metrics.jsonl") as w:
        w.write("run_start", lr_schedule=lr_plan(old))
    plan = plan_with_history(new, 4, tmp_path)
    assert plan[:4] == lr_plan(old)[:4] and plan[4:] == lr_plan(new, 5)


def test_the_epoch_line_prints_the_lr_as_the_previews_do():
    # `ckpt edit` and the resume line print 6 significant digits; the epoch line must read the
    # same number (0.00344267, not 0.0034427) so the user can check the preview by eye.
    record = {"epoch": 7, "lr": 0.0034426661755782542, "train_loss": 0.1, "train_acc1": 9.0,
              "test_loss": 0.2, "test_acc1": 8.0, "test_acc5": 50.0, "epoch_time_s": 1.0,
              "images_per_s": 10.0, "is_best": False}
    assert " lr 0.00344267 " in format_epoch(record, 24)
