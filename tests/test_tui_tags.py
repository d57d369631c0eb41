import math

import pytest
from tui_records import epoch

from runwatch.tui.run_model import EpochPoint
from runwatch.tui.tags import epoch_tag


def point(e, acc, lr=0.01, **fields):
    return EpochPoint.from_record(epoch(e, acc, lr=lr, **fields))


@pytest.mark.parametrize(("gain", "tag"), [
    (3.0, "fast growth"), (1.0, "moderate"), (0.2, "slow"), (0.0, "plateau"),
    (-0.5, "plateau"), (-2.0, "dip"),
])
def test_tag_by_gain(gain, tag):
    assert epoch_tag(point(2, 50 + gain), point(1, 50.0), best_epoch=None) == tag


def test_restart_beats_peak_and_regression_and_peak_is_the_best_row():
    before = point(30, 69.06, lr=0.000147)
    after = point(31, 48.55, lr=0.05)
    assert epoch_tag(after, before, best_epoch=31) == "LR RESTART"
    assert epoch_tag(before, point(29, 69.07), best_epoch=30) == "PEAK"
    assert epoch_tag(point(1, 10.0), None, best_epoch=None) == ""


def test_non_finite_first():
    bad = point(5, 40.0, test_loss=math.nan)
    assert epoch_tag(bad, point(4, 39.0), best_epoch=5) == "non-finite"


def test_a_regression_is_what_the_forecast_calls_one_other_drops_are_dips():
    # A 2-point drop is a dip unless the forecast's events (noise-aware) flag its epoch.
    assert epoch_tag(point(2, 48.0), point(1, 50.0), None, regressions={2}) == "regression"
    assert epoch_tag(point(2, 48.0), point(1, 50.0), None, regressions={7}) == "dip"
    assert epoch_tag(point(2, 50.3), point(1, 50.0), None, regressions=()) == "slow"
