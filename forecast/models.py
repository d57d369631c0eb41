"""The forecast's model set over one history: baselines, Domhan families, LR-aware laws and
the prior (what other runs of the optimizer's family gained, forecast.prior).

Each entry is a `ModelSpec` whose `predict(n, epochs)` fits the model on the first n usable
epochs and returns its accuracy at `epochs`; forecast.combine scores them on held-out recent
epochs. The laws' full-history fits are also returned, so scenarios can re-run them under other
schedules without refitting.
"""

from __future__ import annotations

import numpy as np

from runwatch.forecast.combine import ModelSpec
from runwatch.forecast.curves import BASELINES, FAMILIES, fit_family, predict_family
from runwatch.forecast.inputs import History
from runwatch.forecast.lr_law import (
    B_PRIOR,
    VARIANTS,
    BPrior,
    LawFit,
    fit_indices,
    fit_lr_law,
    predict_lr_law,
)
from runwatch.forecast.prior import ANCHOR_EPOCHS, ANY, GAIN_PRIOR, predict_prior
from runwatch.forecast.reliability import HORIZON_EDGES

MIN_FAMILY_EPOCHS = 6
PRIOR = "prior"


def _baseline(h: History, name: str) -> ModelSpec:
    fn = BASELINES[name]

    def predict(n: int, epochs: np.ndarray) -> np.ndarray | None:
        if n < 2:
            return None
        return fn(h.epochs[:n].astype(float), h.acc[:n], epochs.astype(float))

    return ModelSpec(name, "baseline", False, predict)


def _family(h: History, name: str) -> ModelSpec:
    def predict(n: int, epochs: np.ndarray) -> np.ndarray | None:
        if n < MIN_FAMILY_EPOCHS:
            return None
        idx = fit_indices(n)
        x = h.epochs[idx].astype(float)
        params = fit_family(name, x, h.acc[idx], np.linspace(0.3, 1.0, len(idx)))
        return None if params is None else predict_family(name, params, epochs)

    return ModelSpec(name, "curve", False, predict)


def law_name(variant: tuple[float, float]) -> str:
    power, kappa = variant
    return f"lr_law_acc_p{power:g}_k{kappa:g}"


def fit_law(h: History, n: int, variant: tuple[float, float],
            b_prior: BPrior = B_PRIOR) -> LawFit | None:
    """The law fitted on the first n usable epochs (None when it cannot be fitted)."""
    return fit_lr_law(h.epochs[:n], h.acc[:n], h.lrs, variant, float(h.lrs.max()), b_prior)


def _law(h: History, variant: tuple[float, float], full: LawFit | None,
         b_prior: BPrior) -> ModelSpec:
    def predict(n: int, epochs: np.ndarray) -> np.ndarray | None:
        fit = full if n == len(h.acc) else fit_law(h, n, variant, b_prior)
        if fit is None:
            return None
        return predict_lr_law(fit, h.lrs[:int(epochs.max())])[epochs - 1]

    return ModelSpec(law_name(variant), "schedule", True, predict)


def _prior(h: History, gains: tuple[float, float]) -> ModelSpec:
    lrs = h.ratio_lrs()

    def predict(n: int, epochs: np.ndarray) -> np.ndarray | None:
        if n < ANCHOR_EPOCHS:
            return None
        return predict_prior(h.acc[:n], lrs, int(h.epochs[n - 1]), epochs, gains)

    # The prior is for the long run: in the first tenth of the history ahead (the first
    # reliability band) the run's own recent epochs say more than other runs do.
    return ModelSpec(PRIOR, "prior", True, predict, from_horizon=HORIZON_EDGES[0])


def model_names() -> list[str]:
    """Every model of the forecast, in the order build_models builds them (the LR laws and the
    prior only when the LR is known): the one list that the reliability table must cover."""
    return [*BASELINES, *FAMILIES, *(law_name(v) for v in VARIANTS), PRIOR]


def build_models(h: History, b_prior: BPrior = B_PRIOR,
                 prior_gains: tuple[float, float] = GAIN_PRIOR.of(ANY)
                 ) -> tuple[list[ModelSpec], dict[str, LawFit | None]]:
    """All models for this history, and the laws' full-history fits by model name."""
    models = [_baseline(h, name) for name in BASELINES]
    models += [_family(h, name) for name in FAMILIES]
    fits: dict[str, LawFit | None] = {}
    if h.lr_known:
        for variant in VARIANTS:
            name = law_name(variant)
            fits[name] = fit_law(h, len(h.acc), variant, b_prior)
            models.append(_law(h, variant, fits[name], b_prior))
        models.append(_prior(h, prior_gains))
    return models, fits
