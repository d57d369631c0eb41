"""Events behind (from the history) and ahead (from the plan and the forecast).

Behind: `regression` (a drop beyond the run's own noise), `plateau` (no gain beyond noise over
the recent window), `nonfinite` (NaN/inf metrics), `divergence` (test loss or accuracy running
away from its best without an LR jump to explain it), `train_test_gap` (a widening gap),
`early_stop_patience` (epochs since the best and patience left).
Ahead: `lr_restart` (the LR returns to at least half the plan's peak), `lr_jump` (any other rise
by 2x or more), `lr_drop` (a step decay by 2x or more, or any such decay from at least 10% of
the peak), each with the forecast's effect on accuracy.
Jumps are found with trainer.schedule.find_jumps, the one definition of an LR jump.
"""

from __future__ import annotations

import math

import numpy as np

from runwatch.forecast.inputs import History
from runwatch.forecast.lr_law import noise_sd
from runwatch.forecast.result import Event
from runwatch.schedule import find_jumps

NOISE_FLOOR = 0.1  # accuracy points: below this a curve's noise estimate is not trusted
REGRESSION_SIGMAS = 3.0  # on the epoch-to-epoch change, whose sd is sqrt(2) x the noise
LOCAL_NOISE_WINDOW = 20
LOCAL_NOISE_MIN = 5


def _window(n: int) -> int:
    return int(np.clip(n // 5, 5, 20))


def regressions(h: History, noise: float) -> list[Event]:
    """Epoch-to-epoch drops larger than max(3 sqrt(2) noise, 1 point), with the LR change.

    The noise is the local one (the 20 epochs before the drop, at least `noise`): a high-LR
    phase is noisier than the annealed end of a run. Both epochs carry that noise, so their
    difference has sd sqrt(2) x noise; a 3-sigma drop of it is a 1-in-700 event in pure noise,
    not one alarm every few dozen epochs. Drops need 5 epochs before them to judge.
    """
    out = []
    for i in range(LOCAL_NOISE_MIN, len(h.acc)):
        local = max(noise_sd(h.acc[max(0, i - LOCAL_NOISE_WINDOW):i]), noise)
        drop = h.acc[i - 1] - h.acc[i]
        if drop <= max(REGRESSION_SIGMAS * math.sqrt(2) * local, 1.0):
            continue
        epoch = int(h.epochs[i])
        before = float(h.acc[i - 1])
        later = np.nonzero(h.acc[i:] >= before)[0]
        out.append(Event("regression", epoch, {
            "acc_before": before, "acc_after": float(h.acc[i]), "drop": float(drop),
            "noise": float(local), "lr_before": float(h.lrs[int(h.epochs[i - 1]) - 1]),
            "lr_after": float(h.lrs[epoch - 1]),
            "recovered_epoch": int(h.epochs[i + later[0]]) if len(later) else None,
        }))
    return out


def plateau(h: History, noise: float) -> list[Event]:
    """The recent window (no LR jump in it) gained no more than 2 noise (linear trend)."""
    w = _window(len(h.acc))
    if len(h.acc) < w + 1:
        return []
    lrs = h.lrs[int(h.epochs[-w]) - 1:h.last_epoch]
    if np.any(lrs[1:] >= 2 * lrs[:-1]):
        return []  # an LR jump in the window: its drop is a regression, not a plateau
    x, y = h.epochs[-w:].astype(float), h.acc[-w:]
    gain = float(np.polyfit(x, y, 1)[0] * (x[-1] - x[0]))
    if gain > 2 * max(noise, NOISE_FLOOR):
        return []
    return [Event("plateau", int(h.epochs[-w]), {
        "epochs": w, "gain": gain, "noise": float(noise),
        "lr": float(h.lrs[h.last_epoch - 1]),
    })]


def nonfinite(h: History) -> list[Event]:
    return [Event("nonfinite", epoch, {"metric": column, "value": str(value)})
            for epoch, column, value in h.nonfinite]


def divergence(h: History) -> list[Event]:
    """Test loss over twice its best and rising 3 epochs running, or accuracy below half its
    best for 3 epochs, with no LR rise in that time to explain it."""
    if len(h.acc) < 5:
        return []
    recent_lrs = h.lrs[int(h.epochs[-4]) - 1:h.last_epoch]
    if np.any(recent_lrs[1:] > 1.5 * recent_lrs[:-1]):
        return []
    if h.loss is not None:
        loss = h.loss
        rising = bool(np.all(np.diff(loss[-4:]) > 0))
        if rising and loss[-1] > 2 * loss.min():
            return [Event("divergence", int(h.epochs[-3]), {
                "metric": "test_loss", "value": float(loss[-1]), "best": float(loss.min())})]
    if np.all(h.acc[-3:] < 0.5 * h.acc.max()):
        return [Event("divergence", int(h.epochs[-3]), {
            "metric": "test_acc1", "value": float(h.acc[-1]), "best": float(h.acc.max())})]
    return []


def train_test_gap(h: History) -> list[Event]:
    """Train-minus-test accuracy (or test-minus-train loss) grew over the recent window by
    more than its own noise and by at least 2 points (0.05 in loss)."""
    if h.train_acc is not None:
        gap, measure, least = h.train_acc - h.acc, "acc1", 2.0
    elif h.train_loss is not None and h.loss is not None:
        gap, measure, least = h.loss - h.train_loss, "loss", 0.05
    else:
        return []
    w = _window(len(gap))
    if len(gap) < 2 * w:
        return []
    before, now = float(np.mean(gap[-2 * w:-w])), float(np.mean(gap[-w:]))
    spread = float(np.std(np.diff(gap[-2 * w:])))
    if now - before < max(least, 2 * spread):
        return []
    return [Event("train_test_gap", int(h.epochs[-w]), {
        "measure": measure, "gap_before": before, "gap_now": now, "epochs": w})]


def patience_left(h: History, patience: int, future_epochs: np.ndarray,
                  pred: np.ndarray) -> list[Event]:
    """Epochs since the best, patience left, and when the forecast says a new best comes
    (or the stop, when none comes first)."""
    best_i = int(np.argmax(h.acc))
    best_epoch, best = int(h.epochs[best_i]), float(h.acc[best_i])
    since = h.last_epoch - best_epoch
    stop_at = best_epoch + patience
    beat = np.nonzero(pred > best)[0]
    new_best = int(future_epochs[beat[0]]) if len(beat) else None
    predicted_stop = stop_at if new_best is None or new_best > stop_at else None
    return [Event("early_stop_patience", h.last_epoch, {
        "best_epoch": best_epoch, "best_acc1": best, "epochs_since_best": since,
        "patience": patience, "patience_left": patience - since,
        "predicted_new_best_epoch": new_best, "predicted_stop_epoch": predicted_stop,
    })]


def events_behind(h: History, noise: float, patience: int | None,
                  future_epochs: np.ndarray, pred: np.ndarray) -> list[Event]:
    out = regressions(h, noise) + plateau(h, noise) + nonfinite(h) + divergence(h)
    out += train_test_gap(h)
    if patience is not None:
        out += patience_left(h, patience, future_epochs, pred)
    return out


def _holds_beside(lrs: np.ndarray, epoch: int) -> bool:
    """Whether the LR holds after a drop at `epoch` (before it, at the plan's last epoch): a
    step decay does, the tail of an anneal moves on both sides."""
    if epoch < len(lrs):
        return abs(lrs[epoch] / lrs[epoch - 1] - 1) < 0.01
    return epoch >= 3 and abs(lrs[epoch - 3] / lrs[epoch - 2] - 1) < 0.01


def events_ahead(h: History, future_epochs: np.ndarray, pred: np.ndarray) -> list[Event]:
    """Every LR rise (restart or jump) and decay in the plan after the last epoch, with the
    forecast accuracy just before and at it."""
    if not h.lr_known or not len(future_epochs):
        return []
    last = h.last_epoch
    ratio_lrs = h.ratio_lrs()  # an LR of 0 is compared as a tiny one
    future_lrs = [float(v) for v in ratio_lrs[last:]]
    prev = float(ratio_lrs[last - 1])
    peak = float(h.lrs.max())
    rises = find_jumps(future_lrs, last + 1, prev_lr=prev)
    drops = find_jumps([1 / v for v in future_lrs], last + 1, prev_lr=1 / prev)

    def lr_of(epoch: int) -> float:
        return float(h.lrs[epoch - 1])

    def acc_at(epoch: int) -> float:
        return float(h.acc[-1]) if epoch == last else float(pred[epoch - last - 1])

    out = []
    for jump in rises:
        before, after = acc_at(jump.epoch - 1), acc_at(jump.epoch)
        i = jump.epoch - last - 1
        back = np.nonzero(pred[i:] >= before)[0]
        kind = "lr_restart" if jump.lr_after >= 0.5 * peak else "lr_jump"
        out.append(Event(kind, jump.epoch, {
            "lr_before": lr_of(jump.epoch - 1), "lr_after": lr_of(jump.epoch),
            "ratio": jump.ratio,
            "acc_before": before, "acc_after": after, "predicted_drop": before - after,
            "predicted_recovery_epoch": int(future_epochs[i + back[0]]) if len(back) else None,
        }))
    for jump in drops:
        if 1 / jump.lr_before < 0.1 * peak and not _holds_beside(ratio_lrs, jump.epoch):
            continue  # the tail of an anneal, not a step: halving a tiny LR changes little
        before, after = acc_at(jump.epoch - 1), acc_at(jump.epoch)
        out.append(Event("lr_drop", jump.epoch, {
            "lr_before": lr_of(jump.epoch - 1), "lr_after": lr_of(jump.epoch),
            "ratio": jump.lr_before / jump.lr_after, "acc_before": before,
            "acc_after": after, "predicted_gain": after - before,
        }))
    return sorted(out, key=lambda e: e.epoch)
