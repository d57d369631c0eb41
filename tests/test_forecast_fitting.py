"""The numpy optimisers against scipy's on the forecast's own curves (scipy: tests only)."""

import glob
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import curve_fit, least_squares, minimize_scalar

from runwatch.forecast.curves import FAMILIES
from runwatch.forecast.fitting import curve_fit_box, least_squares_box, minimize_bounded
from runwatch.forecast.lr_law import fit_indices

CURVES = sorted(glob.glob("tests/data/curves/*.csv"))


def scipy_family_fit(fam, x, y, w, p0):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return curve_fit(fam.func, x, y, p0=p0, sigma=1 / w, bounds=(fam.lower, fam.upper),
                         max_nfev=400)[0]


def half_cost(fam, params, x, y, w):
    with np.errstate(all="ignore"):
        return 0.5 * float(np.sum(((fam.func(x, *params) - y) * w) ** 2))


def test_every_family_on_real_curves_reaches_scipys_minimum():
    costs, gaps = [], []
    for path in CURVES[::2]:
        df = pd.read_csv(path)
        for n in (len(df) // 4, len(df) // 2):
            idx = fit_indices(n)
            x, y = df["epoch"].to_numpy(float)[idx], df["test_acc1"].to_numpy(float)[idx]
            w = np.linspace(0.3, 1.0, len(idx))
            for fam in FAMILIES.values():
                lo, hi = np.array(fam.lower, float), np.array(fam.upper, float)
                p0 = np.clip(np.asarray(fam.start(x, y), float), lo + 1e-9, hi - 1e-9)
                ours = curve_fit_box(fam.func, x, y, p0, lo, hi, sigma=1 / w)
                theirs = scipy_family_fit(fam, x, y, w, p0)
                assert ours.converged and np.all((ours.x >= lo) & (ours.x <= hi))
                costs.append(ours.cost / max(half_cost(fam, theirs, x, y, w), 1e-12))
                future = np.arange(n + 1, len(df) + 1, dtype=float)
                gaps.append(np.max(np.abs(np.clip(fam.func(future, *ours.x), 0, 100)
                                          - np.clip(fam.func(future, *theirs), 0, 100))))
    costs = np.array(costs)
    # A local search from the same start: the same minimum almost always (a few curves have
    # two basins), never a cost far below scipy's by accident of a wrong formula.
    assert len(costs) >= 60 and np.mean(costs <= 1.001) >= 0.95 and costs.min() > 0.98
    assert np.median(gaps) < 0.01


def test_known_parameters_are_recovered_and_a_bound_holds_an_optimum_outside_the_box():
    x = np.arange(1.0, 60.0)
    fam = FAMILIES["weibull"]
    y = fam.func(x, 80.0, 10.0, 0.05, 1.3)
    fit = curve_fit_box(fam.func, x, y, np.array([70.0, 20.0, 0.1, 1.0]),
                        np.array(fam.lower, float), np.array(fam.upper, float))
    assert fit.converged and fit.x == pytest.approx([80.0, 10.0, 0.05, 1.3], rel=1e-5)
    # The best line through these points has slope 2; the box allows at most 1.
    xs, ys = np.arange(10.0), 2 * np.arange(10.0) + 1

    def residuals(theta):
        return theta[:, :1] * xs[None, :] + theta[:, 1:] - ys[None, :]

    ours = least_squares_box(residuals, np.array([0.5, 0.0]), np.array([0.0, -5.0]),
                             np.array([1.0, 50.0]))
    theirs = least_squares(lambda t: t[0] * xs + t[1] - ys, [0.5, 0.0],
                           bounds=([0.0, -5.0], [1.0, 50.0]))
    assert ours.x == pytest.approx(theirs.x, abs=1e-6) and ours.x[0] == 1.0


def test_a_fit_that_cannot_start_or_finish_says_it_did_not_converge():
    x = np.arange(1.0, 20.0)
    nan_start = least_squares_box(lambda t: np.full((len(t), 3), np.nan), np.ones(2),
                                  np.zeros(2), np.full(2, 5.0))
    assert not nan_start.converged
    fam = FAMILIES["mmf"]
    short = curve_fit_box(fam.func, x, 70 - 50 / (1 + (0.1 * x) ** 1.5),
                          np.array([99.0, 1.0, 5.0, 4.0]), np.array(fam.lower, float),
                          np.array(fam.upper, float), max_nfev=3)
    assert not short.converged


@pytest.mark.parametrize("f, lo, hi", [
    (lambda a: (a - 0.37) ** 2, 0.1, 1.0),
    (lambda a: math.cos(3 * a) + 0.1 * a, 0.5, 2.5),
    (lambda a: abs(a - 0.8) ** 0.5, 0.0, 1.0),
    (lambda a: -a, 0.2, 0.4),  # the minimum is at the upper end
])
def test_bounded_minimiser_matches_scipys(f, lo, hi):
    x, fx = minimize_bounded(f, lo, hi, xatol=1e-5)
    theirs = minimize_scalar(f, bounds=(lo, hi), method="bounded", options={"xatol": 1e-5})
    assert x == pytest.approx(theirs.x, abs=2e-5) and fx == pytest.approx(theirs.fun, abs=1e-6)
