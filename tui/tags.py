"""The one-word verdict on each epoch row of the table (no textual here).

Order of precedence: an LR restart explains everything after it, so it wins (an LR rise
inside the warmup is a warmup, not a restart: `warmup_end`); then the run's
best epoch (PEAK, exactly one row); then a regression as the forecast judges it (a drop beyond
the run's own noise: forecast.events, the one detector, which also raises the alert); then a
fall of more than REGRESSION_PTS that the forecast does not call a regression (a dip, within
the noise); then the size of the gain over the epoch before.
"""

from __future__ import annotations

import math
from collections.abc import Collection

from runwatch.tui.run_model import EpochPoint, RunModel

FAST_PTS = 2.0
MODERATE_PTS = 0.5
SLOW_PTS = 0.1
REGRESSION_PTS = 1.0
RESTART_RATIO = 2.0  # same threshold as trainer.schedule.find_jumps
WARMUP_DELAY = 2  # first epochs at the starting LR before a warmup's rise

TAGS = ("fast growth", "moderate", "slow", "plateau", "PEAK", "LR RESTART", "warmup",
        "regression", "dip", "non-finite")


def gain(point: EpochPoint, previous: EpochPoint | None) -> float:
    """Test accuracy change over the epoch before, in points (NaN when unknown)."""
    if previous is None:
        return math.nan
    return point.test_acc1 - previous.test_acc1


def lr_jumped(lr_before: float, lr_after: float) -> bool:
    """The LR rose by RESTART_RATIO or more from one epoch to the next (False when unknown)."""
    return lr_before > 0 and math.isfinite(lr_after) and lr_after / lr_before >= RESTART_RATIO


def is_lr_restart(point: EpochPoint, previous: EpochPoint | None) -> bool:
    return previous is not None and lr_jumped(previous.lr, point.lr)


def warmup_end(model: RunModel) -> int:
    """The last epoch of the run's warmup (0: none). The schedule says it when the stream has
    one; else the LRs do (the plan's, or those logged): a warmup is the rise from the start,
    each epoch's LR above the one before, until the first that is not. Up to WARMUP_DELAY
    first epochs may keep the starting LR (timm's logs repeat it once)."""
    warmup = (model.schedule or {}).get("warmup_epochs")
    if isinstance(warmup, int) and not isinstance(warmup, bool) and warmup >= 0:
        return warmup
    if model.plan:
        lrs, first = model.plan, 1
    else:
        points = model.epochs()
        lrs, first = [p.lr for p in points], points[0].epoch if points else 1
    i = 1
    while i < len(lrs) and i <= WARMUP_DELAY and lrs[i] == lrs[0]:
        i += 1
    end = 0
    while i < len(lrs) and lrs[i] > lrs[i - 1]:  # NaN-safe: an unknown LR ends the rise
        end = first + i
        i += 1
    return end


def epoch_tag(point: EpochPoint, previous: EpochPoint | None, best_epoch: int | None,
              regressions: Collection[int] = (), warmup: int = 0) -> str:
    """`regressions`: the epochs the forecast's events call a regression; `warmup`: the last
    epoch of the warmup (`warmup_end`)."""
    if point.nonfinite():
        return "non-finite"
    if is_lr_restart(point, previous):
        return "warmup" if point.epoch <= warmup else "LR RESTART"
    if best_epoch == point.epoch:
        return "PEAK"
    if point.epoch in regressions:
        return "regression"
    g = gain(point, previous)
    if math.isnan(g):
        return ""
    if g <= -REGRESSION_PTS:
        return "dip"
    if g >= FAST_PTS:
        return "fast growth"
    if g >= MODERATE_PTS:
        return "moderate"
    if g >= SLOW_PTS:
        return "slow"
    return "plateau"
