"""The synthetic long run used by the speed goal."""

from runwatch.forecast.speed import synthetic_run


def test_synthetic_run_is_a_rising_curve_with_a_longer_plan():
    history, plan = synthetic_run(100, total=150)
    assert len(history) == 100 and len(plan) == 150
    assert history["test_acc1"].iloc[-10:].mean() > history["test_acc1"].iloc[5:15].mean() + 5
    assert history["lr"].tolist() == plan[:100]
