"""What-if: candidate schedules from a checkpoint, predicted by the LR-aware laws."""

import pandas as pd
import pytest
from forecast_curves import SEED_CSV, restart_run

from runwatch.forecast import ForecastOptions, forecast_run, forecast_scenarios
from runwatch.forecast.reliability import Reliability
from runwatch.forecast.scenario_plans import parse_plan, plan_lrs, standard_scenarios

SEED = pd.read_csv(SEED_CSV)
SEED_LRS = plan_lrs(parse_plan("seed"))


def test_every_standard_scenario_gets_a_curve_and_a_final_accuracy():
    history = SEED.iloc[:30]
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
    history = SEED.iloc[:31]
    (rewind,) = forecast_scenarios(history, SEED_LRS, 29, [("new cosine", plan_lrs(
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
