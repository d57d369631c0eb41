import sys

from tui_records import EPOCH_S, SPEC, T0, run_records

from runwatch.schedule import lr_plan
from runwatch.tui.forecasting import UNAVAILABLE, run_forecast
from runwatch.tui.status import eta_timestamp


def epochs(n):
    return [r for r in run_records(n) if r["type"] == "epoch"]


def test_forecast_of_the_live_branch_sees_the_restart_ahead():
    outcome = run_forecast(epochs(8), lr_plan(SPEC), 75.0)
    assert outcome.note == "" and outcome.data["target"] == 75.0
    restarts = [e for e in outcome.data["events"] if e["kind"] == "lr_restart"]
    assert restarts and restarts[0]["epoch"] == 11 and restarts[0]["predicted_drop"] > 0


def test_no_history_and_missing_package_are_notes(monkeypatch):
    assert run_forecast([], None, 75.0).data is None
    monkeypatch.setitem(sys.modules, "runwatch.forecast", None)
    outcome = run_forecast(epochs(5), None, 75.0)
    assert outcome.data is None and outcome.note == UNAVAILABLE


def test_a_clock_after_the_last_epoch_dates_the_eta_from_the_clock():
    history, plan = epochs(8), lr_plan(SPEC)
    last = T0 + 8 * EPOCH_S
    as_logged = run_forecast(history, plan, 60.0).data
    assert eta_timestamp(as_logged) < last + 30 * EPOCH_S  # dated from the last epoch
    later = last + 86400.0  # opened a day later (stopped, rewound, crashed)
    data = run_forecast(history, plan, 60.0, now=later).data
    assert data["eta_epoch"] == as_logged["eta_epoch"]
    assert eta_timestamp(data) >= later + (data["eta_epoch"] - 8) * EPOCH_S - 60
    # A clock behind the records (a fixed test clock) changes nothing.
    assert run_forecast(history, plan, 60.0, now=T0).data["eta_time"] == as_logged["eta_time"]
