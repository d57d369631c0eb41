"""Parsing a history and a plan: repairs with notes, and errors that name the fix."""

import math

import numpy as np
import pytest

from runwatch.errors import RunwatchError
from runwatch.forecast import forecast_run, history_from_records
from runwatch.forecast.inputs import EpochLog, prepare_history
from runwatch.schedule import ScheduleSpec, lr_plan


def frame(acc, lr=None, **extra) -> EpochLog:
    return EpochLog(epoch=range(1, len(acc) + 1), test_acc1=acc, lr=lr, **extra)


def test_fractions_are_read_as_percent_with_a_note():
    h = prepare_history(frame([0.1, 0.2, 0.3, 0.35, 0.4]), [0.1] * 10)
    assert h.acc[-1] == pytest.approx(40.0)
    assert any("fraction" in n for n in h.notes)


def test_duplicate_and_unsorted_epochs_keep_the_last_record_of_each():
    df = EpochLog(epoch=[2, 1, 2, 3], test_acc1=[5.0, 10.0, 20.0, 30.0])
    h = prepare_history(df, None)
    assert h.epochs.tolist() == [1, 2, 3] and h.acc.tolist() == [10.0, 20.0, 30.0]
    assert any("duplicate" in n for n in h.notes)


def test_nonfinite_values_are_left_out_of_the_fit_and_kept_for_events():
    h = prepare_history(frame([10.0, 20.0, math.nan, 30.0],
                              test_loss=[3.0, 2.5, math.inf, 2.0]), [0.1] * 8)
    assert h.epochs.tolist() == [1, 2, 4]
    assert any(e == 3 and c == "test_acc1" for e, c, _ in h.nonfinite)
    assert any(e == 3 and c == "test_loss" for e, c, _ in h.nonfinite)
    assert any("non-finite" in n for n in h.notes)


def test_missing_plan_holds_the_last_lr_and_says_so():
    h = prepare_history(frame([10.0] * 20, lr=[0.1] * 19 + [0.05]), None)
    assert h.total_epochs == 30 and h.lrs[-1] == 0.05 and h.lr_known
    assert any("no LR plan" in n for n in h.notes)


def test_no_lr_at_all_turns_the_laws_off_with_a_note():
    h = prepare_history(frame([10.0, 20.0, 30.0]), None, total_epochs=10)
    assert not h.lr_known and h.total_epochs == 10
    assert any("no learning rate known" in n for n in h.notes)


def test_a_plan_shorter_than_the_run_is_extended():
    h = prepare_history(frame([10.0] * 12, lr=[0.1] * 12), [0.1] * 10)
    assert h.total_epochs == 12
    assert any("extended" in n for n in h.notes)


def test_the_runs_own_lrs_win_over_the_plan_for_done_epochs():
    h = prepare_history(frame([10.0, 20.0], lr=[0.5, 0.4]), [0.1] * 5)
    assert h.lrs.tolist() == [0.5, 0.4, 0.1, 0.1, 0.1]


def test_epoch_time_and_now_come_from_the_history():
    h = prepare_history(frame([10.0, 20.0, 30.0], time=[100.0, 160.0, 220.0]), [0.1] * 5)
    assert h.epoch_time_s == 60.0 and h.now == 220.0


@pytest.mark.parametrize("df, words", [
    (history_from_records([{"type": "epoch", "epoch": 1}, {"type": "epoch", "epoch": 2}]),
     "no epoch has a finite test_acc1"),
    (EpochLog(epoch=[1, 2], test_acc1=[np.nan, np.nan]), "no epoch has a finite"),
    (EpochLog(epoch=[np.nan, 0], test_acc1=[50.0, 60.0]), "no epoch has a finite"),
])
def test_unusable_history_is_a_runwatch_error(df, words):
    with pytest.raises(RunwatchError, match=words):
        prepare_history(df, None)


def epoch(n, acc, **extra):
    return {"type": "epoch", "time": 1000.0 + n, "epoch": n, "test_acc1": acc, "lr": 0.1,
            **extra}


def test_a_resume_abandons_the_later_epochs_of_the_old_branch():
    records = [{"type": "run_start", "time": 0.0}, epoch(1, 10.0), epoch(2, 20.0),
               epoch(3, 5.0), {"type": "resume", "time": 2.0, "after_epoch": 2},
               epoch(3, 30.0, test_loss=2.0)]
    log = history_from_records(records)
    assert log.epoch.tolist() == [1, 2, 3] and log.percent
    assert log.test_acc1.tolist() == [10.0, 20.0, 30.0]
    assert log.test_loss is not None and log.train_acc1 is None


def test_none_values_become_nan_and_no_epochs_give_an_empty_log():
    log = history_from_records([epoch(1, None), epoch(2, "n/a"), epoch(3, True)])
    assert np.isnan(log.test_acc1).all()
    assert len(history_from_records([{"type": "run_start"}])) == 0


def test_an_epoch_log_cuts_by_epoch_and_refuses_columns_of_another_length():
    log = EpochLog(epoch=[1, 2, 3], test_acc1=[10.0, 20.0, 30.0], lr=0.1)
    assert log.upto(2).test_acc1.tolist() == [10.0, 20.0] and log.lr.tolist() == [0.1] * 3
    assert log.head(1).epoch.tolist() == [1.0]
    with pytest.raises(ValueError, match="shape"):
        EpochLog(epoch=[1, 2], test_acc1=[1.0, 2.0, 3.0])


def test_stream_accuracies_under_one_percent_stay_percent():
    # An ImageNet run's first epochs (0.116%, 0.5%): the stream is percent by its schema, so
    # the forecast must not read them as fractions (11.6%, 50%).
    records = [{"type": "epoch", "epoch": e, "test_acc1": a, "lr": 1e-6}
               for e, a in ((1, 0.116), (2, 0.5))]
    result = forecast_run(history_from_records(records), [1e-6] * 10, 75.0)
    assert result.last_acc1 == 0.5 and not any("fraction" in n for n in result.notes)


def test_history_without_a_plan_follows_the_logged_cosine_with_a_note():
    spec = ScheduleSpec("cosine", 0.1, 60, eta_min=1e-5)
    lrs = lr_plan(spec)
    df = EpochLog(epoch=range(1, 21), test_acc1=np.linspace(20, 60, 20), lr=lrs[:20])
    h = prepare_history(df, None)
    assert h.total_epochs == 61  # T_max = 60 steps after epoch 1
    assert h.lrs[40] == pytest.approx(lrs[40], abs=0.002)
    assert any("follow a cosine decay" in n for n in h.notes)


def test_a_plan_that_anneals_to_zero_is_kept():
    # HF's linear decay, a one-cycle that ends at 0, a log printed with 6 decimals: 0 is an LR.
    plan = list(np.linspace(0.1, 0.0, 40))
    h = prepare_history(frame(list(np.linspace(30, 60, 10)), lr=plan[:10]), plan)
    assert h.total_epochs == 40 and h.lrs[-1] == 0.0 and h.lr_known
    assert not any("ignored" in n for n in h.notes)
    assert h.ratio_lrs()[-1] == pytest.approx(1e-4)  # compared by ratio as 1e-3 of the peak


@pytest.mark.parametrize("plan", [[0.0] * 30, [0.1, -0.1] * 15, [0.1, math.nan] * 15])
def test_a_plan_of_zeros_negative_or_missing_lrs_is_ignored_with_a_note(plan):
    h = prepare_history(frame(list(np.linspace(30, 60, 10)), lr=[0.1] * 10), plan)
    assert any("ignored" in n for n in h.notes) and h.total_epochs == 20  # 10 + 10 assumed
