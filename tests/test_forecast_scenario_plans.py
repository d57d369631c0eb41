"""The --plan syntax and the standard scenario set built with trainer.schedule."""

import pytest

from runwatch.errors import RunwatchError
from runwatch.forecast.scenario_plans import parse_plan, plan_lrs, standard_scenarios
from runwatch.schedule import ScheduleSpec, lr_plan

SEED = ScheduleSpec("cosine_restarts", 0.05, 100, t0=30, eta_min=1e-5)


def test_seed_plan_parses_to_the_seed_runs_schedule():
    assert parse_plan("seed") == SEED
    assert parse_plan("cosine_restarts:lr=0.05,t0=30,eta_min=1e-5,epochs=100") == SEED
    lrs = plan_lrs(SEED)
    assert len(lrs) == 100 and lrs[30] == 0.05 and lrs[29] == pytest.approx(0.000147, rel=0.01)


def test_step_plan_with_milestones():
    spec = parse_plan("step:lr=0.1,epochs=200,milestones=60/120/160,gamma=0.2")
    assert spec.milestones == (60, 120, 160)
    assert plan_lrs(spec)[60] == pytest.approx(0.02)


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
    plan = lr_plan(SEED)
    candidates, notes = standard_scenarios(plan, 30, plan[29], 29, SEED)
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
    plan = lr_plan(SEED)
    names = [n for n, _, _ in standard_scenarios(plan, 29, plan[28], 29, SEED)[0]]
    assert "new cosine from here (epoch 29, the best)" in names
    assert not any(n.startswith("rewind") for n in names)
