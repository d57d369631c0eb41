"""Small numpy optimisers for the forecast's fits (no scipy at run time).

- `least_squares_box(fun, x0, lower, upper)`: nonlinear least squares with box bounds for a
  handful of parameters: Levenberg-Marquardt with Marquardt's diagonal scaling and Nielsen's
  damping update; a parameter at a bound that the gradient pushes outwards is held there for the
  step (a projected LM). `fun` is vectorised over parameter sets: it takes a (k, p) array and
  returns the (k, m) residuals, so the forward-difference Jacobian costs one call.
- `curve_fit_box(func, x, y, p0, lower, upper, sigma)`: `func(x, *params)` fitted to y with
  weights 1/sigma, as scipy.optimize.curve_fit with bounds does it.
- `minimize_bounded(f, lo, hi, xatol)`: Brent's bounded minimiser of a function of one
  variable (golden section with parabolic steps), as scipy's `minimize_scalar(method="bounded")`.

The tests compare every routine with scipy's on the forecast's own curves.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

EPS = float(np.finfo(float).eps)
TAU = 1e-3  # first damping, relative to the largest diagonal of J^T J (Nielsen's choice)


@dataclass(frozen=True)
class BoxFit:
    """The parameters found, their cost (half the sum of squared residuals), and whether a
    convergence test passed before the evaluation budget ran out."""

    x: np.ndarray
    cost: float
    converged: bool


def _cost(fun: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> tuple[np.ndarray, float]:
    r = np.asarray(fun(x[None, :]), float)[0]
    cost = 0.5 * float(r @ r)
    return r, cost if math.isfinite(cost) else math.inf


def _jacobian(fun: Callable[[np.ndarray], np.ndarray], x: np.ndarray, r: np.ndarray,
              upper: np.ndarray) -> np.ndarray:
    """Forward differences, all parameters in one call; a step that would leave the box at the
    upper bound is taken downwards instead (as scipy's '2-point' does)."""
    h = math.sqrt(EPS) * np.maximum(1.0, np.abs(x))
    h = np.where(x + h > upper, -h, h)
    points = x[None, :] + np.diag(h)
    return ((np.asarray(fun(points), float) - r[None, :]) / h[:, None]).T


def least_squares_box(fun: Callable[[np.ndarray], np.ndarray], x0: np.ndarray,
                      lower: np.ndarray, upper: np.ndarray, max_nfev: int = 400,
                      ftol: float = 1e-8, xtol: float = 1e-8, gtol: float = 1e-8) -> BoxFit:
    """Minimise 0.5 * sum(fun(x)**2) over lower <= x <= upper (see the module docstring).

    Stops when the cost falls by less than ftol of itself, the step is below xtol of x, or the
    projected gradient is below gtol (scipy's tests and defaults); not converged when
    `max_nfev` residual evaluations (Jacobians not counted, as in scipy) run out first.
    """
    lower, upper = np.asarray(lower, float), np.asarray(upper, float)
    x = np.clip(np.asarray(x0, float), lower, upper)
    r, cost = _cost(fun, x)
    if not math.isfinite(cost):
        return BoxFit(x, cost, False)
    nfev, lam, nu, scale = 1, -1.0, 2.0, np.zeros(len(x))
    while nfev < max_nfev:
        jac = _jacobian(fun, x, r, upper)
        if not np.all(np.isfinite(jac)):
            return BoxFit(x, cost, False)
        grad, hess = jac.T @ r, jac.T @ jac
        # Held at a bound that the descent direction points out of.
        held = ((x <= lower) & (grad > 0)) | ((x >= upper) & (grad < 0))
        if np.max(np.abs(np.where(held, 0.0, grad)), initial=0.0) <= gtol:
            return BoxFit(x, cost, True)
        scale = np.maximum(scale, np.diag(hess))  # Marquardt's scaling, never shrinking
        if lam < 0:
            lam = TAU * float(scale.max())
        free = ~held
        accepted = False
        while not accepted and nfev < max_nfev:
            step = np.zeros(len(x))
            sub = hess[np.ix_(free, free)] + lam * np.diag(np.maximum(scale[free], EPS))
            try:
                step[free] = np.linalg.solve(sub, -grad[free])
            except np.linalg.LinAlgError:
                lam, nu = lam * nu, nu * 2
                continue
            x_new = np.clip(x + step, lower, upper)
            taken = x_new - x
            predicted = -(grad @ taken + 0.5 * taken @ hess @ taken)
            r_new, cost_new = _cost(fun, x_new)
            nfev += 1
            if cost_new < cost and predicted > 0:
                rho = (cost - cost_new) / predicted
                lam *= max(1 / 3, 1 - (2 * rho - 1) ** 3)
                nu = 2.0
                small_f = cost - cost_new <= ftol * cost and rho > 0.25
                small_x = np.linalg.norm(taken) <= xtol * (xtol + np.linalg.norm(x))
                x, r, cost, accepted = x_new, r_new, cost_new, True
                if small_f or small_x:
                    return BoxFit(x, cost, True)
            else:
                if np.linalg.norm(taken) <= xtol * (xtol + np.linalg.norm(x)):
                    return BoxFit(x, cost, True)  # no step left that lowers the cost
                lam, nu = lam * nu, nu * 2
    return BoxFit(x, cost, False)


def curve_fit_box(func: Callable[..., np.ndarray], x: np.ndarray, y: np.ndarray,
                  p0: np.ndarray, lower: np.ndarray, upper: np.ndarray,
                  sigma: np.ndarray | None = None, max_nfev: int = 400) -> BoxFit:
    """Fit `func(x, *params)` (numpy-broadcasting in its parameters) to y, residuals / sigma."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    inv = 1.0 / np.asarray(sigma, float) if sigma is not None else np.ones_like(y)

    def residuals(params: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return (func(x[None, :], *(params[:, j:j + 1] for j in range(params.shape[1])))
                    - y[None, :]) * inv[None, :]

    return least_squares_box(residuals, p0, lower, upper, max_nfev=max_nfev)


def minimize_bounded(f: Callable[[float], float], lo: float, hi: float, xatol: float = 1e-5,
                     max_eval: int = 500) -> tuple[float, float]:
    """(x, f(x)) at a local minimum of f on [lo, hi], to within xatol: Brent's method."""
    golden_ratio = 0.5 * (3.0 - math.sqrt(5.0))
    sqrt_eps = math.sqrt(2.2e-16)
    a, b = lo, hi
    fulc = nfc = xf = a + golden_ratio * (b - a)
    rat = e = 0.0
    fx = f(xf)
    n_eval = 1
    ffulc = fnfc = fx
    xm = 0.5 * (a + b)
    tol1 = sqrt_eps * abs(xf) + xatol / 3.0
    tol2 = 2.0 * tol1
    while abs(xf - xm) > tol2 - 0.5 * (b - a) and n_eval < max_eval:
        golden = True
        if abs(e) > tol1:  # try a parabola through the three best points
            golden = False
            r = (xf - nfc) * (fx - ffulc)
            q = (xf - fulc) * (fx - fnfc)
            p = (xf - fulc) * q - (xf - nfc) * r
            q = 2.0 * (q - r)
            if q > 0.0:
                p = -p
            q = abs(q)
            r, e = e, rat
            if abs(p) < abs(0.5 * q * r) and q * (a - xf) < p < q * (b - xf):
                rat = p / q
                x = xf + rat
                if x - a < tol2 or b - x < tol2:
                    rat = tol1 * (1.0 if xm >= xf else -1.0)
            else:
                golden = True
        if golden:  # a golden-section step into the larger part
            e = a - xf if xf >= xm else b - xf
            rat = golden_ratio * e
        x = xf + (1.0 if rat >= 0 else -1.0) * max(abs(rat), tol1)
        fu = f(x)
        n_eval += 1
        if fu <= fx:
            if x >= xf:
                a = xf
            else:
                b = xf
            fulc, ffulc = nfc, fnfc
            nfc, fnfc = xf, fx
            xf, fx = x, fu
        else:
            if x < xf:
                a = x
            else:
                b = x
            if fu <= fnfc or nfc == xf:
                fulc, ffulc = nfc, fnfc
                nfc, fnfc = x, fu
            elif fu <= ffulc or fulc in (xf, nfc):
                fulc, ffulc = x, fu
        xm = 0.5 * (a + b)
        tol1 = sqrt_eps * abs(xf) + xatol / 3.0
        tol2 = 2.0 * tol1
    return xf, fx
