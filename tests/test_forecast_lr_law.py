"""The LR-area law: features, fit, and what it predicts under other schedules."""

import math

import numpy as np
import pytest

from runwatch.forecast.lr_law import (
    FLAT_B_PRIOR,
    BPrior,
    acc_from_logit,
    fit_lr_law,
    logit_acc,
    lr_jitter,
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
    fit = fit_lr_law(epochs, truth[:20], plan, (1.0, math.inf), plan.max())
    predicted = predict_lr_law(fit, plan)
    assert predicted[19] == pytest.approx(truth[19], abs=0.3)
    assert predicted[20] == pytest.approx(truth[20], abs=1.5)  # epoch 21: the restart
    assert truth[19] - predicted[20] > 10


def test_too_few_epochs_give_no_fit():
    assert fit_lr_law(np.arange(1, 4), np.array([10.0, 20, 30]), np.ones(10),
                      (1.0, math.inf), 1.0) is None


def test_noise_of_a_smooth_line_is_zero_and_of_noise_is_its_sd():
    assert noise_sd(np.arange(40.0)) == pytest.approx(0.0)
    noisy = np.random.default_rng(0).normal(0, 1.0, 400)
    assert noise_sd(noisy) == pytest.approx(1.0, rel=0.35)


def test_nonnegative_lstsq_matches_a_general_bounded_solver():
    from scipy.optimize import lsq_linear

    from runwatch.forecast.lr_law import nonnegative_lstsq

    rng = np.random.default_rng(3)
    for _ in range(20):
        design = rng.normal(size=(30, 3))
        target = rng.normal(size=30)
        cost, theta = nonnegative_lstsq(design, target)
        ref = lsq_linear(design, target, bounds=([-np.inf, 0, 0], np.inf)).x
        assert theta[1] >= 0 and theta[2] >= 0
        assert cost == pytest.approx(float(np.sum((design @ ref - target) ** 2)), rel=1e-6)


def test_jitter_is_the_logit_noise_per_sqrt_of_the_lr_it_ran_at():
    rng = np.random.default_rng(1)
    epochs = np.arange(1, 61)
    noisy = acc_from_logit(1.0 + rng.normal(0, 0.2, 60))
    calm = acc_from_logit(1.0 + rng.normal(0, 0.02, 60))
    peak_lrs, low_lrs = np.full(60, 0.1), np.full(60, 0.025)
    assert lr_jitter(noisy, epochs, peak_lrs, 0.1) == pytest.approx(0.2, rel=0.35)
    assert lr_jitter(noisy, epochs, peak_lrs, 0.1) > 5 * lr_jitter(calm, epochs, peak_lrs, 0.1)
    # The same noise at a quarter of the peak LR means twice the jitter per sqrt(LR).
    assert lr_jitter(noisy, epochs, low_lrs, 0.1) == pytest.approx(
        2 * lr_jitter(noisy, epochs, peak_lrs, 0.1))
    assert math.isnan(lr_jitter(noisy[:3], epochs[:3], peak_lrs, 0.1))


def test_prior_mean_grows_with_the_jitter_within_bounds_and_falls_back_without_it():
    prior = BPrior(scale=3.0, exponent=0.4)
    assert prior.mean(0.02) < prior.mean(0.05) < prior.mean(0.2)
    assert prior.mean(0.2) == pytest.approx(3.0 * 0.2**0.4)
    assert prior.mean(1e-12) == 0.2 and prior.mean(1e6) == 3.0
    assert prior.mean(math.nan) == prior.fallback


def test_prior_sets_b_while_the_lr_has_not_moved_and_flat_prior_leaves_it_to_the_data():
    plan = np.full(60, 0.1)
    acc = acc_from_logit(1.5 - 2.0 * np.arange(1.0, 31) ** -0.7
                         + np.random.default_rng(2).normal(0, 0.15, 30))
    small, large = BPrior(0.5, 0.0, sd=0.1), BPrior(2.0, 0.0, sd=0.1)
    fits = [fit_lr_law(np.arange(1, 31), acc, plan, (1.0, math.inf), 0.1, p)
            for p in (small, large)]
    assert fits[0].b == pytest.approx(0.5, abs=0.05) and fits[1].b == pytest.approx(2.0, abs=0.05)
    steps = np.where(np.arange(60) < 30, 0.1, 0.01)
    s1, eff = schedule_features(steps, 1.0, math.inf, 0.1)
    truth = acc_from_logit(lr_law(s1, eff, 1.5, 2.0, 0.7, 1.3))
    flat = fit_lr_law(np.arange(1, 61), truth, steps, (1.0, math.inf), 0.1, FLAT_B_PRIOR)
    assert flat.b == pytest.approx(1.3, abs=0.05)
