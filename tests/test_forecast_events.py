"""Every event kind, behind and ahead, on small curves the tests build."""

import math

import numpy as np

from runwatch.forecast.events import events_ahead, events_behind
from runwatch.forecast.inputs import EpochLog, prepare_history
from runwatch.forecast.lr_law import noise_sd


def history(acc, lr=0.1, plan=None, **extra):
    n = len(acc)
    df = EpochLog(epoch=range(1, n + 1), test_acc1=acc, lr=lr, **extra)
    return prepare_history(df, plan if plan is not None else [0.1] * (n + 10))


def kinds(events):
    return [e.kind for e in events]


def behind(h, noise=0.3, patience=None, pred=None):
    future = np.arange(h.last_epoch + 1, h.total_epochs + 1)
    pred = np.full(len(future), h.acc[-1]) if pred is None else pred
    return events_behind(h, noise, patience, future, pred)


RISING = list(40 + 20 * (1 - np.exp(-np.arange(1, 31) / 8)))


def test_regression_beyond_noise_is_reported_with_the_lr_change():
    acc = RISING[:20] + [RISING[19] - 6] + RISING[20:25]
    lrs = [0.01] * 20 + [0.1] * 6
    events = [e for e in behind(history(acc, lrs)) if e.kind == "regression"]
    assert len(events) == 1 and events[0].epoch == 21
    assert abs(events[0].fields["drop"] - 6) < 1e-9
    assert events[0].fields["lr_after"] == 0.1 and events[0].fields["lr_before"] == 0.01


def test_noise_sized_dips_are_not_regressions():
    acc = [50 + 0.3 * ((-1) ** i) for i in range(30)]
    assert "regression" not in kinds(behind(history(acc), noise=0.3))


def test_random_noise_raises_no_regressions():
    # Ten runs of 200 epochs of i.i.d. noise (sd 1) on a slow rise: every drop is noise. The
    # rule judges the epoch-to-epoch change, whose sd is sqrt(2) x the noise; 3 noise on the
    # change alone fired 28 times on these same runs.
    alarms = 0
    for seed in range(10):
        acc = 50 + 0.01 * np.arange(200) + np.random.default_rng(seed).normal(0.0, 1.0, 200)
        h = history(list(acc), plan=[0.1] * 210)
        alarms += kinds(behind(h, noise=noise_sd(h.acc))).count("regression")
    assert alarms <= 2


def test_flat_tail_is_a_plateau_and_a_rising_one_is_not():
    assert "plateau" in kinds(behind(history([30.0] * 5 + [60.0] * 25)))
    assert "plateau" not in kinds(behind(history([40 + 0.5 * i for i in range(30)])))


def test_nonfinite_values_are_events():
    acc = RISING[:10] + [math.nan]
    loss = [2.0] * 10 + [math.inf]
    events = [e for e in behind(history(acc, test_loss=loss)) if e.kind == "nonfinite"]
    assert {(e.epoch, e.fields["metric"]) for e in events} == {(11, "test_acc1"),
                                                               (11, "test_loss")}


def test_rising_test_loss_without_an_lr_rise_is_divergence():
    loss = [2.0 - 0.05 * i for i in range(10)] + [3.0, 3.5, 4.0, 4.5]
    acc = RISING[:10] + [50.0, 45.0, 40.0, 35.0]
    events = [e for e in behind(history(acc, test_loss=loss)) if e.kind == "divergence"]
    assert events and events[0].fields["metric"] == "test_loss"


def test_accuracy_collapse_is_divergence_but_not_after_an_lr_jump():
    acc = RISING[:10] + [20.0, 15.0, 10.0]
    assert "divergence" in kinds(behind(history(acc)))
    lrs = [0.01] * 11 + [0.1, 0.1]
    assert "divergence" not in kinds(behind(history(acc, lrs)))


def test_widening_train_test_gap():
    test = [60 + 0.1 * i for i in range(30)]
    train = [60 + 0.1 * i + (0.5 * max(0, i - 15)) for i in range(30)]
    events = [e for e in behind(history(test, train_acc1=train)) if e.kind == "train_test_gap"]
    assert events and events[0].fields["gap_now"] > events[0].fields["gap_before"] + 2
    steady = [60 + 0.1 * i + 3 for i in range(30)]
    assert "train_test_gap" not in kinds(behind(history(test, train_acc1=steady)))


def test_early_stop_patience_counts_down_and_predicts_the_stop():
    acc = RISING[:10] + [RISING[9] - 1.0] * 5
    h = history(acc)
    future = np.arange(16, h.total_epochs + 1)
    (event,) = [e for e in behind(h, patience=8, pred=np.full(len(future), 50.0))
                if e.kind == "early_stop_patience"]
    f = event.fields
    assert (f["best_epoch"], f["epochs_since_best"], f["patience_left"]) == (10, 5, 3)
    assert f["predicted_stop_epoch"] == 18 and f["predicted_new_best_epoch"] is None
    (later_best,) = [e for e in behind(h, patience=8, pred=np.full(len(future), 99.0))
                     if e.kind == "early_stop_patience"]
    assert later_best.fields["predicted_new_best_epoch"] == 16
    assert later_best.fields["predicted_stop_epoch"] is None


def test_restart_jump_and_drop_ahead_carry_their_predicted_effect():
    plan = [0.1] * 10 + [0.001] * 5 + [0.1] * 5 + [0.01] * 5 + [0.03] * 5
    h = history(RISING[:8], plan[:8], plan=plan)
    future = np.arange(9, 31)
    pred = np.linspace(60, 70, len(future))
    pred[future >= 16] -= 15
    events = events_ahead(h, future, pred)
    assert [(e.kind, e.epoch) for e in events] == [
        ("lr_drop", 11), ("lr_restart", 16), ("lr_drop", 21), ("lr_jump", 26)]
    restart = events[1].fields
    assert restart["lr_before"] == 0.001 and restart["lr_after"] == 0.1
    assert abs(restart["ratio"] - 100) < 1e-9
    assert abs(restart["predicted_drop"] - (pred[6] - pred[7])) < 1e-9
    assert restart["predicted_drop"] > 10
    assert events[0].fields["predicted_gain"] == pred[2] - pred[1]


def test_no_lr_known_means_no_events_ahead():
    df = EpochLog(epoch=range(1, 11), test_acc1=RISING[:10])
    h = prepare_history(df, None, total_epochs=20)
    assert events_ahead(h, np.arange(11, 21), np.full(10, 60.0)) == []


def test_the_last_epoch_of_an_anneal_is_not_a_step_drop():
    # A cosine to 0 over 40 epochs: its last epoch halves a tiny LR (as the ResNet50 cosine
    # log's plan does at epoch 91), which is the tail of the anneal, not a step decay.
    plan = [0.1 * (1 + math.cos(math.pi * e / 40)) / 2 + 1e-6 for e in range(40)]
    assert plan[-1] / plan[-2] < 0.5 and plan[-2] < 0.01 * max(plan)
    h = history(RISING[:20], plan[:20], plan=plan)
    future = np.arange(21, 41)
    assert events_ahead(h, future, np.linspace(60, 70, 20)) == []
    # A step decay in the plan's last epoch, after a held LR, still is one.
    step = [0.1] * 20 + [0.001] * 19 + [0.0001]
    h = history(RISING[:20], step[:20], plan=step)
    drops = [e.epoch for e in events_ahead(h, future, np.linspace(60, 70, 20))]
    assert drops == [21, 40]
