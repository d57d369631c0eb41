"""The backtest's scoring: cuts, per-model errors, leave-one-curve-out coverage."""

import numpy as np
from forecast_curves import cosine_run

from forecast.backtest import coverage_loco, main, score_cut, weighted_quantile
from forecast.speed import synthetic_run


def test_score_cut_sees_only_the_epochs_before_the_cut():
    df, plan = cosine_run(60, noise=0.1)
    score = score_cut("c", df, plan, 0.5)
    assert score.n_known == 30 and score.final_true == df["test_acc1"].iloc[-1]
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


def test_main_prints_the_table_and_goal_lines(tmp_path, capsys):
    paths = []
    for seed in (0, 1):
        df, _ = synthetic_run(40, total=40, seed=seed)
        paths.append(tmp_path / f"synthetic{seed}.csv")
        df.to_csv(paths[-1], index=False)
    assert main([str(p) for p in paths]) == 0
    out = capsys.readouterr().out
    assert "| synthetic1 | 50% | 20 |" in out and "coverage (leave-one-curve-out)" in out
    assert "final-accuracy MAE from 50% of the run" in out and "450-epoch history" in out
