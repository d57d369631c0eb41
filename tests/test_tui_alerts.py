import math

from tui_records import epoch, run_records

from trainer.stream import FollowState
from tui.alerts import compute_alerts
from tui.run_model import RunModel


def alerts_of(records, follow=None, state="running", words="running", forecast=None):
    model = RunModel()
    model.apply(records)
    return compute_alerts(model, follow or FollowState(), state, words, forecast)


def kinds(alerts):
    return [a.kind for a in alerts]


def test_restart_ahead_with_ratio_and_predicted_drop():
    forecast = {"events": [{"kind": "lr_restart", "epoch": 11, "predicted_drop": 12.5}]}
    alerts = alerts_of(run_records(8), forecast=forecast)
    restart = alerts[0]
    assert restart.kind == "LR RESTART AHEAD" and restart.level == "critical"
    assert "in 3 epochs (epoch 11)" in restart.message
    assert "predicted drop 12.5 pts" in restart.message and "x)" in restart.message
    assert restart.text().startswith("[!!] LR RESTART AHEAD:")  # readable without colour
    far = alerts_of(run_records(1))[0]
    assert far.level == "warning" and "forecast unavailable" in far.message


def test_regression_after_the_fact_names_the_restart():
    alerts = alerts_of(run_records(11))
    regression = [a for a in alerts if a.kind == "REGRESSION"]
    assert len(regression) == 1 and "epoch 11 after an LR restart" in regression[0].message
    assert regression[0].text().startswith("[!] ")


def test_plateau():
    records = run_records(0) + [epoch(e, 60.0 + e * 0.01) for e in range(1, 8)]
    assert "PLATEAU" in kinds(alerts_of(records))
    assert "PLATEAU" not in kinds(alerts_of(run_records(5)))


def test_divergence_non_finite_and_rising_loss():
    records = run_records(3) + [epoch(4, test_loss=math.nan),
                                {"type": "event", "kind": "nonfinite", "epoch": 5, "step": 7,
                                 "value": math.inf, "time": 1.0}]
    got = alerts_of(records)
    assert kinds(got).count("NON-FINITE") == 2 and got[0].level == "critical"
    rising = run_records(3) + [epoch(4, test_loss=20.0)]
    assert "DIVERGING" in kinds(alerts_of(rising))
    after_restart = run_records(10) + [epoch(11, test_loss=20.0)]  # epoch 11 restarts the LR
    assert "DIVERGING" not in kinds(alerts_of(after_restart))


def test_train_test_gap():
    assert "TRAIN-TEST GAP" in kinds(alerts_of(run_records(2) + [epoch(3, 50.0,
                                                                       train_acc1=70.0)]))
    assert "TRAIN-TEST GAP" not in kinds(alerts_of(run_records(3)))


def test_early_stopping_patience_left():
    records = run_records(0, patience=6) + [epoch(1, 50.0), epoch(2, 60.0)] + [
        epoch(e, 59.0, epochs_since_best=e - 2) for e in range(3, 7)]
    got = [a for a in alerts_of(records) if a.kind == "EARLY STOP NEAR"]
    assert got and "patience left 2 of 6" in got[0].message


def test_stream_health_stalled_unreadable_reset_missing_branch():
    follow = FollowState(bad_lines=3, last_bad="garbage{", resets=1)
    records = run_records(4) + [{"type": "event", "kind": "rewind", "to_epoch": 2, "time": 1.0}]
    got = alerts_of(records, follow, "stalled", "stalled for 12 min")
    assert {"STALLED", "UNREADABLE LINES", "FILE REPLACED", "BRANCH ABANDONED"} <= set(kinds(got))
    assert any("3 skipped" in a.message and "garbage{" in a.message for a in got)
    assert "FILE MISSING" in kinds(alerts_of([], FollowState(missing=True), "missing", ""))


def test_run_end_levels_and_order():
    got = alerts_of(run_records(2) + [{"type": "run_end", "status": "diverged", "epoch": 2,
                                       "message": "loss nan", "time": 1.0}])
    assert got[0].kind == "RUN ENDED" and got[0].level == "critical"
    levels = [a.level for a in got]
    assert levels == sorted(levels, key=["critical", "warning", "info"].index)
