"""The prior: what other finished runs of the same optimizer family gained as their plans went on.

Early in a run the curve says little about what annealing will bring; other runs do. From the
run's current level (the mean logit accuracy of its last 3 epochs), the prior expects

    g(t) = g_now + G * decades(t) + H * ln(S1(t) / S1_now)

in logit(accuracy): G is the gain per decade of LR annealed (decades(t) = log10 of the current
LR over the LR at t, both floored at 1e-3 of the peak; negative when the LR rises: a restart
costs), H the gain per e-fold of the summed LR (training time at the LR the plan gives). G and
H are learned per optimizer family (`optimizer_family`: plain SGD with or without momentum, or
adaptive: Adam, AdamW, Adan, LAMB, ...) by the backtest (forecast.learning, each curve with
values learned on the other curves), with pooled values for an unknown optimizer.

It is one of the forecast's models ("prior", forecast.models), weighed like the others by its
holdout error and its reliability on other runs; its share of the forecast of the final epoch
is how much that forecast leans on the prior (ForecastResult.prior_share). Pure: numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from runwatch.forecast.lr_law import acc_from_logit, logit_acc

FAMILIES = {
    "sgd": ("sgd", "momentum", "nesterov"),
    "adaptive": ("adam", "adan", "lamb", "lars", "lion", "rmsprop", "adagrad", "adadelta",
                 "adafactor", "radam", "nadam", "sophia", "shampoo"),
}
ANY = "any"  # the pooled values, for an optimizer of unknown family
ANCHOR_EPOCHS = 3


def optimizer_family(name: str | None) -> str:
    """'sgd', 'adaptive', or ANY for an unknown or missing optimizer name."""
    text = (name or "").lower()
    for family, words in FAMILIES.items():
        if any(word in text for word in words):
            return family
    return ANY


@dataclass(frozen=True)
class GainPrior:
    """Per family: (G, H) of the module docstring; ANY is the pooled pair."""

    gains: tuple[tuple[str, tuple[float, float]], ...]

    def of(self, family: str) -> tuple[float, float]:
        table = dict(self.gains)
        return table.get(family, table[ANY])


# Learned by `python -m forecast.backtest` on tests/data/curves and the seed run.
GAIN_PRIOR = GainPrior((("adaptive", (0.128, 0.176)), (ANY, (0.274, 0.343)),
                        ("sgd", (0.307, 0.644))))


def prior_features(lrs: np.ndarray, last_epoch: int, epochs: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(decades annealed, ln of the summed-LR ratio) from `last_epoch` to each of `epochs`.

    `lrs`: the LRs of epochs 1.. floored above 0 (History.ratio_lrs)."""
    epochs = np.asarray(epochs, int)
    now = float(np.mean(lrs[max(last_epoch - ANCHOR_EPOCHS, 0):last_epoch]))
    area = np.cumsum(lrs / lrs.max())
    return np.log10(now / lrs[epochs - 1]), np.log(area[epochs - 1] / area[last_epoch - 1])


def predict_prior(acc: np.ndarray, lrs: np.ndarray, last_epoch: int, epochs: np.ndarray,
                  gains: tuple[float, float]) -> np.ndarray:
    """The prior's accuracy at `epochs` from the accuracies up to `last_epoch` (`acc`)."""
    decades, area = prior_features(lrs, last_epoch, epochs)
    level = float(np.mean(logit_acc(np.asarray(acc, float)[-ANCHOR_EPOCHS:])))
    return acc_from_logit(level + gains[0] * decades + gains[1] * area)
