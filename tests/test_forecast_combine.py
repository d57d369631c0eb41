"""Weighing models by their held-out recent error, and when LR-blind models may vote."""

import numpy as np
import pytest

from runwatch.forecast.combine import (
    CAL80,
    CAL95,
    ModelSpec,
    band_scale,
    bands,
    combine,
    holdout_size,
    holdout_sizes,
    lr_blind_ok,
    model_weights,
    reach_probabilities,
    score_models,
    valid_where,
)

EPOCHS = np.arange(1, 31)
ACC = 30 + EPOCHS.astype(float)


def constant_model(name: str, offset: float, uses_plan: bool = True) -> ModelSpec:
    """Predicts the true line plus `offset` at any epoch."""
    return ModelSpec(name, "curve", uses_plan, lambda n, e: 30 + e.astype(float) + offset)


def test_holdout_size_is_a_share_of_the_history_and_off_for_short_ones():
    assert holdout_size(5) == 0
    assert 3 <= holdout_size(30) <= 20
    assert holdout_size(1000) <= 40


def test_long_histories_are_also_scored_on_their_later_half():
    assert holdout_sizes(5) == ()
    assert holdout_sizes(7) == (3,)  # half the history is no longer than the recent holdout
    assert holdout_sizes(8) == (3, 4)
    assert holdout_sizes(100) == (30, 50) and holdout_sizes(400) == (40, 200)


def test_a_model_wrong_on_the_earlier_stretch_scores_worse_than_one_right_throughout():
    def wrong_early(n, e):  # right on the last 30% of the epochs, 2 points off before them
        return 30 + e.astype(float) + np.where(e <= 21, 2.0, 0.0)

    models = [constant_model("steady", 0.5), ModelSpec("late", "curve", True, wrong_early)]
    scored = score_models(models, EPOCHS, ACC, np.arange(31, 35))
    # late: 0 on the recent holdout (epochs 22-30), 2 points on epochs 16-21 of the long one.
    assert scored[1].holdout_rmse == pytest.approx(np.sqrt((0 + 4 * 6 / 15) / 2))
    assert scored[0].holdout_rmse == pytest.approx(0.5)


def test_better_holdout_error_earns_more_weight_and_far_worse_none():
    models = [constant_model("good", 0.1), constant_model("fair", 0.25),
              constant_model("bad", 10.0)]
    scored = score_models(models, EPOCHS, ACC, np.arange(31, 41))
    assert [round(s.holdout_rmse, 6) for s in scored] == [0.1, 0.25, 10.0]
    w = model_weights(scored, noise=0.1)
    assert w[0] > w[1] > 0 and w[2] == 0 and abs(w.sum() - 1) < 1e-9


def test_failed_models_get_no_weight():
    failing = ModelSpec("fails", "curve", True, lambda n, e: None)
    scored = score_models([constant_model("ok", 0.5), failing], EPOCHS, ACC, np.arange(31, 35))
    assert model_weights(scored, 0.1).tolist() == [1.0, 0.0]


def test_lr_blind_models_stop_voting_once_the_plan_moves_the_lr():
    lrs = np.array([0.1] * 35 + [0.01] * 10)
    ok = lr_blind_ok(lrs, 30, np.arange(31, 46), k=5)
    assert ok[:5].all() and not ok[5:].any()


def test_combine_uses_only_valid_models_per_epoch():
    models = [constant_model("aware", 0.0, True), constant_model("blind", 4.0, False)]
    future = np.arange(31, 35)
    scored = score_models(models, EPOCHS, ACC, future)
    weights = np.array([0.5, 0.5])
    valid = valid_where(scored, np.array([True, True, False, False]))
    assert valid.tolist() == [[True] * 4, [True, True, False, False]]
    pred, spread, _ = combine([s.future for s in scored], weights, valid)
    truth = 30 + future
    assert pred[0] == truth[0] + 2.0 and spread[0] == 2.0
    assert pred[2] == truth[2] and spread[2] == 0.0


def test_multipliers_shift_the_weight_between_models_epoch_by_epoch():
    models = [constant_model("near", 0.0), constant_model("far", 2.0)]
    future = np.arange(31, 33)
    scored = score_models(models, EPOCHS, ACC, future)
    multipliers = np.array([[1.0, 0.0], [0.0, 1.0]])  # near trusted at 31, far at 32
    pred, _, shares = combine([s.future for s in scored], np.array([0.5, 0.5]),
                              np.ones((2, 2), bool), multipliers)
    assert pred.tolist() == [61.0, 64.0] and shares.tolist() == [[1.0, 0.0], [0.0, 1.0]]


def test_scale_grows_with_model_spread_and_with_the_move_promised():
    pred = np.array([60.0, 70.0])
    calm = band_scale(pred, np.zeros(2), 0.3, 60.0)
    assert calm[1] > calm[0] > 0
    assert (band_scale(pred, np.ones(2), 0.3, 60.0) > calm).all()


def test_95_band_contains_80_band_and_bands_stay_in_0_100():
    pred, scale = np.array([50.0, 99.5]), np.array([1.0, 2.0])
    lo80, hi80, lo95, hi95 = bands(pred, scale)
    assert (lo95 <= lo80).all() and (hi80 <= hi95).all() and hi95.max() <= 100.0
    assert hi80[0] - pred[0] == pytest.approx(CAL80) and pred[0] - lo95[0] == pytest.approx(CAL95)


def test_reach_probability_is_half_at_the_target_and_rises_above_it():
    p = reach_probabilities(np.array([74.0, 75.0, 76.0]), np.ones(3), 75.0)
    assert p[0] < 0.5 and abs(p[1] - 0.5) < 1e-9 and p[2] > 0.5
