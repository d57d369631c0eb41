"""Guessing the rest of a cosine schedule from the LRs logged so far."""

import numpy as np
import pandas as pd
import pytest

from runwatch.forecast.inputs import prepare_history
from runwatch.forecast.plan_infer import cosine_lrs, cosine_tail
from runwatch.schedule import ScheduleSpec, lr_plan


def test_a_torch_cosine_with_warmup_is_recovered_from_its_first_quarter():
    spec = ScheduleSpec("cosine", 0.1, 90, warmup_epochs=5, eta_min=1e-5)
    full = np.array(lr_plan(spec))
    fit = cosine_tail(np.arange(1, 24), full[:23])
    assert fit is not None and fit[2] + fit[3] == pytest.approx(91, abs=1)
    assert np.max(np.abs(cosine_lrs(fit, 24, 90) - full[23:])) < 0.002


@pytest.mark.parametrize("lrs", [
    [0.1] * 30 + [0.02] * 10,                         # a step: not extrapolated
    [0.1] * 40,                                       # constant
    list(np.linspace(0.1, 0.01, 20)) + [0.1] * 5,     # rises again after the peak
    [0.1, 0.0999, 0.0998],                            # too short to tell
])
def test_other_shapes_are_not_guessed(lrs):
    lrs = np.asarray(lrs, float)
    assert cosine_tail(np.arange(1, len(lrs) + 1), lrs) is None


def test_history_without_a_plan_follows_the_logged_cosine_with_a_note():
    spec = ScheduleSpec("cosine", 0.1, 60, eta_min=1e-5)
    lrs = lr_plan(spec)
    df = pd.DataFrame({"epoch": range(1, 21), "test_acc1": np.linspace(20, 60, 20),
                       "lr": lrs[:20]})
    h = prepare_history(df, None)
    assert h.total_epochs == 61  # T_max = 60 steps after epoch 1
    assert h.lrs[40] == pytest.approx(lrs[40], abs=0.002)
    assert any("follow a cosine decay" in n for n in h.notes)
