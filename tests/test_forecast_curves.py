"""The LR-blind models: the seed report's baselines and the Domhan et al. families."""

import numpy as np
import pytest

from runwatch.forecast.curves import (
    FAMILIES,
    conservative,
    fit_family,
    linear_recent,
    log_fit,
    pow3,
    predict_family,
)

EPOCHS = np.arange(1.0, 24.0)


def test_log_fit_recovers_the_teams_hand_fit():
    acc = 18.5 * np.log(EPOCHS) + 12.0
    assert log_fit(EPOCHS, acc, np.array([30.0]))[0] == pytest.approx(18.5 * np.log(30) + 12.0)


def test_linear_recent_extends_the_last_five_epochs_gain():
    acc = 40 + 0.5 * EPOCHS
    assert linear_recent(EPOCHS, acc, np.array([33.0]))[0] == pytest.approx(acc[-1] + 5.0)


def test_conservative_levels_off_at_gain_times_half_life_over_ln2():
    acc = 40 + 0.5 * EPOCHS
    far = conservative(EPOCHS, acc, np.array([1000.0]))[0]
    assert far == pytest.approx(acc[-1] + 0.5 * 5 / np.log(2), abs=1e-6)
    assert conservative(EPOCHS, acc, np.array([24.0]))[0] < acc[-1] + 0.5


def test_baselines_stay_inside_0_100():
    acc = 10 * EPOCHS
    assert linear_recent(EPOCHS, acc, np.array([100.0]))[0] == 100.0


def test_pow3_fit_recovers_its_curve():
    x = np.arange(1.0, 41.0)
    y = pow3(x, 80.0, 60.0, 0.6)
    params = fit_family("pow3", x, y, np.ones_like(x))
    assert params is not None
    assert predict_family("pow3", params, np.array([100.0]))[0] == pytest.approx(
        pow3(np.array([100.0]), 80.0, 60.0, 0.6)[0], abs=0.05)


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_every_family_fits_a_saturating_curve_and_predicts_finite_values(name):
    x = np.arange(1.0, 31.0)
    y = 75 - 50 * np.exp(-x / 8)
    params = fit_family(name, x, y, np.linspace(0.3, 1, len(x)))
    assert params is not None
    future = predict_family(name, params, np.arange(31.0, 60.0))
    assert np.all(np.isfinite(future)) and np.all((future >= 0) & (future <= 100))
    assert abs(future[0] - (75 - 50 * np.exp(-31 / 8))) < 3
