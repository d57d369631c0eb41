import math

from tui_records import EPOCH_S, T0, model_of, run_records

from runwatch.stream import FollowState
from runwatch.tui.run_model import RunModel
from runwatch.tui.status import (
    format_cell,
    format_duration,
    format_lr,
    header_facts,
    run_state,
    stall_after_s,
)


def test_header_progress_speed_and_eta_from_forecast():
    model = model_of(run_records(10))
    now = T0 + 10 * EPOCH_S
    facts = header_facts(model, FollowState(), "r", now, now, {"eta_epoch": 25})
    assert (facts.state, facts.epoch, facts.planned_epochs) == ("running", 10, 40)
    assert facts.epoch_time_s == EPOCH_S and facts.images_per_s == 1234.0
    assert facts.elapsed_s == 10 * EPOCH_S
    assert facts.eta_at == now + 15 * EPOCH_S  # no wall-clock ETA in the forecast: own pace
    own = header_facts(model, FollowState(), "r", now, now,
                       {"eta_epoch": 25, "eta_time": "2023-11-14T22:13+00:00"})
    assert own.eta_at == 1_699_999_980.0  # the forecast's own, anchored on its last epoch


def test_states_missing_waiting_stalled_finished():
    assert run_state(RunModel(), FollowState(missing=True), 0, None)[0] == "missing"
    assert run_state(RunModel(), FollowState(), 0, None)[0] == "waiting"
    model = model_of(run_records(3))
    assert stall_after_s(model) == 120.0  # no step records: max(120 s, 1.5 epochs)
    state, words = run_state(model, FollowState(), T0 + 3600, T0 + 3600 - 12 * 60)
    assert state == "stalled" and words == "stalled for 12 min"
    model.apply([{"type": "run_end", "status": "diverged", "epoch": 3, "time": T0}])
    assert run_state(model, FollowState(), T0, T0) == ("finished", "finished: diverged")


def test_a_foreign_log_gone_quiet_is_not_called_stalled():
    # A DeiT log.txt has no end marker: an old finished log and a dead run look alike, so the
    # header says how long it has been quiet instead of warning "stalled".
    start = {**run_records(0)[0], "synthetic": True}
    model = model_of([start] + run_records(3)[1:])
    state, words = run_state(model, FollowState(), T0 + 3600, T0 + 3600 - 12 * 60)
    assert (state, words) == ("quiet", "no new epoch for 12 min")


def test_a_foreign_log_at_its_last_planned_epoch_is_finished():
    # The run list calls it finished (stream.runs); the monitor said "running epoch 6 of 6".
    start = {**run_records(0)[0], "synthetic": True, "epochs": 3}
    model = model_of([start] + run_records(3)[1:])
    state, words = run_state(model, FollowState(), T0 + 60, T0 + 30)
    assert (state, words) == ("finished", "finished: reached its last planned epoch (3)")
    start["epochs"] = 4
    assert run_state(model_of([start] + run_records(3)[1:]), FollowState(), T0 + 60,
                     T0 + 30)[0] == "running"


def test_stall_threshold_with_step_records_covers_evaluation():
    assert stall_after_s(model_of(run_records(3, steps=5))) == 300.0


def test_formats():
    assert format_duration(45) == "45s" and format_duration(3 * 3600 + 300) == "3h 05m"
    assert format_duration(2 * 86400 + 4 * 3600) == "2d 04h" and format_duration(None) == "-"
    assert format_cell(None) == "-" and format_cell(math.nan) == "NaN"
    assert format_cell(math.inf) == "inf" and format_cell(1.23456, 3) == "1.235"
    assert format_lr(0.05) == "0.05" and format_lr(0.000147) == "1.47e-04"


def test_a_rewound_run_says_so_until_training_goes_on():
    # The smoke run finished at 24, then 'b' rewound it to 6: not 'finished: completed'.
    records = run_records(8) + [{"type": "run_end", "time": T0 + 9 * EPOCH_S,
                                 "status": "completed", "epoch": 8}]
    model = model_of(records + [{"type": "event", "time": T0 + 10 * EPOCH_S, "kind": "rewind",
                                 "to_epoch": 6, "abandoned_epochs": [7, 8]}])
    now = T0 + 11 * EPOCH_S
    assert run_state(model, FollowState(), now, now) == (
        "finished", "rewound to epoch 6: resume to continue")
    model.apply([{**run_records(1)[0], "type": "resume", "after_epoch": 6}])
    assert run_state(model, FollowState(), now, now)[0] == "running"
