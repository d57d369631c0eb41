"""Model reliability by horizon: bands, learning it from forecasts, looking it up."""

import numpy as np
import pytest

from runwatch.forecast.reliability import (
    HORIZON_EDGES,
    RELIABILITY,
    Reliability,
    horizon_bands,
    learn_reliability,
)


def test_bands_split_the_epochs_ahead_by_their_share_of_the_history():
    # 100 epochs known: 1-9 ahead, 10-29, 30-99, 100 and more.
    bands = horizon_bands(np.array([101, 109, 110, 129, 130, 199, 200, 400]), 100)
    assert bands.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert len(HORIZON_EDGES) == 3


def test_a_model_twice_as_far_off_as_the_best_gets_half_the_multiplier():
    forecasts = [
        {(0, "good"): np.array([1.0, 1.0]), (0, "bad"): np.array([4.0, 4.0]),
         (3, "good"): np.array([4.0]), (3, "bad"): np.array([1.0])},
        {(0, "good"): np.array([0.01]), (0, "bad"): np.array([0.04])},  # scale-free
    ]
    table = dict(learn_reliability(forecasts).table)
    assert table["good"][0] == pytest.approx(1.0) and table["bad"][0] == pytest.approx(0.5)
    assert table["good"][3] == pytest.approx(0.5) and table["bad"][3] == pytest.approx(1.0)
    assert table["good"][1] == 1.0  # never measured in that band: its holdout weight alone


def test_ratios_are_averaged_geometrically_over_forecasts():
    forecasts = [{(0, "a"): np.array([1.0]), (0, "b"): np.array([4.0])},
                 {(0, "a"): np.array([1.0]), (0, "b"): np.array([1.0])}]
    assert dict(learn_reliability(forecasts).table)["b"][0] == pytest.approx(np.sqrt(0.5))


def test_multipliers_follow_each_epochs_band_and_leave_unknown_models_at_one():
    rel = Reliability((("law", (1.0, 0.8, 0.5, 0.2)),))
    m = rel.multipliers(["law", "other"], np.array([105, 120, 150, 300]), 100)
    assert m.tolist() == [[1.0, 0.8, 0.5, 0.2], [1.0, 1.0, 1.0, 1.0]]


def test_the_stored_table_names_the_laws_and_stays_within_zero_and_one():
    table = dict(RELIABILITY.table)
    assert "lr_law_acc_p1_kinf" in table and "conservative" in table
    assert all(len(row) == len(HORIZON_EDGES) + 1 and all(0 < v <= 1 for v in row)
               for row in table.values())
