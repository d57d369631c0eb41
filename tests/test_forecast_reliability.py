"""Model reliability by horizon: bands, learning it from forecasts, looking it up."""

import numpy as np
import pytest

from runwatch.forecast.inputs import EpochLog, prepare_history
from runwatch.forecast.models import build_models, model_names
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
    assert table["good"][1] == 1.0  # no model measured in that band: all count alike


def test_a_model_never_measured_in_a_band_gets_the_median_there():
    forecasts = [{(0, "a"): np.array([1.0]), (0, "b"): np.array([4.0]),
                  (0, "c"): np.array([16.0]), (1, "a"): np.array([1.0]),
                  (1, "c"): np.array([4.0])}]
    table = dict(learn_reliability(forecasts).table)
    assert table["a"][0] == pytest.approx(1.0) and table["c"][0] == pytest.approx(0.25)
    assert table["b"][1] == pytest.approx(0.75)  # a (1) and c (0.5) were measured in band 1
    assert table["b"][2] == 1.0


def test_ratios_are_averaged_geometrically_over_forecasts():
    forecasts = [{(0, "a"): np.array([1.0]), (0, "b"): np.array([4.0])},
                 {(0, "a"): np.array([1.0]), (0, "b"): np.array([1.0])}]
    assert dict(learn_reliability(forecasts).table)["b"][0] == pytest.approx(np.sqrt(0.5))


def test_multipliers_follow_each_epochs_band():
    rel = Reliability((("law", (1.0, 0.8, 0.5, 0.2)),))
    m = rel.multipliers(["law"], np.array([105, 120, 150, 300]), 100)
    assert m.tolist() == [[1.0, 0.8, 0.5, 0.2]]
    assert Reliability().multipliers(["any"], np.array([105]), 100).tolist() == [[1.0]]


def test_a_model_the_table_does_not_know_gets_the_median_not_more_than_the_measured_ones():
    rel = Reliability((("weak", (0.1, 0.1, 0.1, 0.1)), ("fair", (0.3, 0.2, 0.2, 0.2)),
                       ("good", (0.9, 0.8, 0.7, 0.6))))
    m = rel.multipliers(["new", "good"], np.array([105, 120, 150, 300]), 100)
    assert m[0].tolist() == pytest.approx([0.3, 0.2, 0.2, 0.2])  # "fair", the median
    stored = RELIABILITY.multipliers(["a model added later", *dict(RELIABILITY.table)],
                                     np.array([105, 120, 150, 300]), 100)
    assert (stored[0] <= stored[1:].max(axis=0)).all() and (stored[0] < 1).all()


def test_the_models_built_and_the_table_agree():
    epochs = np.arange(1, 31)
    df = EpochLog(epoch=epochs, test_acc1=60 - 40 * np.exp(-epochs / 8), lr=0.1)
    models, _ = build_models(prepare_history(df, None))
    assert [m.name for m in models] == model_names()
    assert sorted(model_names()) == sorted(dict(RELIABILITY.table))


def test_the_stored_table_names_the_laws_and_stays_within_zero_and_one():
    table = dict(RELIABILITY.table)
    assert "lr_law_acc_p1_kinf" in table and "conservative" in table
    assert all(len(row) == len(HORIZON_EDGES) + 1 and all(0 < v <= 1 for v in row)
               for row in table.values())
