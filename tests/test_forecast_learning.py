"""Learning from finished curves: cuts, per-model errors, leave-one-curve-out priors, reliability
and coverage; and the backtest tool that prints them (bench/forecast_backtest.py)."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from forecast_curves import COSINE, cosine_run, law_curve, write_csv

from runwatch.forecast.learning import (
    annealing_pairs,
    coverage_loco,
    fit_b_prior,
    loco_b_priors,
    loco_reliability,
    score_cut,
    weighted_quantile,
)
from runwatch.forecast.lr_law import B_PRIOR
from runwatch.schedule import lr_plan

REPO = Path(__file__).resolve().parent.parent


def test_score_cut_sees_only_the_epochs_before_the_cut():
    df, plan = cosine_run(60, noise=0.1)
    score = score_cut("c", df, plan, 0.5)
    assert score.n_known == 30 and score.final_true == df.test_acc1[-1]
    assert len(score.z) == 30 and "lr_law_acc_p1_kinf" in score.model_final_err
    assert abs(score.final_pred - score.final_true) < 3  # the law generated this curve


def test_weighted_quantile_weighs_each_group_equally():
    small, big = np.array([10.0]), np.zeros(99)
    assert weighted_quantile([small, big], 0.6) == 10.0


def test_coverage_of_a_curve_uses_only_the_other_curves():
    class S:  # the fields coverage_loco reads
        def __init__(self, curve, z):
            self.curve, self.z = curve, np.asarray(z, float)

    scores = [S("a", [1.0, 1.0]), S("b", [5.0, 5.0])]
    cov = coverage_loco(scores, 0.8)
    assert cov == {"a": 1.0, "b": 0.0}  # b is judged by a's small errors


def test_the_backtest_tool_prints_the_table_and_goal_lines(tmp_path):
    paths = []
    for seed in (0, 1):
        df = law_curve(lr_plan(COSINE), 40, noise=0.3, seed=seed)
        paths.append(tmp_path / f"synthetic{seed}.csv")
        write_csv(df, paths[-1])
    done = subprocess.run([sys.executable, str(REPO / "bench/forecast_backtest.py"),
                           *map(str, paths)], capture_output=True, text=True, timeout=240,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr
    assert "| synthetic1 | 50% | 20 |" in done.stdout
    assert "coverage (leave-one-curve-out)" in done.stdout
    assert "final-accuracy MAE from 50% of the run" in done.stdout
    assert "450-epoch history" in done.stdout


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
    df, plan = cosine_run(60, noise=0.3)
    pairs = annealing_pairs(df, plan)
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
