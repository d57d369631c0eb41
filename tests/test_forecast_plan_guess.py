"""Guessing the rest of a plan from the LRs logged so far: warm restarts, a cosine decay."""

import numpy as np
import pytest

from runwatch.forecast.plan_guess import cosine_lrs, cosine_tail, guess_plan
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


@pytest.mark.parametrize("spec, logged", [
    (ScheduleSpec("cosine_restarts", 0.05, 100, t0=30, eta_min=1e-5), 31),  # the seed run
    (ScheduleSpec("cosine_restarts", 0.1, 200, t0=10, t_mult=2, eta_min=0.0), 35),
    (ScheduleSpec("cosine_restarts", 0.4, 100, t0=12, eta_min=1e-3, warmup_epochs=3,
                  warmup_start_factor=0.25), 20),
])
def test_a_completed_warm_restart_cycle_gives_the_schedule(spec, logged):
    lrs = np.array(lr_plan(spec))
    guess = guess_plan(np.arange(1, logged + 1), lrs[:logged])
    assert guess is not None and guess.spec is not None
    assert (guess.spec.t0, guess.spec.t_mult, guess.spec.warmup_epochs) == (
        spec.t0, spec.t_mult, spec.warmup_epochs)
    n = min(len(guess.lrs), len(lrs))
    assert np.max(np.abs(guess.lrs[:n] - lrs[:n])) < 0.02 * spec.base_lr
    assert "assumed" in guess.note and f"T_0={spec.t0}" in guess.note


def test_the_seed_runs_restarts_are_carried_two_periods_on():
    spec = ScheduleSpec("cosine_restarts", 0.05, 100, t0=30, eta_min=1e-5)
    guess = guess_plan(np.arange(1, 32), np.array(lr_plan(spec))[:31])
    assert len(guess.lrs) == 120  # the period it is in (31-60), then two more
    rises = [e + 1 for e in range(1, 120) if guess.lrs[e] > 10 * guess.lrs[e - 1]]
    assert rises == [31, 61, 91]
    assert len(guess_plan(np.arange(1, 32), np.array(lr_plan(spec))[:31], 100).lrs) == 100


@pytest.mark.parametrize("lrs", [
    [0.1] * 30 + [0.02] * 10 + [0.1] * 5,             # a step down then back up: no cosine
    list(np.linspace(0.1, 0.001, 20)) + [0.1] * 5,    # a linear decay, then a re-warm
    [0.1] * 10 + [0.05] * 5,                          # no restart: a step (not extrapolated)
])
def test_a_rise_that_no_cosine_restart_schedule_reproduces_is_not_guessed(lrs):
    lrs = np.asarray(lrs, float)
    assert guess_plan(np.arange(1, len(lrs) + 1), lrs) is None
