"""What-if: candidate schedules from a checkpoint, predicted by the LR-aware laws."""

import numpy as np
import pytest
from forecast_curves import restart_run, seed_log

from runwatch.errors import RunwatchError
from runwatch.forecast import ForecastOptions, forecast_run, forecast_scenarios
from runwatch.forecast.inputs import prepare_history
from runwatch.forecast.models import build_models
from runwatch.forecast.reliability import Reliability
from runwatch.forecast.scenarios import Anchor, parse_plan, run_scenarios, standard_scenarios
from runwatch.schedule import ScheduleSpec, lr_plan

SEED = seed_log()
SEED_SPEC = ScheduleSpec("cosine_restarts", 0.05, 100, t0=30, eta_min=1e-5)
SEED_LRS = lr_plan(parse_plan("seed"))


def test_every_standard_scenario_gets_a_curve_and_a_final_accuracy():
    history = SEED.head(30)
    candidates, _ = standard_scenarios(SEED_LRS, 30, SEED_LRS[29], 29, parse_plan("seed"))
    scenarios = forecast_scenarios(history, SEED_LRS, 30,
                                   [(n, lrs) for n, c, lrs in candidates if c == 30])
    assert len(scenarios) == 5  # all but the rewind, which starts elsewhere
    for s in scenarios:
        assert s.final_epoch == 100 and len(s.curve) == 70
        assert s.lo80 <= s.final_acc1 <= s.hi80
        assert s.curve[-1][2] == s.final_acc1
    by = {s.name: s for s in scenarios}
    planned = by["continue as planned"]
    # The plan restarts at 31, 61 and 91: it ends mid-period, well below a single long anneal.
    assert by["anneal from current LR"].final_acc1 > planned.final_acc1 + 5
    assert by["T_0=100, keep-phase"].curve[0][2] < 69.06 - 5  # the 270x jump costs at once
    assert by["anneal from current LR"].curve[0][2] > 69.06 - 1  # no jump, no drop


def test_rewind_scenario_starts_from_its_own_checkpoint():
    history = SEED.head(31)
    (rewind,) = forecast_scenarios(history, SEED_LRS, 29, [("new cosine", lr_plan(
        parse_plan("cosine:lr=0.05,epochs=71,eta_min=1e-5")))])
    assert rewind.checkpoint_epoch == 29 and rewind.curve[0][0] == 30
    assert rewind.final_acc1 > 69.07  # one long anneal ends above the old best


def test_a_checkpoint_outside_the_history_is_skipped():
    df, plan = restart_run(20)
    assert forecast_scenarios(df, plan, 25, [("late", plan[25:])]) == ()


def test_scenarios_weigh_the_laws_by_their_reliability_as_the_forecast_does():
    df, plan = restart_run(30)
    law = "lr_law_acc_p1_kinf"
    names = [m.name for m in forecast_run(df, plan, 80.0).models]
    only_law = Reliability(tuple((m, (1.0,) * 4 if m == law else (1e-12,) * 4) for m in names))
    options = ForecastOptions(scenarios=(("as planned", 30, tuple(plan[30:])),),
                              reliability=only_law)
    result = forecast_run(df, plan, 80.0, options)
    own = next(m for m in result.models if m.name == law)
    curve = [acc for _, _, acc in result.scenarios[0].curve]
    assert curve == pytest.approx(own.predictions, abs=1e-6)


def test_continue_as_planned_is_the_main_forecast_with_its_band():
    history = SEED.head(30)
    candidates, _ = standard_scenarios(SEED_LRS, 30, SEED_LRS[29], 29, parse_plan("seed"))
    result = forecast_run(history, SEED_LRS, 75.0, ForecastOptions(scenarios=tuple(candidates)))
    planned = next(s for s in result.scenarios if s.name == "continue as planned")
    main = result.predictions
    assert [acc for _, _, acc in planned.curve] == pytest.approx([p.acc1 for p in main])
    assert (planned.final_acc1, planned.lo80, planned.hi80) == pytest.approx(
        (main[-1].acc1, main[-1].lo80, main[-1].hi80))


def test_every_scenario_moves_with_the_main_forecast_by_what_the_laws_say_it_changes():
    df, plan = restart_run(30)
    h = prepare_history(df, plan)
    _, fits = build_models(h)
    weights = {name: 1.0 for name in fits}
    candidates, _ = standard_scenarios(plan, 30, plan[29], 25)
    laws_only, _ = run_scenarios(h, fits, weights, candidates)
    future = np.arange(31, 61)
    planned = next(s for s in laws_only if s.name == "continue as planned")
    law_planned = np.array([acc for _, _, acc in planned.curve])
    main = Anchor(future, law_planned + 2.0, np.full(len(future), 1.0))
    anchored, _ = run_scenarios(h, fits, weights, candidates, main)
    for own, moved in zip(laws_only, anchored, strict=True):
        shift = [b[2] - a[2] for a, b in zip(own.curve, moved.curve, strict=True)]
        assert shift == pytest.approx([2.0] * len(shift), abs=1e-9), own.name


def test_seed_plan_parses_to_the_seed_runs_schedule():
    assert parse_plan("seed") == SEED_SPEC
    assert parse_plan("cosine_restarts:lr=0.05,t0=30,eta_min=1e-5,epochs=100") == SEED_SPEC
    lrs = lr_plan(SEED_SPEC)
    assert len(lrs) == 100 and lrs[30] == 0.05 and lrs[29] == pytest.approx(0.000147, rel=0.01)


def test_step_plan_with_milestones():
    spec = parse_plan("step:lr=0.1,epochs=200,milestones=60/120/160,gamma=0.2")
    assert spec.milestones == (60, 120, 160)
    assert lr_plan(spec)[60] == pytest.approx(0.02)


@pytest.mark.parametrize("text, words", [
    ("cosine:lr=0.1", "needs lr= and epochs="),
    ("cosine:lr=0.1,epochs=ten", "bad number"),
    ("cosine:lr=0.1,epochs=10,speed=3", "bad plan item"),
    ("wiggly:lr=0.1,epochs=10", "unknown schedule"),
    ("cosine_restart:lr=0.05", "unknown schedule 'cosine_restart'"),  # not "needs epochs="
])
def test_bad_plans_name_the_problem(text, words):
    with pytest.raises(RunwatchError, match=words):
        parse_plan(text)


def by_name(candidates):
    """Scenario name without its epoch detail -> (checkpoint epoch, LRs)."""
    return {name.split(" (")[0]: (c, lrs) for name, c, lrs in candidates}


def test_standard_set_for_the_seed_run_at_epoch_30():
    plan = lr_plan(SEED_SPEC)
    candidates, notes = standard_scenarios(plan, 30, plan[29], 29, SEED_SPEC)
    names = [name for name, _, _ in candidates]
    assert names[0] == "continue as planned" and len(names) == 6 and not notes
    got = by_name(candidates)
    assert got["continue as planned"][1][0] == 0.05  # the restart at epoch 31
    keep = got["T_0=100, keep-phase"][1]
    assert keep[0] == pytest.approx(0.0397, abs=5e-4)  # DOMAIN.md: keep phase jumps 270x
    assert got["T_0=100, match-lr"][1][0] < 0.001  # no jump
    anneal = got["anneal from current LR"][1]
    assert anneal[0] == pytest.approx(plan[29]) and anneal[-1] < anneal[0]
    checkpoint, rewind = got["rewind to best"]
    assert checkpoint == 29 and len(rewind) == 71 and rewind[0] == 0.05 and rewind[-1] < 1e-3
    lower = got["peak LR x0.5"][1]
    assert max(lower) == pytest.approx(0.025)
    assert all(len(lrs) == 100 - c for _, c, lrs in candidates)


def test_without_a_spec_the_set_is_built_from_the_plans_lrs():
    plan = [0.1] * 60 + [0.02] * 60
    candidates, notes = standard_scenarios(plan, 50, 0.1, 45)
    names = [n for n, _, _ in candidates]
    assert not any(n.startswith("T_0") for n in names)
    assert any("T_0 scenarios need" in n for n in notes)
    assert by_name(candidates)["peak LR x0.5"][1][0] == 0.05


def test_no_epochs_left_means_no_scenarios():
    candidates, notes = standard_scenarios([0.1] * 10, 10, 0.1, 5)
    assert candidates == [] and notes


def test_at_the_best_epoch_the_new_cosine_is_not_called_a_rewind():
    plan = lr_plan(SEED_SPEC)
    names = [n for n, _, _ in standard_scenarios(plan, 29, plan[28], 29, SEED_SPEC)[0]]
    assert "new cosine from here (epoch 29, the best)" in names
    assert not any(n.startswith("rewind") for n in names)
