"""Band widths and the chance of reaching a target."""

import numpy as np
import pytest

from runwatch.forecast.intervals import CAL80, CAL95, band_scale, bands, reach_probabilities


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
