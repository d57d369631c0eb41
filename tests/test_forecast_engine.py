"""forecast_run end to end: the seed run's goals, determinism, JSON shape, bad input."""

import json
import math
from dataclasses import replace
from datetime import datetime, timezone

import pytest
from forecast_curves import cosine_run, law_curve, restart_run, seed_log, with_time

from runwatch.errors import RunwatchError
from runwatch.forecast import EpochLog, ForecastOptions, forecast_run
from runwatch.forecast.reliability import Reliability
from runwatch.forecast.scenarios import parse_plan
from runwatch.schedule import lr_plan

SEED = seed_log()
SEED_LRS = lr_plan(parse_plan("seed"))


def at(result, epoch):
    return next(p for p in result.predictions if p.epoch == epoch)


def test_seed_epochs_1_to_20_forecast_epoch_30_within_one_point():
    result = forecast_run(SEED.head(20), SEED_LRS, 75.0)
    assert abs(at(result, 30).acc1 - 69.06) <= 1.0


def test_seed_epochs_1_to_30_forecast_the_restart_epoch_within_three_points():
    result = forecast_run(SEED.head(30), SEED_LRS, 75.0)
    assert abs(at(result, 31).acc1 - 48.55) <= 3.0
    # The learned band gives a predicted move no width of its own (its weight is nil on the
    # backtest's curves), so the 80% band misses the restart by 0.25 points; the 95% holds it.
    assert at(result, 31).lo95 <= 48.55 <= at(result, 31).hi95


def test_seed_restart_is_flagged_with_a_large_drop_from_epoch_23():
    result = forecast_run(SEED.head(23), SEED_LRS, 75.0)
    restart = next(e for e in result.events if e.kind == "lr_restart")
    assert restart.epoch == 31 and restart.fields["predicted_drop"] > 10
    assert restart.fields["lr_before"] == pytest.approx(0.000147, rel=0.01)
    assert restart.fields["lr_after"] == 0.05


def test_same_input_same_result():
    df, plan = restart_run(25)
    options = ForecastOptions(patience=5, scenarios=(("again", 25, tuple(plan[25:])),))
    first = forecast_run(df, plan, 80.0, options).to_dict()
    assert forecast_run(df, plan, 80.0, options).to_dict() == first


def test_reliability_option_weighs_the_models_at_every_future_epoch():
    df, plan = cosine_run(30)
    law = "lr_law_acc_p1_kinf"
    names = [m.name for m in forecast_run(df, plan, 80.0).models]
    only_law = Reliability(tuple((m, (1.0,) * 4 if m == law else (1e-12,) * 4) for m in names))
    result = forecast_run(df, plan, 80.0, ForecastOptions(reliability=only_law))
    own = next(m for m in result.models if m.name == law)
    assert own.weight > 0
    assert [p.acc1 for p in result.predictions] == pytest.approx(own.predictions, abs=1e-6)


def test_json_has_the_issues_fields():
    df, plan = cosine_run(30)
    df = with_time(df, 600.0)
    data = json.loads(json.dumps(forecast_run(df, plan, 60.0).to_dict()))
    for key in ("target", "probability_reach", "eta_epoch", "eta_time", "predictions",
                "events", "models", "scenarios", "notes"):
        assert key in data
    first = data["predictions"][0]
    assert set(first) == {"epoch", "acc1", "lo80", "hi80", "lo95", "hi95"}
    assert first["epoch"] == 31 and len(data["predictions"]) == 30
    assert all(p["lo95"] <= p["lo80"] <= p["acc1"] <= p["hi80"] <= p["hi95"]
               for p in data["predictions"])
    assert {m["group"] for m in data["models"]} == {"baseline", "curve", "schedule", "prior"}
    assert 0 <= data["prior_share"] <= 1


def test_eta_epoch_and_wall_clock_from_the_epoch_time():
    df, plan = cosine_run(30, noise=0.05)
    df = with_time(df, 600.0)
    final = forecast_run(df, plan, 0.0).predictions[-1].acc1
    target = round(final - 1.0, 1)
    result = forecast_run(df, plan, target)
    assert result.probability_reach > 0.5 and result.eta_epoch is not None
    assert result.eta_epoch > 30
    assert result.eta_time.startswith(
        datetime.fromtimestamp(1.7e9 + 600.0 * result.eta_epoch, tz=timezone.utc)
        .strftime("%Y-%m-%dT%H:%M"))


def test_unreachable_target_is_said_plainly():
    df, plan = cosine_run(30)
    result = forecast_run(df, plan, 99.9)
    assert result.probability_reach < 0.2 and result.eta_epoch is None
    assert any("unlikely" in n for n in result.notes)


def test_reached_target_is_probability_one_at_its_epoch():
    result = forecast_run(SEED.head(30), SEED_LRS, 60.0)
    assert result.probability_reach == 1.0 and result.eta_epoch == 19


@pytest.mark.parametrize("n", [1, 2, 3])
def test_too_few_epochs_still_answer_with_a_note(n):
    df, plan = cosine_run(n)
    result = forecast_run(df, plan, 75.0)
    assert len(result.predictions) == 60 - n
    assert result.predictions[0].acc1 == pytest.approx(df.test_acc1[-1])
    assert any("too few" in note for note in result.notes)


def test_nan_epochs_are_skipped_and_reported():
    df, plan = cosine_run(30)
    df.test_acc1[10] = math.nan
    result = forecast_run(df, plan, 75.0)
    assert any(e.kind == "nonfinite" and e.epoch == 11 for e in result.events)
    assert len(result.predictions) == 30


def test_missing_lr_and_plan_still_forecast_with_a_note():
    df, _ = cosine_run(30)
    result = forecast_run(replace(df, lr=None), None, 75.0)
    assert result.predictions and all(m.group != "schedule" for m in result.models)
    assert any("no learning rate known" in n for n in result.notes)


def test_no_usable_epoch_is_an_error():
    with pytest.raises(RunwatchError):
        forecast_run(EpochLog(epoch=[1], test_acc1=[math.nan]), None, 75.0)


def test_scenarios_in_options_come_back_evaluated():
    df, plan = restart_run(18)
    calm = tuple([plan[17]] * (60 - 18))
    options = ForecastOptions(scenarios=(("as planned", 18, tuple(plan[18:])),
                                         ("hold the low LR", 18, calm)))
    result = forecast_run(df, plan, 75.0, options)
    planned, held = result.scenarios
    assert planned.final_epoch == held.final_epoch == 60
    assert planned.curve[2][1] == plan[20]  # (epoch 21, its LR, acc)
    assert held.curve[2][2] > planned.curve[2][2] + 5  # no restart, no drop at epoch 21


def test_end_weights_are_the_models_that_make_the_final_forecast():
    # 30 epochs into a 60-epoch cosine: the LR ends far below the current one, so LR-blind
    # models do not count at epoch 60 and the law variants carry the whole final forecast.
    df, plan = cosine_run(30)
    result = forecast_run(df, plan, 80.0)
    ends = {m.name: m for m in result.models}
    assert sum(m.end_weight for m in ends.values()) == pytest.approx(1.0)
    assert all(m.end_weight == 0 for m in ends.values() if m.group != "schedule")
    assert any(m.weight > 0 for m in ends.values() if m.group != "schedule")
    final = sum(m.end_weight * m.final_acc1 for m in ends.values() if m.end_weight)
    assert final == pytest.approx(result.predictions[-1].acc1, abs=1e-6)


def test_a_one_cycle_plan_ending_at_zero_is_forecast_to_its_last_epoch():
    plan = [0.1 * min(1.0, (e + 1) / 5) * (1 - e / 59) for e in range(60)]  # ends at 0.0
    assert plan[-1] == 0.0
    df = law_curve(plan, 30, noise=0.1)
    result = forecast_run(df, plan, 75.0)
    assert result.predictions[-1].epoch == 60
    assert not any("ignored" in n for n in result.notes)
    assert result.predictions[-1].acc1 > df.test_acc1[-1]  # the anneal still pays
    assert not any(e.kind == "lr_drop" for e in result.events)  # the tail, not a step
