"""Parse a run's epochs and its planned schedule into arrays the fits can trust.

Parsed at the edge: `history_from_records(records)` turns stream records (the live branch;
every log format reads as them, runwatch.stream.sources) into an `EpochLog` of numpy arrays;
`prepare_history(log, plan)` validates it into a `History`. With no plan given, the rest of
the plan is guessed from the logged LRs (forecast.plan_guess: warm restarts or a cosine decay,
with a note that says it is assumed), or the last LR is held.

Bad input is repaired where a sensible answer exists (and the repair is written to `notes`):
accuracy given as a fraction, duplicate or unsorted epochs, non-finite values (kept aside for
the events, left out of the fits), a plan that is missing (continued along the cosine the
logged LRs follow, else the last LR held) or shorter than the run. Input with no
usable epoch at all is a RunwatchError naming the problem and the fix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from runwatch.errors import RunwatchError
from runwatch.forecast.plan_guess import guess_plan
from runwatch.stream import split_branches

OPTIONAL_COLUMNS = ("test_loss", "train_acc1", "train_loss", "lr", "time", "epoch_time_s")
HISTORY_COLUMNS = ("epoch", "test_acc1", *OPTIONAL_COLUMNS)
# LRs are compared by ratio (jumps, drops, how far a plan leaves what the run has seen); below
# this share of the peak an LR counts as this share: a plan that anneals to 0 (one-cycle, HF's
# linear decay, a log printed with 6 decimals) is annealed, not infinitely far away.
LR_FLOOR = 1e-3


@dataclass(frozen=True)
class History:
    """The usable epochs (finite test accuracy), as arrays, plus the whole-run facts."""

    epochs: np.ndarray  # int, increasing
    acc: np.ndarray
    loss: np.ndarray | None  # None when absent or not finite everywhere
    train_acc: np.ndarray | None
    train_loss: np.ndarray | None
    lrs: np.ndarray  # LR of epochs 1..total_epochs (the run's own for done epochs, then plan)
    lr_known: bool
    total_epochs: int
    epoch_time_s: float | None
    now: float | None
    nonfinite: tuple[tuple[int, str, float], ...]  # (epoch, column, value)
    notes: tuple[str, ...]

    @property
    def last_epoch(self) -> int:
        return int(self.epochs[-1])

    def ratio_lrs(self) -> np.ndarray:
        """The LRs floored at LR_FLOOR of the peak, for comparing them by ratio."""
        return np.maximum(self.lrs, LR_FLOOR * float(self.lrs.max()))


@dataclass(frozen=True)
class EpochLog:
    """A run's per-epoch values as logged: one entry per record, in any order, NaN where a
    record lacks the value; None for a column no record carries (the forecast knows what it
    lacks). `percent`: the accuracies are known to be percent (the stream's schema), so small
    ones are never read as fractions. `prepare_history` turns it into a History."""

    epoch: np.ndarray
    test_acc1: np.ndarray
    test_loss: np.ndarray | None = None
    train_acc1: np.ndarray | None = None
    train_loss: np.ndarray | None = None
    lr: np.ndarray | None = None
    time: np.ndarray | None = None
    epoch_time_s: np.ndarray | None = None
    percent: bool = False

    def __post_init__(self) -> None:
        """Every column as a float array as long as `epoch` (a single value is repeated)."""
        n = len(np.asarray(self.epoch, float).reshape(-1))
        for name in HISTORY_COLUMNS:
            value = getattr(self, name)
            if value is not None:
                value = np.asarray(value, float)
                if value.ndim == 0:
                    value = np.full(n, float(value))
                if value.shape != (n,):
                    raise ValueError(f"EpochLog.{name} has shape {value.shape}, not ({n},)")
                object.__setattr__(self, name, value)

    def __len__(self) -> int:
        return len(self.epoch)

    def column(self, name: str) -> np.ndarray | None:
        """The column, or None when absent or NaN everywhere."""
        values = getattr(self, name)
        return None if values is None or np.all(np.isnan(values)) else values

    def rows(self, index: np.ndarray) -> EpochLog:
        """The records at `index` (integer positions or a boolean mask), in that order."""
        return replace(self, **{name: getattr(self, name)[index] for name in HISTORY_COLUMNS
                                if getattr(self, name) is not None})

    def head(self, n: int) -> EpochLog:
        return self.rows(np.arange(min(n, len(self))))

    def upto(self, epoch: int) -> EpochLog:
        """The records of epochs 1..epoch."""
        return self.rows(self.epoch <= epoch)


def history_from_records(records: list[dict]) -> EpochLog:
    """The epoch records of the live branch (abandoned branches left out) as an EpochLog.

    A value that is missing or not a number is NaN; a column no record carries is None. The
    stream's accuracies are percent (every source converts to it): an ImageNet run's first
    epochs at 0.1-0.9% must not be taken for fractions.
    """
    live = split_branches(records).live

    def number(value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            return math.nan
        try:
            return float(value)
        except ValueError:
            return math.nan

    columns = {name: np.array([number(r.get(name)) for r in live], float)
               if name in ("epoch", "test_acc1") or any(name in r for r in live) else None
               for name in HISTORY_COLUMNS}
    return EpochLog(**columns, percent=True)


def _nonfinite(log: EpochLog) -> list[tuple[int, str, float]]:
    out = []
    for name in ("test_acc1", "test_loss", "train_loss"):
        values = log.column(name)
        if values is not None:
            out += [(int(e), name, float(v)) for e, v in zip(log.epoch, values, strict=True)
                    if not math.isfinite(v)]
    return out


def _epoch_time(log: EpochLog) -> float | None:
    per_epoch = log.column("epoch_time_s")
    if per_epoch is not None and np.isfinite(per_epoch).any():
        return float(np.nanmean(per_epoch))
    stamps = log.column("time")
    if stamps is not None and np.isfinite(stamps).sum() >= 2:
        good = log.epoch[np.isfinite(stamps)]
        t = stamps[np.isfinite(stamps)]
        if good[-1] > good[0] and t[-1] > t[0]:
            return float((t[-1] - t[0]) / (good[-1] - good[0]))
    return None


def _fill_gaps(values: np.ndarray) -> np.ndarray:
    """NaNs replaced by the previous known value (before the first: the first known one)."""
    known = np.flatnonzero(np.isfinite(values))
    at = np.searchsorted(known, np.arange(len(values)), side="right") - 1
    return values[known[np.maximum(at, 0)]]


def _plan_lrs(log: EpochLog, plan: list[float] | None, last: int,
              total_epochs: int | None, notes: list[str]) -> tuple[np.ndarray, bool]:
    """LR of each epoch 1..E: the run's own LR where logged, the plan elsewhere."""
    own = log.column("lr")
    epochs = log.epoch.astype(int)
    planned = None if plan is None else np.asarray(plan, float)
    if planned is not None and (len(planned) == 0 or not np.all(np.isfinite(planned))
                                or np.any(planned < 0) or not np.any(planned > 0)):
        # 0 is a legitimate LR (a decay that ends at 0); a plan that is all 0 says nothing.
        notes.append("the planned LRs were empty, negative, not numbers or all 0: ignored them")
        planned = None
    if planned is None and own is not None:
        guess = guess_plan(epochs, own, total_epochs)
        if guess is not None:
            planned = guess.lrs
            notes.append(guess.note)
    if planned is None:
        total = total_epochs or last + max(10, math.ceil(0.25 * last))
        notes.append(f"no LR plan given: assumed the last LR holds up to epoch {total}; "
                     "pass the plan (--plan) for schedule-aware forecasts")
    else:
        total = max(len(planned), last)
        if len(planned) < last:
            notes.append(f"the plan ends at epoch {len(planned)}, before the run's last epoch "
                         f"{last}: it was extended with its last LR")
    lrs = np.full(total, np.nan)
    if planned is not None:
        lrs[:min(len(planned), total)] = planned[:total]
    if own is not None:
        for epoch, lr in zip(epochs, own, strict=True):
            if 1 <= epoch <= total and math.isfinite(lr) and lr >= 0:
                lrs[epoch - 1] = lr
    known = np.isfinite(lrs)
    if not known.any() or not np.any(lrs[known] > 0):
        notes.append("no learning rate known (no lr column, no plan): schedule-aware models "
                     "are off and the forecast assumes nothing changes")
        return np.ones(total), False
    # Fill unknown epochs from their neighbours: before the first known LR, after the last.
    return _fill_gaps(lrs), True


def _one_per_epoch(log: EpochLog, notes: list[str]) -> EpochLog:
    """Records with an epoch number of at least 1, the last one of each epoch, in order."""
    log = log.rows(np.isfinite(log.epoch) & (log.epoch >= 1))
    log = replace(log, epoch=np.floor(log.epoch))
    epochs, last_of_each = np.unique(log.epoch[::-1], return_index=True)
    if len(epochs) < len(log):
        notes.append("duplicate epochs in the history: kept the last record of each")
    return log.rows(len(log) - 1 - last_of_each)  # np.unique sorts by epoch


def prepare_history(log: EpochLog, plan: list[float] | None,
                    total_epochs: int | None = None) -> History:
    """Validate and normalise a run's epochs; RunwatchError when nothing is usable."""
    notes: list[str] = []
    log = _one_per_epoch(log, notes)
    acc_all = log.column("test_acc1")
    if acc_all is None or not np.isfinite(acc_all).any():
        raise RunwatchError("no epoch has a finite test_acc1: nothing to forecast from; "
                            "check the metric column (--metric NAME)")
    if not log.percent and np.nanmax(np.abs(acc_all[np.isfinite(acc_all)])) <= 1.0:
        notes.append("test_acc1 looks like a fraction (all values <= 1): read it as percent x100")
        log = replace(log, test_acc1=acc_all * 100.0)
    nonfinite = _nonfinite(log)
    if nonfinite:
        epochs = sorted({e for e, _, _ in nonfinite})
        notes.append(f"non-finite values at epoch(s) {', '.join(map(str, epochs[:5]))}: "
                     "left out of the fits")
    good = log.rows(np.isfinite(log.test_acc1))
    last = int(good.epoch[-1])
    lrs, lr_known = _plan_lrs(good, plan, last, total_epochs, notes)

    def finite_or_none(name: str) -> np.ndarray | None:
        values = good.column(name)
        return values if values is not None and np.all(np.isfinite(values)) else None

    stamps = good.column("time")
    return History(
        epochs=good.epoch.astype(int),
        acc=good.test_acc1,
        loss=finite_or_none("test_loss"),
        train_acc=finite_or_none("train_acc1"),
        train_loss=finite_or_none("train_loss"),
        lrs=lrs,
        lr_known=lr_known,
        total_epochs=len(lrs),
        epoch_time_s=_epoch_time(good),
        now=float(stamps[-1]) if stamps is not None and math.isfinite(stamps[-1]) else None,
        nonfinite=tuple(nonfinite),
        notes=tuple(notes),
    )
