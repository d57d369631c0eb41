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


def test_the_models_are_summed_up_in_words_not_named():
    # Defect: the panel showed model internals ("lr_law_acc_p0.7_k1: 54.1% misses (w 0.34)").
    data = _data(eta_epoch=305, last_epoch=300)
    data["models"] = [
        {"name": "pow3", "final_acc1": 80.0, "weight": 0.5, "end_weight": 0.0},
        {"name": "lr_law_acc_p0.5_k3", "final_acc1": 83.0, "weight": 0.2, "end_weight": 0.7},
        {"name": "lr_law_acc_p1_kinf", "final_acc1": 81.5, "weight": 0.3, "end_weight": 0.3}]
    lines = forecast_lines(ForecastOutcome(data))
    assert lines[-1] == "ep 301: 2 models say 81.5-83.0%; 1 of 2 reach 82%"
    assert not any("lr_law" in line or "(w " in line for line in lines)


def test_events_ahead_come_before_the_models_so_a_short_panel_keeps_them():
    data = _data(eta_epoch=305, last_epoch=300)
    data["models"] = [{"name": f"m{i}", "final_acc1": 83.0, "weight": 0.25, "end_weight": 0.25}
                      for i in range(4)]
    data["events"] = [{"kind": "lr_drop", "epoch": 301},
                      {"kind": "lr_restart", "epoch": 302, "ratio": 15.0, "predicted_drop": 6.7}]
    lines = forecast_lines(ForecastOutcome(data))
    first = next(i for i, line in enumerate(lines) if line.startswith("next:"))
    assert lines[first:first + 2] == ["next: ep 301: LR drop",
                                      "next: ep 302: LR restart LR x15, drop ~6.7 pts"]
    assert lines[first + 2].startswith("ep 301: 4 models")
