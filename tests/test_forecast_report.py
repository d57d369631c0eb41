"""The Markdown report: computed tables, incidents, and advice that follows the scenarios."""

import numpy as np
from forecast_curves import seed_log

from runwatch.forecast import ForecastOptions, forecast_run
from runwatch.forecast.inputs import EpochLog, prepare_history
from runwatch.forecast.report import (
    incident_checks,
    incidents,
    phase_tags,
    phases,
    recommendations,
    render_report,
    scenario_table,
)
from runwatch.forecast.scenarios import parse_plan, standard_scenarios
from runwatch.schedule import lr_plan

SEED = seed_log()
SPEC = parse_plan("seed")
LRS = lr_plan(SPEC)


def seed_report(n=31):
    history = SEED.head(n)
    candidates, _ = standard_scenarios(LRS, n, LRS[n - 1], int(np.argmax(history.test_acc1)) + 1,
                                       SPEC)
    result = forecast_run(history, LRS, 75.0,
                          ForecastOptions(patience=15, scenarios=tuple(candidates)))
    h = prepare_history(history, LRS)
    checks = incident_checks(history, LRS, 75.0, h, result, 5)
    return h, result, checks, render_report("seed", "CSV", h, result, checks, "seed")


def test_phase_tags_follow_the_lr():
    h = prepare_history(SEED, LRS)
    tags = phase_tags(h)
    assert tags[2] == "annealing" and tags[27] == "low LR" and tags[31] == "restart"


def test_incident_at_the_restart_has_before_after_and_what_was_forecast():
    h, result, checks, text = seed_report()
    assert list(checks) == [31]
    assert abs(checks[31].predicted - 48.55) < 3
    assert "test loss 1.4327 -> 2.4077" in text
    assert f"this forecast said {checks[31].predicted:.2f}" in text


def test_report_tables_carry_computed_numbers():
    h, result, _, text = seed_report()
    assert "| 31 | 0.05 | 48.55 | -20.51 |" in text
    for m in result.models:
        assert f"| {m.name} | {m.group} |" in text
    for s in result.scenarios:
        assert f"| {s.name} | {s.checkpoint_epoch} | {s.final_epoch} | {s.final_acc1:.2f}" in text


def test_recommendation_names_the_best_scenario_and_the_restart_ahead():
    _, result, _, _ = seed_report(30)
    advice = "\n".join(recommendations(result))
    best = max(result.scenarios, key=lambda s: s.final_acc1)
    assert f"Switch to **{best.name}**" in advice
    assert "restarts the LR at epochs 31, 61 and 91" in advice


def test_a_target_already_reached_is_said_so_not_forecast():
    # The seed run passed 60% at epoch 19: "more likely than not: epoch 19" read as a forecast.
    history = SEED.head(31)
    result = forecast_run(history, LRS, 60.0)
    text = render_report("seed", "CSV", prepare_history(history, LRS), result, {}, "seed")
    assert "- Target 60%: reached at epoch 19." in text and "more likely than not" not in text


def test_each_phase_row_adds_up_before_plus_gain_is_end():
    h = prepare_history(SEED, LRS)
    rows = [r for r in phases(h, phase_tags(h))[2:]]
    assert rows and any(r.startswith("| 2-") for r in rows)
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        before, end = (float(v) for v in cells[3].split(" -> "))
        assert abs(before + float(cells[4]) - end) < 0.011, row


def test_no_scenarios_says_why_a_finished_plan_is_not_an_unknown_one():
    history = SEED.head(31)
    ended = forecast_run(history, LRS[:31], 75.0)  # the plan ends with the log
    assert scenario_table(ended) == [
        "(no scenarios: the plan has no epochs left; pass a longer one with --plan)"]
    assert "plan is unknown" in scenario_table(forecast_run(history, None, 75.0))[0]


def test_no_incident_check_from_too_few_epochs_before_it():
    # A warmup's first LR step (DeiT: 1e-6 -> 8.6e-6 at epoch 3, accuracy 0.81%) was checked
    # against a "forecast" from 2 epochs, which read 0.81% as a fraction: 80.80 expected.
    acc = [0.55, 0.81, 2.21, 5.0, 8.0, 11.0, 14.0, 17.0, 19.0, 21.0]
    lrs = [1e-6, 1e-6, 8.6e-6, 1.6e-5, 2.4e-5, 3.2e-5, 4e-5, 4e-5, 4e-5, 4e-5]
    history = EpochLog(epoch=range(1, 11), test_acc1=acc, lr=lrs)
    plan = lrs + [4e-5] * 10
    result = forecast_run(history, plan, 75.0)
    checks = incident_checks(history, plan, 75.0, prepare_history(history, plan), result, 5)
    assert 3 not in checks and all(c.predicted < 30 for c in checks.values())


def test_the_eta_advice_does_not_ignore_an_earlier_early_stop():
    # From epoch 30 with patience 15: the stop is forecast at 44, the target at 88.
    _, result, _, _ = seed_report(30)
    advice = "\n".join(recommendations(result))
    assert "stop the run at epoch 44" in advice
    assert ("more likely than not from epoch 88, but only if early stopping does not end the "
            "run at epoch 44 first.") in advice


def test_a_rewarm_from_a_zero_lr_is_an_incident_with_no_infinite_ratio():
    # A one-cycle that reached 0.0, then a resume that rebuilt the schedule (a re-warm).
    acc = [40.0, 50, 56, 60, 63, 65, 66, 66.5, 58, 61, 63, 64]
    lrs = [0.1, 0.1, 0.08, 0.06, 0.04, 0.02, 0.0, 0.0, 0.1, 0.1, 0.1, 0.1]
    history = EpochLog(epoch=range(1, 13), test_acc1=acc, lr=lrs)
    plan = lrs + [0.05] * 8
    result = forecast_run(history, plan, 75.0)
    h = prepare_history(history, plan)
    checks = incident_checks(history, plan, 75.0, h, result, 5)
    text = "\n".join(incidents(h, checks))
    assert 9 in checks and "**epoch 9**: LR 0 -> 0.1;" in text and "inf" not in text
