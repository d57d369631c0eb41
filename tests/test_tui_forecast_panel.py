"""The forecast panel's text: where the target is reached, past or ahead."""

from runwatch.tui.forecasting import ForecastOutcome
from runwatch.tui.widgets.forecast_panel import forecast_lines


def _data(eta_epoch, last_epoch):
    return {"target": 82.0, "eta_epoch": eta_epoch, "last_epoch": last_epoch,
            "probability_reach": 1.0, "models": [], "events": [],
            "predictions": [{"epoch": last_epoch + 1, "acc1": 82.3, "lo80": 82.1,
                             "hi80": 82.5}]}


def test_a_target_already_reached_is_said_so_with_its_epoch():
    lines = forecast_lines(ForecastOutcome(_data(eta_epoch=269, last_epoch=300)))
    assert lines[0] == "82%: reached at ep 269"


def test_a_target_ahead_gives_the_epoch_and_the_band():
    lines = forecast_lines(ForecastOutcome(_data(eta_epoch=305, last_epoch=300)))
    assert lines[0] == "82% at ep 305" and lines[1] == "80% band: ep 301..301"
    assert all(len(line) <= 54 for line in lines)  # the panel's width at 120x40


def test_no_forecast_says_why():
    assert forecast_lines(ForecastOutcome(None, "forecast unavailable")) == [
        "forecast unavailable"]


def test_models_listed_are_those_that_make_the_forecast_at_the_plans_end():
    data = _data(eta_epoch=305, last_epoch=300)
    data["models"] = [
        {"name": "pow3", "final_acc1": 80.0, "weight": 0.5, "end_weight": 0.0},
        {"name": "lr_law_acc_p0.5_k3", "final_acc1": 83.0, "weight": 0.2, "end_weight": 0.7},
        {"name": "lr_law_acc_p1_kinf", "final_acc1": 82.5, "weight": 0.3, "end_weight": 0.3}]
    models = [line for line in forecast_lines(ForecastOutcome(data)) if line.startswith("  ")]
    assert models == ["  lr_law_acc_p0.5_k3: 83.0% reaches (w 0.70)",
                      "  lr_law_acc_p1_kinf: 82.5% reaches (w 0.30)"]


def test_events_ahead_come_before_the_models_so_a_short_panel_keeps_them():
    data = _data(eta_epoch=305, last_epoch=300)
    data["models"] = [{"name": f"m{i}", "final_acc1": 83.0, "weight": 0.25, "end_weight": 0.25}
                      for i in range(4)]
    data["events"] = [{"kind": "lr_drop", "epoch": 301},
                      {"kind": "lr_restart", "epoch": 302, "ratio": 15.0, "predicted_drop": 6.7}]
    lines = forecast_lines(ForecastOutcome(data))
    first = next(i for i, line in enumerate(lines) if line.startswith("next:"))
    assert lines[first:first + 2] == ["next: ep 301: lr_drop",
                                      "next: ep 302: lr_restart LR x15, drop ~6.7 pts"]
    assert lines[first + 2].startswith("  m0")
