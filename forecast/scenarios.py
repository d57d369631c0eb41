"""What-if: the LR-aware laws re-run under candidate schedules from a checkpoint.

A candidate is (name, checkpoint epoch c, LRs of the epochs after c). The run's state at c is
what the laws need (summed LR and current LR up to c), so the laws fitted on the whole history
predict any candidate without refitting; their weights are the ones their holdout errors
earned, times their reliability at each epoch's horizon (forecast.reliability), as in the main
forecast. Pure: numpy only.
"""

from __future__ import annotations

import numpy as np

from runwatch.forecast.inputs import History
from runwatch.forecast.intervals import CAL80, band_scale
from runwatch.forecast.lr_law import LawFit, noise_sd, predict_lr_law
from runwatch.forecast.reliability import RELIABILITY, Reliability
from runwatch.forecast.result import Scenario

Candidate = tuple[str, int, tuple[float, ...]]


def acc_at_checkpoint(h: History, checkpoint_epoch: int) -> float:
    """Observed accuracy of the checkpoint epoch (the nearest earlier usable epoch)."""
    i = int(np.searchsorted(h.epochs, checkpoint_epoch, side="right")) - 1
    return float(h.acc[max(i, 0)])


def run_scenario(h: History, fits: dict[str, LawFit], weights: dict[str, float],
                 candidate: Candidate, reliability: Reliability = RELIABILITY) -> Scenario:
    """The weighted laws' curve for one candidate, with an 80% band on its final accuracy."""
    name, checkpoint, after = candidate
    lrs = np.concatenate([h.lrs[:checkpoint], np.asarray(after, float)])
    epochs = np.arange(checkpoint + 1, len(lrs) + 1)
    names = [m for m in fits if weights.get(m, 0) > 0] or list(fits)
    w = np.array([weights.get(m, 0.0) for m in names])
    w = w if w.sum() > 0 else np.ones(len(names))
    w = w[:, None] * reliability.multipliers(names, epochs, h.last_epoch)  # models x epochs
    w = w / w.sum(axis=0)
    curves = np.array([predict_lr_law(fits[m], lrs)[checkpoint:] for m in names])
    pred = np.sum(w * curves, axis=0)
    spread = np.sqrt(np.sum(w * (curves - pred) ** 2, axis=0))
    level = acc_at_checkpoint(h, checkpoint)
    noise = max(noise_sd(h.acc), 0.1) if len(h.acc) >= 4 else 1.0
    half = CAL80 * band_scale(pred[-1:], spread[-1:], noise, level)[0]
    best = int(np.argmax(pred))
    return Scenario(
        name=name, checkpoint_epoch=checkpoint, final_epoch=int(epochs[-1]),
        final_acc1=float(pred[-1]), lo80=float(max(pred[-1] - half, 0.0)),
        hi80=float(min(pred[-1] + half, 100.0)), best_acc1=float(pred[best]),
        best_epoch=int(epochs[best]),
        curve=tuple((int(e), float(lr), float(a))
                    for e, lr, a in zip(epochs, lrs[checkpoint:], pred, strict=True)),
    )


def run_scenarios(h: History, fits: dict[str, LawFit | None], weights: dict[str, float],
                  candidates: list[Candidate], reliability: Reliability = RELIABILITY
                  ) -> tuple[list[Scenario], list[str]]:
    """Every candidate that can be evaluated, and notes on the ones that cannot."""
    usable = {m: f for m, f in fits.items() if f is not None}
    if not candidates:
        return [], []
    if not usable:
        return [], ["scenarios need the LR-aware laws, which could not be fitted "
                    "(no LR known or too few epochs)"]
    out, notes = [], []
    for candidate in candidates:
        name, checkpoint, after = candidate
        if not 1 <= checkpoint <= h.last_epoch or not after:
            notes.append(f"scenario {name!r} skipped: checkpoint epoch {checkpoint} is not a "
                         f"done epoch (1..{h.last_epoch}) or it has no epochs after it")
            continue
        out.append(run_scenario(h, usable, weights, candidate, reliability))
    return out, notes
