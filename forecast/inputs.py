"""Parse a run's epochs and its planned schedule into arrays the fits can trust.

`history_from_records(records)` turns stream records (the live branch) into the history
DataFrame; `prepare_history(history, plan)` validates it into a `History`. With no plan given,
one shape of plan is guessed from the logged LRs: a cosine decay from the peak towards zero, the
most common schedule of long runs (DeiT/timm, torchvision references); the guess must reproduce
the logged LRs within 2% of the peak, or the last LR is held.

Bad input is repaired where a sensible answer exists (and the repair is written to `notes`):
accuracy given as a fraction, duplicate or unsorted epochs, non-finite values (kept aside for
the events, left out of the fits), a plan that is missing (continued along the cosine the
logged LRs follow, else the last LR held) or shorter than the run. Input with no
usable epoch at all is a RunwatchError naming the problem and the fix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from runwatch.errors import RunwatchError
from runwatch.forecast.fitting import curve_fit_box
from runwatch.stream import split_branches

OPTIONAL_COLUMNS = ("test_loss", "train_acc1", "train_loss", "lr", "time", "epoch_time_s")
PERCENT = "acc_in_percent"  # DataFrame.attrs key: the accuracies are known to be percent
HISTORY_COLUMNS = ("epoch", "test_acc1", *OPTIONAL_COLUMNS)
REPRODUCE = 0.02  # a guessed cosine must reproduce the logged LRs within 2% of the peak
MIN_POINTS = 3


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


def history_from_records(records: list[dict]) -> pd.DataFrame:
    """One row per epoch of the live branch (abandoned branches left out), known columns only.

    Columns the records never carry are absent, so the forecast knows what it lacks; the
    frame is marked as percent (attrs[PERCENT]), as the stream's schema says.
    """
    live = split_branches(records).live
    rows = [{k: r.get(k) for k in HISTORY_COLUMNS if k in r} for r in live]
    df = pd.DataFrame(rows)
    for column in HISTORY_COLUMNS:
        if column in df.columns:
            df[column] = pd.to_numeric(df[column], errors="coerce")
    if "epoch" not in df.columns:
        df = pd.DataFrame(columns=["epoch", "test_acc1"])
    # The metric stream's accuracies are percent (every source converts to it): an ImageNet
    # run's first epochs at 0.1-0.9% must not be taken for fractions (forecast.inputs).
    df.attrs[PERCENT] = True
    return df


def cosine(e: np.ndarray, eta_min: float, amp: float, start: float, period: float) -> np.ndarray:
    """eta_min + amp * (1 + cos(pi * (e - start) / period)) / 2, flat at eta_min past the end."""
    t = np.clip(e - start, 0, period)
    return eta_min + amp * (1 + np.cos(np.pi * t / period)) / 2


def cosine_tail(epochs: np.ndarray, lrs: np.ndarray) -> tuple[float, float, float, float] | None:
    """(eta_min, amp, start, period) of the cosine the LRs after their peak follow, or None.

    Start and period are fitted (a timm cosine counts its warmup, so its start precedes the
    logged peak); the first guess of the period is the median of the per-epoch estimates.
    """
    peak_i = int(np.argmax(lrs))
    peak, e_peak = float(lrs[peak_i]), float(epochs[peak_i])
    e, y = epochs[peak_i:].astype(float), lrs[peak_i:] / peak
    if len(e) < MIN_POINTS + 1 or np.any(np.diff(y) > 1e-9) or y[-1] > 0.9999:
        return None  # too short, rising again after the peak, or not decaying yet
    t, x = e[1:] - e_peak, y[1:]
    use = (x > 0.02) & (x < 0.9999)
    if use.sum() < MIN_POINTS:
        return None
    guess = float(np.median(np.pi * t[use] / np.arccos(np.clip(2 * x[use] - 1, -1, 1))))
    fit = curve_fit_box(cosine, e, y, np.array([0.0, 1.0, e_peak, guess]),
                        np.array([0, 0.5, e_peak - 20, 1]), np.array([0.5, 1.5, e_peak + 1, 1e5]))
    params = fit.x
    if not fit.converged or np.max(np.abs(cosine(e, *params) - y)) > REPRODUCE:
        return None
    eta_min, amp, start, period = (float(v) for v in params)
    return eta_min * peak, amp * peak, start, period


def cosine_lrs(fit: tuple[float, float, float, float], first: int, last: int) -> np.ndarray:
    """LRs of epochs first..last on a fitted cosine (floored at a tiny positive LR)."""
    eta_min, amp, start, period = fit
    lrs = cosine(np.arange(first, last + 1, dtype=float), eta_min, amp, start, period)
    return np.maximum(lrs, 1e-4 * (eta_min + amp))


def _column(df: pd.DataFrame, name: str) -> np.ndarray | None:
    if name not in df.columns:
        return None
    values = pd.to_numeric(df[name], errors="coerce").to_numpy(float)
    return None if np.all(np.isnan(values)) else values


def _nonfinite(df: pd.DataFrame) -> list[tuple[int, str, float]]:
    out = []
    for col in ("test_acc1", "test_loss", "train_loss"):
        values = _column(df, col)
        if values is None:
            continue
        for epoch, value in zip(df["epoch"], values, strict=True):
            if not math.isfinite(value):
                out.append((int(epoch), col, float(value)))
    return out


def _epoch_time(df: pd.DataFrame) -> float | None:
    per_epoch = _column(df, "epoch_time_s")
    if per_epoch is not None and np.isfinite(per_epoch).any():
        return float(np.nanmean(per_epoch))
    stamps = _column(df, "time")
    if stamps is not None and np.isfinite(stamps).sum() >= 2:
        good = df["epoch"].to_numpy(float)[np.isfinite(stamps)]
        t = stamps[np.isfinite(stamps)]
        if good[-1] > good[0] and t[-1] > t[0]:
            return float((t[-1] - t[0]) / (good[-1] - good[0]))
    return None


def _guessed_plan(df: pd.DataFrame, own: np.ndarray | None, last: int,
                  total_epochs: int | None, notes: list[str]) -> np.ndarray | None:
    """The logged LRs continued along the cosine they follow, when they clearly follow one."""
    if own is None or not np.all(np.isfinite(own)) or np.any(own <= 0):
        return None
    fit = cosine_tail(df["epoch"].to_numpy(int), own)
    if fit is None or fit[2] + fit[3] <= last + 1:
        return None
    total = total_epochs or int(round(fit[2] + fit[3]))
    notes.append(f"no LR plan given: the logged LRs follow a cosine decay, assumed to reach its "
                 f"minimum at epoch {total} (pass --plan to set the plan)")
    return cosine_lrs(fit, 1, total)


def _plan_lrs(df: pd.DataFrame, plan: list[float] | None, last: int,
              total_epochs: int | None, notes: list[str]) -> tuple[np.ndarray, bool]:
    """LR of each epoch 1..E: the run's own LR where logged, the plan elsewhere."""
    own = _column(df, "lr")
    planned = None if plan is None else np.asarray(plan, float)
    if planned is not None and (len(planned) == 0 or not np.all(np.isfinite(planned))
                                or np.any(planned <= 0)):
        notes.append("the planned LRs were empty or not all positive numbers: ignored them")
        planned = None
    if planned is None:
        planned = _guessed_plan(df, own, last, total_epochs, notes)
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
        for epoch, lr in zip(df["epoch"].to_numpy(int), own, strict=True):
            if 1 <= epoch <= total and math.isfinite(lr) and lr > 0:
                lrs[epoch - 1] = lr
    known = np.isfinite(lrs)
    if not known.any():
        notes.append("no learning rate known (no lr column, no plan): schedule-aware models "
                     "are off and the forecast assumes nothing changes")
        return np.ones(total), False
    # Fill unknown epochs from their neighbours: before the first known LR, after the last.
    filled = pd.Series(lrs).ffill().bfill().to_numpy(float)
    return filled, True


def prepare_history(history: pd.DataFrame, plan: list[float] | None,
                    total_epochs: int | None = None) -> History:
    """Validate and normalise a run's history; RunwatchError when nothing is usable."""
    if "epoch" not in history.columns or "test_acc1" not in history.columns:
        raise RunwatchError("the history needs 'epoch' and 'test_acc1' columns: "
                            "pass the run's per-epoch records (or use --metric NAME)")
    notes: list[str] = []
    df = history.copy()
    df["epoch"] = pd.to_numeric(df["epoch"], errors="coerce")
    df = df[np.isfinite(df["epoch"])]
    df["epoch"] = df["epoch"].astype(int)
    df = df[df["epoch"] >= 1]
    if df["epoch"].duplicated().any():
        notes.append("duplicate epochs in the history: kept the last record of each")
        df = df.drop_duplicates("epoch", keep="last")
    df = df.sort_values("epoch").reset_index(drop=True)
    acc_all = _column(df, "test_acc1")
    if acc_all is None or not np.isfinite(acc_all).any():
        raise RunwatchError("no epoch has a finite test_acc1: nothing to forecast from; "
                            "check the metric column (--metric NAME)")
    if not history.attrs.get(PERCENT) and np.nanmax(np.abs(acc_all[np.isfinite(acc_all)])) <= 1.0:
        notes.append("test_acc1 looks like a fraction (all values <= 1): read it as percent x100")
        df["test_acc1"] = acc_all * 100.0
    nonfinite = _nonfinite(df)
    if nonfinite:
        epochs = sorted({e for e, _, _ in nonfinite})
        notes.append(f"non-finite values at epoch(s) {', '.join(map(str, epochs[:5]))}: "
                     "left out of the fits")
    good = df[np.isfinite(pd.to_numeric(df["test_acc1"], errors="coerce"))].reset_index(drop=True)
    last = int(good["epoch"].iloc[-1])
    lrs, lr_known = _plan_lrs(good, plan, last, total_epochs, notes)

    def finite_or_none(name: str) -> np.ndarray | None:
        values = _column(good, name)
        return values if values is not None and np.all(np.isfinite(values)) else None

    stamps = _column(good, "time")
    return History(
        epochs=good["epoch"].to_numpy(int),
        acc=good["test_acc1"].to_numpy(float),
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
