"""Downsampling for the screen: a terminal is ~100 cells wide, a run has up to 1e6 points.

`minmax_buckets` keeps the lowest and highest point of each bucket, in the order they occur (so
dips and spikes survive, unlike a plain stride or mean); `bucket_means` averages buckets for a
one-line sparkline. Both are numpy over the whole series, so a million step losses downsample
in milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _rows(values: np.ndarray, buckets: int) -> np.ndarray:
    """`values` as rows of equal size (at most `buckets` rows), the last padded with NaN."""
    size = -(-len(values) // buckets)
    rows = -(-len(values) // size)
    padded = np.full(rows * size, np.nan)
    padded[:len(values)] = values
    return padded.reshape(rows, size)


def minmax_buckets(xs: Sequence[float] | np.ndarray, ys: Sequence[float] | np.ndarray,
                   buckets: int) -> tuple[list[float], list[float]]:
    """At most 2 * `buckets` points: per bucket, its min and max y, in x order.

    Non-finite y values are skipped (they cannot be drawn); short inputs come back unchanged.
    """
    x = np.asarray(xs, dtype=float)
    y = np.asarray(ys, dtype=float)
    if len(x) != len(y):
        raise ValueError(f"{len(x)} x values for {len(y)} y values")
    keep = np.isfinite(y)
    x, y = x[keep], y[keep]
    if len(y) <= 2 * buckets:
        return x.tolist(), y.tolist()
    rx, ry = _rows(x, buckets), _rows(y, buckets)
    lo, hi = np.nanargmin(ry, axis=1), np.nanargmax(ry, axis=1)
    order = np.stack([np.minimum(lo, hi), np.maximum(lo, hi)], axis=1)
    rows = np.arange(len(ry))[:, None]
    return rx[rows, order].ravel().tolist(), ry[rows, order].ravel().tolist()


def bucket_means(values: Sequence[float] | np.ndarray, buckets: int) -> list[float]:
    """The mean of each of at most `buckets` consecutive buckets (non-finite values skipped)."""
    y = np.asarray(values)
    y = y[np.isfinite(y)].astype(float)
    if len(y) <= buckets:
        return y.tolist()
    return np.nanmean(_rows(y, buckets), axis=1).tolist()
