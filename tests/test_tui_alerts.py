import math
from pathlib import Path

import numpy as np
from tui_records import epoch, model_of, run_records

from runwatch.schedule import ScheduleSpec
from runwatch.stream import FollowState
from runwatch.stream.sources import read_source
from runwatch.tui.alerts import AlertContext, compute_alerts, missing
from runwatch.tui.forecasting import run_forecast
from runwatch.tui.run_model import RunModel
from runwatch.tui.tags import warmup_end
from runwatch.tui.widgets.epoch_table import table_rows

DATA = Path(__file__).parent / "data"


def alerts_of(records, follow=None, state="running", words="running", forecast=None):
    """The alerts the monitor shows, with the forecast it computes (as the app does)."""
    model = RunModel()
    model.apply(records)
    if forecast is None:
        forecast = run_forecast([p.record for p in model.epochs()], model.plan, 75.0,
                                model.patience()).data
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
    far = alerts_of(run_records(1), forecast={})[0]
    assert far.level == "warning" and "forecast unavailable" in far.message


def test_regression_after_the_fact_names_the_restart():
    alerts = alerts_of(run_records(11))
    regression = [a for a in alerts if a.kind == "REGRESSION"]
    assert len(regression) == 1 and "epoch 11 after an LR restart" in regression[0].message
    assert regression[0].text().startswith("[!] ")


def test_a_drop_within_the_runs_noise_is_no_regression():
    # A 1.5-point dip in a run whose accuracy jitters by about a point is noise: the
    # forecast's noise-aware rule (3x the local noise) stays quiet; a 12-point fall does not.
    jitter = np.random.default_rng(0).normal(0.0, 1.0, 20)
    noisy = [60.0 + 0.1 * e + j for e, j in enumerate(jitter, 1)]
    records = run_records(0) + [epoch(e, acc) for e, acc in enumerate(noisy, 1)]
    quiet = alerts_of(records + [epoch(21, noisy[-1] - 1.5)])
    assert "REGRESSION" not in kinds(quiet)
    fall = alerts_of(records + [epoch(21, noisy[-1] - 12.0)])
    assert [a.epoch for a in fall if a.kind == "REGRESSION"] == [21]


def test_plateau():
    records = run_records(0) + [epoch(e, 60.0 + e * 0.01) for e in range(1, 8)]
    assert "PLATEAU" in kinds(alerts_of(records))
    assert "PLATEAU" not in kinds(alerts_of(run_records(5)))
    ended = records + [{"type": "run_end", "status": "completed", "epoch": 7, "time": 1.0}]
    assert "PLATEAU" not in kinds(alerts_of(ended))


def test_divergence_non_finite_and_rising_loss():
    records = run_records(3) + [epoch(4, test_loss=math.nan),
                                {"type": "event", "kind": "nonfinite", "epoch": 5, "step": 7,
                                 "value": math.inf, "time": 1.0}]
    got = alerts_of(records)
    assert kinds(got).count("NON-FINITE") == 2 and got[0].level == "critical"
    assert any("epoch 4: test_loss is nan" in a.message for a in got)
    rising = run_records(4) + [epoch(e, test_loss=loss) for e, loss in ((5, 4.0), (6, 8.0),
                                                                        (7, 16.0))]
    diverging = [a for a in alerts_of(rising) if a.kind == "DIVERGING"]
    assert diverging and "test loss 16.000" in diverging[0].message
    # Epoch 11 restarts the LR: its loss jump is the restart's cost, not a divergence.
    after_restart = run_records(8) + [epoch(e, test_loss=loss) for e, loss in ((9, 4.0),
                                                                              (10, 8.0),
                                                                              (11, 20.0))]
    assert "DIVERGING" not in kinds(alerts_of(after_restart))


def test_train_test_gap_is_the_widening_one():
    steady = run_records(0) + [epoch(e, 40.0 + e, train_acc1=60.0 + e) for e in range(1, 21)]
    assert "TRAIN-TEST GAP" not in kinds(alerts_of(steady))  # 20 points, but not growing
    widening = run_records(0) + [epoch(e, 40.0 + min(e, 10), train_acc1=50.0 + e)
                                 for e in range(1, 21)]
    gap = [a for a in alerts_of(widening) if a.kind == "TRAIN-TEST GAP"]
    assert gap and "widened" in gap[0].message


def test_early_stopping_patience_left():
    records = run_records(0, patience=6) + [epoch(1, 50.0), epoch(2, 60.0)] + [
        epoch(e, 59.0, epochs_since_best=e - 2) for e in range(3, 7)]
    got = [a for a in alerts_of(records) if a.kind == "EARLY STOP NEAR"]
    assert got and "patience left 2 of 6" in got[0].message
    assert "EARLY STOP NEAR" not in kinds(alerts_of(records[:5]))  # 2 of 6 used: quiet


def test_stream_health_stalled_unreadable_reset_missing_branch():
    follow = FollowState(bad_lines=3, last_bad="garbage{", resets=1)
    records = run_records(4) + [{"type": "event", "kind": "rewind", "to_epoch": 2, "time": 1.0}]
    got = alerts_of(records, follow, "stalled", "stalled for 12 min")
    assert {"STALLED", "UNREADABLE LINES", "FILE REPLACED", "BRANCH ABANDONED"} <= set(kinds(got))
    assert any("3 skipped" in a.message and "garbage{" in a.message for a in got)
    quiet = alerts_of(run_records(4), state="quiet", words="no new epoch for 3h")
    assert [(a.level, a.kind) for a in quiet if a.kind == "QUIET"] == [("info", "QUIET")]
    assert "STALLED" not in kinds(quiet)


def test_run_end_levels_and_order():
    got = alerts_of(run_records(2) + [{"type": "run_end", "status": "diverged", "epoch": 2,
                                       "message": "loss nan", "time": 1.0}])
    assert got[0].kind == "RUN ENDED" and got[0].level == "critical"
    levels = [a.level for a in got]
    assert levels == sorted(levels, key=["critical", "warning", "info"].index)


def test_the_end_of_a_branch_rewound_away_is_not_an_alert():
    ended = run_records(4) + [{"type": "run_end", "status": "completed", "epoch": 4,
                               "time": 1.0}]
    assert "RUN ENDED" in kinds(alerts_of(ended))
    rewound = ended + [{"type": "event", "kind": "rewind", "to_epoch": 2, "time": 2.0}]
    got = kinds(alerts_of(rewound, state="finished", words="rewound to epoch 2"))
    assert "RUN ENDED" not in got and "BRANCH ABANDONED" in got


def test_restart_ahead_is_ranked_by_its_predicted_cost_then_by_nearness():
    # Defect: one epoch before a restart with a predicted gain, "[!!]"; 27 epochs before the
    # seed's 21-point drop, "[i]".
    gain = {"events": [{"kind": "lr_restart", "epoch": 11, "predicted_drop": -1.5}]}
    near = alerts_of(run_records(10), forecast=gain)[0]
    assert (near.level, near.kind) == ("info", "LR RESTART AHEAD")
    assert "next epoch" in near.message and "predicted gain 1.5 pts" in near.message
    big = {"events": [{"kind": "lr_restart", "epoch": 31, "predicted_drop": 21.0}]}
    spec = ScheduleSpec("cosine_restarts", 0.05, 100, t0=30, eta_min=1e-5)
    far = alerts_of(run_records(4, spec=spec), forecast=big)[0]
    assert far.level == "critical" and "in 27 epochs" in far.message and far.cost == 21.0
    # Within a level, the costlier first.
    records = run_records(4, spec=spec) + [epoch(5, 20.0, spec=spec)]
    both = alerts_of(records, forecast={**big, "events": big["events"] + [
        {"kind": "divergence", "epoch": 5, "metric": "test_acc1", "value": 20.0,
         "best": 60.0}]})
    assert [a.kind for a in both if a.level == "critical"][:2] == ["LR RESTART AHEAD",
                                                                  "DIVERGING"]


def test_a_warmup_is_no_restart(tmp_path):
    # Defect: runwatch's recipe (warmup_epochs=5) gave "[!!] LR RESTART AHEAD ... 3x" at
    # epoch 2, and its table tagged the warmup's epoch 3 "LR RESTART".
    spec = ScheduleSpec("cosine", 0.1, 40, warmup_epochs=5, warmup_start_factor=0.1)
    model = model_of(run_records(2, spec=spec))
    assert warmup_end(model) == 5
    assert "LR RESTART AHEAD" not in kinds(compute_alerts(model, FollowState(), "running",
                                                          "running", {}))
    tags = [r.tag for r in table_rows(model_of(run_records(6, spec=spec)))]
    assert tags[1] == "warmup" and "LR RESTART" not in tags  # epoch 2 ran at 2.8x epoch 1
    # A foreign log says no schedule: its LRs do (DeiT: warmup from 1e-6 over 5 epochs).
    deit = DATA / "foreign/deit_style_log_txt/repvit_m0_9_distill_300e.txt"
    records, _ = read_source(deit)
    model = model_of(records)
    assert warmup_end(model) >= 3
    tags = [r.tag for r in table_rows(model)]
    assert "LR RESTART" not in tags[:warmup_end(model)]


def test_a_missing_path_says_which_and_warns_only_when_it_stays_missing():
    # Defect: the demo's first seconds showed "[!] FILE MISSING" while its trainer started,
    # and a mistyped path waited forever without naming the path.
    starting = missing(AlertContext(path="/tmp/demo", missing_s=2.0, trainer_pid=42))
    assert (starting.level, starting.kind) == ("info", "STARTING")
    assert "pid 42" in starting.message and "/tmp/demo" in starting.message
    waiting = missing(AlertContext(path="runs/r5O", missing_s=5.0))
    assert (waiting.level, waiting.kind) == ("info", "WAITING") and "runs/r5O" in waiting.message
    typo = missing(AlertContext(path="runs/r5O", missing_s=45.0))
    assert (typo.level, typo.kind) == ("warning", "FILE MISSING")
    assert "still nothing at runs/r5O after 45 s: check the path" in typo.message
    shown = compute_alerts(RunModel(), FollowState(missing=True), "missing", "",
                           context=AlertContext(path="runs/r5O", missing_s=45.0))
    assert [a.kind for a in shown] == ["FILE MISSING"]
    # Something there that is no file (the reader says what): a warning at once.
    fifo = compute_alerts(RunModel(), FollowState(missing=True, problem="runs/r5 is a FIFO"),
                          "missing", "", context=AlertContext(path="runs/r5", missing_s=1.0))
    assert [(a.level, a.message) for a in fifo] == [
        ("warning", "runs/r5 is a FIFO; watching for a file")]


def test_the_target_reached_is_an_alert():
    records = run_records(0) + [epoch(1, 50.0), epoch(2, 76.0), epoch(3, 77.0)]
    model = model_of(records)
    got = compute_alerts(model, FollowState(), "running", "running", {},
                         AlertContext(target=75.0))
    reached = [a for a in got if a.kind == "TARGET REACHED"]
    assert reached and reached[0].epoch == 2 and "76.00 at epoch 2" in reached[0].message
