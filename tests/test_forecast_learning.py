"""Learning from finished curves: the streams a cut is forecast from, scores, the
leave-one-curve-out priors, reliability and bands, coverage and Brier scores; and the backtest
tool that prints them (forecast/backtest.py)."""

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from forecast_curves import COSINE, cosine_run, law_curve, write_csv

from runwatch.forecast.combine import BANDS, BandModel
from runwatch.forecast.engine import forecast_run
from runwatch.forecast.learning import (
    Curve,
    CutScore,
    annealing_pairs,
    brier,
    brier_last_value,
    final_coverage,
    fit_b_prior,
    fit_band_coefs,
    loco_b_priors,
    loco_bands,
    loco_reliability,
    score,
    stream_records,
    weighted_quantile,
)
from runwatch.forecast.loading import load_run
from runwatch.forecast.lr_law import B_PRIOR
from runwatch.schedule import lr_plan


def cosine_curve(n=60, noise=0.1) -> Curve:
    log, plan = cosine_run(n, noise=noise)
    return Curve("c", log, tuple(plan), "adamw")


def fake(curve, cut=0.5, errors=(), terms=None, final=(70.0, 71.0), band=(69, 73, 67, 75),
         last_value=65.0, reach=()) -> CutScore:
    """A score with the fields the learners read."""
    errors = np.asarray(errors, float)
    terms = np.ones((len(errors), len(BANDS.coefs))) if terms is None else np.asarray(terms)
    return CutScore(curve, cut, 10, 20, final[0], last_value, final[1], band, {}, 0.0, errors,
                    terms, {}, list(reach), 0.0, None)


def test_a_cut_is_the_stream_a_trainer_has_written_by_then(tmp_path):
    curve = cosine_curve()
    records = stream_records(curve, 30)
    start, epochs = records[0], records[1:]
    assert start["lr_schedule"] == list(curve.plan) and start["config"]["optim"]["name"] == "adamw"
    assert [r["epoch"] for r in epochs] == list(range(1, 31))
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    run = load_run(str(tmp_path))  # as `runwatch forecast RUN_DIR` reads it
    assert run.plan == list(curve.plan) and len(run.history) == 30


def test_score_compares_the_forecast_with_what_followed():
    curve = cosine_curve()
    result = forecast_run(curve.log.head(30), list(curve.plan), 75.0)
    s = score(curve, 0.5, result, BANDS, 0.1)
    assert s.n_known == 30 and s.final_true == curve.log.test_acc1[-1] and s.final_epoch == 60
    assert len(s.errors) == 30 and s.terms.shape == (30, len(BANDS.coefs))
    assert "lr_law_acc_p1_kinf" in s.model_final
    assert abs(s.final_error) < 3  # the law generated this curve
    assert s.last_value == curve.log.test_acc1[29]
    assert all(t > max(curve.log.test_acc1[:30]) for t, _, _ in s.reach)


def test_weighted_quantile_weighs_each_group_equally():
    small, big = np.array([10.0]), np.zeros(99)
    assert weighted_quantile([small, big], 0.6) == 10.0


def test_band_coefficients_are_recovered_from_laplace_errors():
    rng = np.random.default_rng(0)
    terms = rng.uniform(0.1, 2.0, (4000, len(BANDS.coefs)))
    true = np.array([1.0, 0.5, 0.0, 0.3, 0.1])
    errors = rng.laplace(0.0, np.sqrt(np.sum((terms * true) ** 2, axis=1)))
    coefs = fit_band_coefs([fake("a", errors=errors[i::8], terms=terms[i::8]) for i in range(8)])
    assert coefs == pytest.approx(true, abs=0.1)


def test_a_curves_band_model_is_learned_on_the_other_curves_only():
    rng = np.random.default_rng(1)
    scores = [fake(name, errors=rng.laplace(0, size, 200))
              for name, size in (("a", 1.0), ("b", 1.0), ("c", 10.0))]
    models = loco_bands(scores)
    assert isinstance(models["c"], BandModel)
    half = {name: m.z(0.8) * m.scale(np.ones((1, len(BANDS.coefs))))[0]
            for name, m in models.items()}
    assert half["c"] < 3 < half["a"]  # c is judged by a's and b's small errors


def test_coverage_counts_a_missing_final_forecast_as_a_miss():
    inside, outside = fake("a", final=(70.0, 71.0)), fake("b", final=(80.0, 71.0))
    missing = fake("c")
    missing.final_pred = None
    assert final_coverage([inside, outside, missing], 80) == pytest.approx(1 / 3)
    assert final_coverage([inside, outside], 95) == 0.5


def test_brier_scores_ours_and_a_last_value_baseline_learned_on_other_curves():
    sure = fake("a", reach=[(80.0, 1.0, True), (90.0, 0.0, False)])
    wrong = fake("b", reach=[(80.0, 0.0, True)])
    assert brier([sure]) == 0.0 and brier([sure, wrong]) == pytest.approx(1 / 3)
    # The last value sits 15 points below the target that was reached: the baseline is unsure.
    a = fake("a", final=(80.0, 80.0), last_value=65.0, reach=[(80.0, 0.9, True)])
    b = fake("b", final=(80.0, 80.0), last_value=70.0, reach=[(80.0, 0.9, True)])
    value = brier_last_value([a, b])
    assert 0.1 < value < 1.0 and brier([a, b]) == pytest.approx(0.01)
    assert math.isnan(brier([]))


def test_the_backtest_tool_prints_the_issue_table_and_goal_lines(tmp_path):
    paths = []
    for seed in (0, 1):
        df = law_curve(lr_plan(COSINE), 40, noise=0.3, seed=seed)
        paths.append(tmp_path / f"synthetic{seed}.csv")
        write_csv(df, paths[-1])
    done = subprocess.run([sys.executable, "-m", "runwatch.forecast.backtest",
                           *map(str, paths)], capture_output=True, text=True, timeout=240,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr
    assert "| 50% of the run |" in done.stdout and "| synthetic1 | 50% | 20 |" in done.stdout
    assert "final-accuracy MAE from 50% of the run" in done.stdout
    assert "Brier score" in done.stdout
    lone = subprocess.run([sys.executable, "-m", "runwatch.forecast.backtest", str(paths[0])],
                          capture_output=True, text=True, timeout=60)
    assert lone.returncode == 2 and lone.stderr.count("\n") == 1  # one curve: one line


def test_b_prior_law_is_recovered_from_pairs_and_learned_without_the_scored_curve():
    jitter = np.geomspace(0.01, 0.3, 12)
    learned = fit_b_prior([(j, 2.5 * j**0.3) for j in jitter])
    assert learned.scale == pytest.approx(2.5, rel=1e-3)
    assert learned.exponent == pytest.approx(0.3, abs=1e-3)
    pairs = {"a": [(0.1, 1.0)] * 3, "b": [(0.1, 1.0)] * 3, "c": [(0.1, 9.0)] * 3}
    priors = loco_b_priors(pairs)
    assert priors["c"].mean(0.1) == pytest.approx(1.0, abs=1e-3)  # c's own b is left out
    assert priors["a"].mean(0.1) == pytest.approx(3.0, abs=0.2)  # clipped at 3 from 5
    assert loco_b_priors({"a": [(0.1, 1.0)] * 3, "b": []})["a"] == B_PRIOR  # too few others


def test_annealing_pairs_read_b_from_the_whole_curve_and_jitter_at_each_cut():
    pairs = annealing_pairs(cosine_curve(noise=0.3))
    assert len(pairs) == 3 and all(j > 0 for j, _ in pairs)
    assert pairs[0][1] == pytest.approx(1.0, abs=0.5)  # cosine_run's law has b = 1


def test_reliability_of_a_curve_is_learned_on_the_other_curves_only():
    class S:  # the fields loco_reliability reads
        def __init__(self, curve, good, bad):
            self.curve = curve
            self.band_errors = {(0, "good"): np.array([good]), (0, "bad"): np.array([bad])}

    rel = loco_reliability([S("a", 1.0, 4.0), S("b", 4.0, 1.0)])
    assert dict(rel["a"].table)["bad"][0] == 1.0  # b found "bad" the better one
    assert dict(rel["b"].table)["bad"][0] == pytest.approx(0.5)
