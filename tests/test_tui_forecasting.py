import sys

from tui_records import SPEC, run_records

from trainer.schedule import lr_plan
from tui.forecasting import UNAVAILABLE, run_forecast


def epochs(n):
    return [r for r in run_records(n) if r["type"] == "epoch"]


def test_forecast_of_the_live_branch_sees_the_restart_ahead():
    outcome = run_forecast(epochs(8), lr_plan(SPEC), 75.0)
    assert outcome.note == "" and outcome.data["target"] == 75.0
    restarts = [e for e in outcome.data["events"] if e["kind"] == "lr_restart"]
    assert restarts and restarts[0]["epoch"] == 11 and restarts[0]["predicted_drop"] > 0


def test_no_history_and_missing_package_are_notes(monkeypatch):
    assert run_forecast([], None, 75.0).data is None
    monkeypatch.setitem(sys.modules, "forecast", None)
    outcome = run_forecast(epochs(5), None, 75.0)
    assert outcome.data is None and outcome.note == UNAVAILABLE
