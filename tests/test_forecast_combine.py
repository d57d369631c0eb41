"""Weighing models by their held-out recent error, and when LR-blind models may vote."""

import numpy as np
import pytest
from forecast_curves import cosine_run

from runwatch.forecast.combine import (
    BandModel,
    ModelSpec,
    band_terms,
    combine,
    holdout_size,
    holdout_sizes,
    lr_blind_ok,
    model_weights,
    plan_extrapolation,
    score_models,
    valid_where,
)
from runwatch.forecast.engine import forecast_run

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
    valid = valid_where(scored, np.array([True, True, False, False]), np.full(4, 0.1))
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


def terms(pred, spread=0.0, extrapolation=0.0, horizon=0.1, level=60.0, noise=0.3):
    n = len(pred)
    return band_terms(np.asarray(pred, float), np.full(n, spread), noise, level,
                      np.full(n, extrapolation), np.full(n, horizon))


def test_each_term_widens_the_band():
    model = BandModel(coefs=(1.0, 1.0, 0.25, 0.1, 0.1), quantiles=((0.8, 1.0),))
    calm = model.scale(terms([61.0]))[0]
    assert model.scale(terms([61.0], spread=1.0))[0] > calm
    assert model.scale(terms([70.0]))[0] > calm
    assert model.scale(terms([61.0], extrapolation=2.0))[0] > calm
    assert model.scale(terms([61.0], horizon=3.0))[0] > calm
    # Extrapolation and horizon count in units of the room left: less at 93% than at 60%.
    assert model.scale(terms([93.5], level=93.0, horizon=3.0))[0] < model.scale(
        terms([60.5], level=60.0, horizon=3.0))[0]


def test_plan_extrapolation_counts_decades_outside_the_lrs_since_the_peak():
    seen = np.array([0.01, 0.05, 0.1, 0.1, 0.05])  # warmup, peak 0.1, annealed to 0.05
    ahead = np.array([0.05, 0.005, 0.02, 0.2])
    assert plan_extrapolation(seen, ahead) == pytest.approx([0.0, 1.0, 1.0, 1.0])
    assert plan_extrapolation(seen, np.array([0.2]))[0] == pytest.approx(np.log10(2))


def test_the_stored_band_model_grows_with_the_horizon_on_a_real_forecast():
    log, plan = cosine_run(20)
    result = forecast_run(log, plan, 75.0)
    widths = [p.hi80 - p.lo80 for p in result.predictions]
    assert widths[-1] > 2 * widths[0]
    assert len(result.band_terms) == len(result.predictions)


def test_95_band_contains_80_band_and_bands_stay_in_0_100():
    model = BandModel(coefs=(1.0, 1.0, 0.25), quantiles=((0.5, 0.6), (0.8, 1.2), (0.95, 2.5)))
    assert model.z(0.8) == 1.2 and model.z(0.9) == pytest.approx(1.2 + 1.3 * 2 / 3)
    pred, scale = np.array([50.0, 99.5]), np.array([1.0, 2.0])
    lo80, hi80, lo95, hi95 = model.bands(pred, scale)
    assert (lo95 <= lo80).all() and (hi80 <= hi95).all() and hi95.max() <= 100.0
    assert hi80[0] - pred[0] == pytest.approx(1.2) and pred[0] - lo95[0] == pytest.approx(2.5)


def test_reach_probability_follows_the_measured_error_distribution():
    model = BandModel(coefs=(1.0,), quantiles=((0.5, 0.5), (0.8, 1.0), (0.95, 3.0)))
    p = model.prob_at_least(np.array([74.0, 75.0, 76.0, 78.0, 81.0, 69.0]), np.ones(6), 75.0)
    assert p[1] == 0.5 and p[0] < 0.5 < p[2]
    assert p[2] == pytest.approx(0.9) and p[3] == pytest.approx(0.975)  # |z| quantiles 80, 95
    assert p[4] == 1.0 and p[5] == 0.0  # beyond twice the largest quantile: certain
