"""Stream-like epoch records -> the history DataFrame forecast_run reads (live branch only)."""

from __future__ import annotations

import pandas as pd

from runwatch.stream import split_branches

PERCENT = "acc_in_percent"  # DataFrame.attrs key: the accuracies are known to be percent
HISTORY_COLUMNS = ("epoch", "test_acc1", "test_loss", "train_acc1", "train_loss", "lr", "time",
                   "epoch_time_s")


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
