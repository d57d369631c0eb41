"""The LR-area law: features, fit, and what it predicts under other schedules."""

import math
import warnings

import numpy as np
import pytest

from forecast.lr_law import (
    acc_from_logit,
    fit_lr_law,
    logit_acc,
    loss_map,
    lr_law,
    noise_sd,
    predict_lr_law,
    schedule_features,
)


def test_features_sum_the_normalised_lr_and_rise_at_once_but_decay_gradually():
    lrs = np.array([0.1, 0.1, 0.01, 0.01, 0.1])
    s1, eff = schedule_features(lrs, 1.0, 1.0, 0.1)
    assert s1.tolist() == pytest.approx([1.0, 2.0, 2.1, 2.2, 3.2])
    assert 0.1 < eff[2] < 1.0 and eff[3] < eff[2]  # the decrease pays off over epochs
    assert eff[4] == 1.0  # the rise is felt in full at once
    _, instant = schedule_features(lrs, 1.0, math.inf, 0.1)
    assert instant.tolist() == pytest.approx([1.0, 1.0, 0.1, 0.1, 1.0])


def test_logit_round_trip():
    acc = np.array([0.5, 50.0, 99.0])
    assert acc_from_logit(logit_acc(acc)) == pytest.approx(acc)


def test_fit_recovers_the_law_and_predicts_the_restart_drop():
    plan = np.array([0.1 * (1 + math.cos(math.pi * (e % 20) / 20)) / 2 + 1e-4
                     for e in range(60)])
    s1, eff = schedule_features(plan, 1.0, math.inf, plan.max())
    truth = acc_from_logit(lr_law(s1, eff, 1.5, 2.0, 0.7, 1.0))
    epochs = np.arange(1, 21)
    fit = fit_lr_law(epochs, truth[:20], None, plan, (1.0, math.inf), plan.max(), "logit_acc")
    predicted = predict_lr_law(fit, plan)
    assert predicted[19] == pytest.approx(truth[19], abs=0.3)
    assert predicted[20] == pytest.approx(truth[20], abs=1.5)  # epoch 21: the restart
    assert truth[19] - predicted[20] > 10


def test_loss_signal_maps_back_to_accuracy_through_the_runs_own_pairs():
    acc = np.linspace(20, 70, 30)
    loss = 4.0 - 0.04 * acc
    c0, c1 = loss_map(loss, acc)
    assert acc_from_logit(c0 + c1 * -loss[-1]) == pytest.approx(acc[-1], abs=3)
    plan = np.linspace(0.1, 0.001, 40)
    fit = fit_lr_law(np.arange(1, 31), acc, loss, plan, (1.0, math.inf), 0.1, "test_loss")
    assert fit is not None and fit.signal == "test_loss"
    assert np.all(np.isfinite(predict_lr_law(fit, plan)))


def test_too_few_epochs_give_no_fit():
    assert fit_lr_law(np.arange(1, 4), np.array([10.0, 20, 30]), None, np.ones(10),
                      (1.0, math.inf), 1.0, "logit_acc") is None


def test_noise_of_a_smooth_line_is_zero_and_of_noise_is_its_sd():
    assert noise_sd(np.arange(40.0)) == pytest.approx(0.0)
    noisy = np.random.default_rng(0).normal(0, 1.0, 400)
    assert noise_sd(noisy) == pytest.approx(1.0, rel=0.35)


def test_nonnegative_lstsq_matches_a_general_bounded_solver():
    from scipy.optimize import lsq_linear

    from forecast.lr_law import nonnegative_lstsq

    rng = np.random.default_rng(3)
    for _ in range(20):
        design = rng.normal(size=(30, 3))
        target = rng.normal(size=30)
        cost, theta = nonnegative_lstsq(design, target)
        ref = lsq_linear(design, target, bounds=([-np.inf, 0, 0], np.inf)).x
        assert theta[1] >= 0 and theta[2] >= 0
        assert cost == pytest.approx(float(np.sum((design @ ref - target) ** 2)), rel=1e-6)


def test_loss_map_of_a_constant_loss_is_finite_and_silent():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # polyfit's RankWarning would surface in the monitor
        c0, c1 = loss_map(np.array([2.0, 2.0, 2.0]), np.array([40.0, 41.0, 42.0]))
    assert np.isfinite(c0) and c1 > 0
