"""Parsing a history and a plan: repairs with notes, and errors that name the fix."""

import math

import numpy as np
import pandas as pd
import pytest

from runwatch.errors import RunwatchError
from runwatch.forecast.inputs import prepare_history


def frame(acc, lr=None, **extra) -> pd.DataFrame:
    df = pd.DataFrame({"epoch": range(1, len(acc) + 1), "test_acc1": acc, **extra})
    if lr is not None:
        df["lr"] = lr
    return df


def test_fractions_are_read_as_percent_with_a_note():
    h = prepare_history(frame([0.1, 0.2, 0.3, 0.35, 0.4]), [0.1] * 10)
    assert h.acc[-1] == pytest.approx(40.0)
    assert any("fraction" in n for n in h.notes)


def test_duplicate_and_unsorted_epochs_keep_the_last_record_of_each():
    df = pd.DataFrame({"epoch": [2, 1, 2, 3], "test_acc1": [5.0, 10.0, 20.0, 30.0]})
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
    (pd.DataFrame({"epoch": [1, 2]}), "test_acc1"),
    (pd.DataFrame({"epoch": [1, 2], "test_acc1": [np.nan, np.nan]}), "no epoch has a finite"),
])
def test_unusable_history_is_a_runwatch_error(df, words):
    with pytest.raises(RunwatchError, match=words):
        prepare_history(df, None)
