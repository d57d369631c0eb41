"""A schedule-aware learning-curve law: progress as a function of LR area and current LR.

After Tissue et al. (2024), "Scaling Law with Learning Rate Annealing", and Luo et al. (2025),
"A Multi-Power Law for Loss Curve Prediction Across Learning Rate Schedules". Their law is
`L = L0 + A * S1**(-alpha) - C * S2`, with S1 the summed LR (forward area) and S2 the annealing
area, a momentum-weighted sum of LR decreases. Summed over time, S2 equals
`(eta_0 - eta_lagged(t)) / (1 - lambda)`: the annealing term is a lagged current-LR term. We use
that form, per epoch, with LRs normalised by the plan's peak:

    g(t) = g_inf - a * S1(t)**(-alpha) - b * eta_eff(t)

where g is logit(accuracy), S1(t) the summed normalised LR of epochs 1..t, and eta_eff the
normalised LR as the weights feel it, raised to a power p <= 1 (the benefit of annealing grows
fastest as the LR approaches zero). An LR rise takes effect at once (noise comes back
immediately: a restart costs its drop within one epoch); a decrease pays off gradually, at a
rate that slows as the LR gets smaller, as in Luo et al.'s saturation in `eta**(-gamma) * area`
(gamma = 1/2):

    eta_eff(t) = eta_eff(t-1) + (eta(t) - eta_eff(t-1)) * (1 - exp(-kappa * sqrt(eta(t))))

Raising the LR gives the annealing area back, which is what predicts a restart's drop. The
forecast fits a few (p, kappa) variants (VARIANTS) and weighs them by their holdout errors and
their reliability on other runs (forecast.combine, forecast.reliability).

The law is fitted to accuracy, not to the test loss: a loss fit mapped back to accuracy through
the run's own (loss, accuracy) pairs added nothing on the backtest's curves (final-accuracy MAE
2.99 with it, 2.97 without, from 50% of the run) and put the seed run's restart about half a
point higher (less of a drop) than the accuracy fit does.

A single run leaves b poorly determined while the LR has not moved yet, so b has a Gaussian
prior (in logit units per peak LR). Its mean scales with the run's LR jitter: the
epoch-to-epoch noise of logit(accuracy) per square root of the (normalised) LR it ran at.
Annealing pays off by removing the iterate noise the LR sustains, and that noise is what the
jitter measures: a run that jitters by 0.2 logit at its peak LR (CIFAR-10 at LR 0.1) gains
about 1.4 logit from annealing, one that jitters by 0.02 (distilled ImageNet ViTs) about 0.6.
The law `mean = scale * jitter**exponent` is measured on finished curves by
`python -m forecast.backtest` (which scores every curve with a law learned on the other curves
only). Pure: numpy only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from runwatch.forecast.fitting import minimize_bounded

# (p, kappa): linear and immediate, and concave ones that pay off more slowly at small LRs.
VARIANTS = ((1.0, math.inf), (0.7, 1.0), (0.5, 1.0), (0.5, 3.0))
JITTER_WINDOW = 40  # recent epochs the jitter is measured on


@dataclass(frozen=True)
class BPrior:
    """Prior of b (logit units per peak LR): mean `scale * jitter**exponent`, sd `sd`.

    `fallback` is the mean when the jitter cannot be measured (too few epochs, no LR).
    """

    scale: float
    exponent: float
    sd: float = 0.4
    fallback: float = 1.0

    def mean(self, jitter: float) -> float:
        if not math.isfinite(jitter) or jitter <= 0:
            return self.fallback
        return float(np.clip(self.scale * jitter**self.exponent, 0.2, 3.0))


# Measured by `python -m forecast.backtest` on tests/data/curves and the seed run.
B_PRIOR = BPrior(scale=3.25, exponent=0.44)
FLAT_B_PRIOR = BPrior(scale=1.0, exponent=0.0, sd=math.inf)  # b from the data alone
ALPHA_GRID = np.geomspace(0.05, 3.0, 16)
MAX_FIT_POINTS = 120  # long histories are thinned (all recent epochs kept) to bound fit time
RECENT_KEPT = 40


def logit_acc(acc: np.ndarray) -> np.ndarray:
    """logit(acc / 100), with accuracy clipped away from 0 and 100."""
    p = np.clip(np.asarray(acc, float) / 100.0, 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def acc_from_logit(y: np.ndarray) -> np.ndarray:
    """100 / (1 + exp(-y)): the inverse of logit_acc."""
    return 100.0 / (1.0 + np.exp(-np.clip(np.asarray(y, float), -50, 50)))


def schedule_features(lrs: np.ndarray, power: float, kappa: float,
                      peak: float) -> tuple[np.ndarray, np.ndarray]:
    """(S1, eta_eff**power) per epoch for per-epoch LRs `lrs`, normalised by `peak`."""
    eta = np.asarray(lrs, float) / peak
    s1 = np.cumsum(eta)
    eff = np.empty_like(eta)
    prev = eta[0] if len(eta) else 0.0
    for i, value in enumerate(eta):
        if value >= prev:
            prev = value
        else:
            prev += (value - prev) * -math.expm1(-kappa * math.sqrt(max(value, 0.0)))
        eff[i] = prev
    return s1, eff**power


def lr_law(s1: np.ndarray, eta_eff: np.ndarray, g_inf: float, a: float, alpha: float,
           b: float) -> np.ndarray:
    """g = g_inf - a * S1**(-alpha) - b * eta_eff."""
    return g_inf - a * np.maximum(s1, 1e-6) ** (-alpha) - b * eta_eff


@dataclass(frozen=True)
class LawFit:
    """A fitted law: its variant (power, kappa), the LR it normalises by, its parameters."""

    power: float
    kappa: float
    peak: float
    g_inf: float
    a: float
    alpha: float
    b: float


def noise_sd(values: np.ndarray) -> float:
    """Epoch-to-epoch noise of a curve: robust sd of second differences / sqrt(6)."""
    v = np.asarray(values, float)[-40:]
    if len(v) < 4:
        return float("nan")
    d2 = np.diff(v, 2)
    return float(1.4826 * np.median(np.abs(d2 - np.median(d2))) / math.sqrt(6))


def lr_jitter(acc: np.ndarray, epochs: np.ndarray, lrs: np.ndarray, peak: float) -> float:
    """Noise of logit(accuracy) over the recent epochs / sqrt(their mean normalised LR).

    SGD's stationary spread grows like sqrt(LR), so this is a property of the run rather than
    of the moment; nan when it cannot be measured.
    """
    recent = np.asarray(epochs, int)[-JITTER_WINDOW:]
    sd = noise_sd(logit_acc(np.asarray(acc, float)[-JITTER_WINDOW:]))
    eta = float(np.mean(np.asarray(lrs, float)[recent - 1])) / peak if len(recent) else 0.0
    if not math.isfinite(sd) or sd <= 0 or not math.isfinite(eta) or eta <= 1e-3:
        return math.nan
    return sd / math.sqrt(eta)


def fit_indices(n: int) -> np.ndarray:
    """Epoch indices a law fit uses: skip the early transient, thin long histories."""
    start = min(max(1, round(0.1 * n)), max(n - 5, 0))
    idx = np.arange(start, n)
    if len(idx) > MAX_FIT_POINTS:
        early = idx[:-RECENT_KEPT]
        pick = np.linspace(0, len(early) - 1, MAX_FIT_POINTS - RECENT_KEPT).round().astype(int)
        idx = np.concatenate([early[np.unique(pick)], idx[-RECENT_KEPT:]])
    return idx


def nonnegative_lstsq(design: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
    """(cost, theta) of least squares with theta[1:] >= 0.

    The unconstrained solution when it is feasible; else the best feasible one over the
    choices of which constrained columns are held at zero (exact for a convex problem this
    small, and far cheaper than a general bounded solver). Normal equations: 3 unknowns.
    """
    gram, rhs = design.T @ design, design.T @ target
    best_cost, best = math.inf, np.zeros(design.shape[1])
    for free in ((0, 1, 2), (0, 1), (0, 2), (0,)):
        theta = np.zeros(design.shape[1])
        sub = np.ix_(free, free)
        try:
            theta[list(free)] = np.linalg.solve(gram[sub], rhs[list(free)])
        except np.linalg.LinAlgError:
            theta[list(free)] = np.linalg.lstsq(design[:, free], target, rcond=None)[0]
        if theta[1] < 0 or theta[2] < 0:
            continue
        cost = float(np.sum((design @ theta - target) ** 2))
        if len(free) == 3:
            return cost, theta  # the unconstrained optimum is feasible: it is the optimum
        if cost < best_cost:
            best_cost, best = cost, theta
    return best_cost, best


def fit_lr_law(epochs: np.ndarray, acc: np.ndarray, lrs: np.ndarray,
               variant: tuple[float, float], peak: float,
               b_prior: BPrior = B_PRIOR) -> LawFit | None:
    """Fit the law to the history: accuracy at `epochs`, LRs of epochs 1.. in `lrs`.

    Residuals are scaled by the curve's own noise, so the prior on b weighs as much as the
    data leaves it to; recent epochs weigh more. Returns None when the fit fails.
    """
    n = len(acc)
    if n < 4:
        return None
    s1, eff = schedule_features(lrs[:int(epochs[-1])], *variant, peak)
    s1, eff = s1[epochs - 1], eff[epochs - 1]
    g = logit_acc(acc)
    prior_mean, prior_sd = b_prior.mean(lr_jitter(acc, epochs, lrs, peak)), b_prior.sd
    idx = fit_indices(n)
    sd = noise_sd(g)
    sd = sd if math.isfinite(sd) and sd > 0 else 0.02
    sd = max(sd, 1e-3 * max(float(np.ptp(g[idx])), 1e-6))
    w = np.linspace(0.3, 1.0, len(idx)) / sd
    x1, x2, y = np.maximum(s1[idx], 1e-6), eff[idx], g[idx]
    log_x1 = np.log(x1)
    # Prior row: (b - mean) / sd, so the data decide b only as far as they can.
    prior_row = np.array([0.0, 0.0, 1.0 / prior_sd])
    target = np.append(y * w, prior_mean / prior_sd)

    def solve(alpha: float) -> tuple[float, np.ndarray]:
        """Best (g_inf, a, b) for this alpha (linear least squares, a and b >= 0), and cost."""
        design = np.vstack([np.column_stack([np.ones_like(y), -np.exp(-alpha * log_x1), -x2])
                            * w[:, None], prior_row])
        return nonnegative_lstsq(design, target)

    # The law is linear in g_inf, a, b: search alpha on a grid, then refine around the best.
    costs = [solve(alpha)[0] for alpha in ALPHA_GRID]
    i = int(np.argmin(costs))
    lo, hi = ALPHA_GRID[max(i - 1, 0)], ALPHA_GRID[min(i + 1, len(ALPHA_GRID) - 1)]
    best_alpha, best_cost = minimize_bounded(lambda a: solve(a)[0], lo, hi, xatol=1e-3)
    alpha = float(best_alpha) if best_cost <= costs[i] else float(ALPHA_GRID[i])
    g_inf, a, b = (float(v) for v in solve(alpha)[1])
    if not all(math.isfinite(v) for v in (g_inf, a, b)):
        return None
    return LawFit(*variant, peak, g_inf, a, alpha, b)


def predict_lr_law(fit: LawFit, lrs: np.ndarray) -> np.ndarray:
    """Accuracy at epochs 1..len(lrs) under the per-epoch LRs `lrs` (history + plan)."""
    s1, eff = schedule_features(lrs, fit.power, fit.kappa, fit.peak)
    return acc_from_logit(lr_law(s1, eff, fit.g_inf, fit.a, fit.alpha, fit.b))
