"""Downsampling for the screen: a terminal is ~100 cells wide, a run has up to 1e6 points.

`minmax_buckets` keeps the lowest and highest point of each bucket (so dips and spikes survive,
unlike a plain stride or mean); `BucketSeries` aggregates an unbounded stream of values into a
fixed number of buckets in O(1) memory, doubling the bucket width when it fills up.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field


def minmax_buckets(
    xs: Sequence[float], ys: Sequence[float], buckets: int
) -> tuple[list[float], list[float]]:
    """At most 2 * `buckets` points: per bucket, its min and max y, in x order.

    Non-finite y values are skipped (they cannot be drawn); short inputs come back unchanged.
    """
    points = [(x, y) for x, y in zip(xs, ys, strict=True) if math.isfinite(y)]
    if len(points) <= 2 * buckets:
        return [p[0] for p in points], [p[1] for p in points]
    out: list[tuple[float, float]] = []
    size = len(points) / buckets
    for b in range(buckets):
        chunk = points[int(b * size): int((b + 1) * size)]
        if not chunk:
            continue
        lo = min(chunk, key=lambda p: p[1])
        hi = max(chunk, key=lambda p: p[1])
        out.extend(sorted({lo, hi}))
    return [p[0] for p in out], [p[1] for p in out]


@dataclass
class BucketSeries:
    """Mean and min of consecutive values, in at most `capacity` buckets of equal width.

    `add` is O(1); when all buckets are full, neighbours merge pairwise and the width doubles,
    so a million step losses cost `capacity` buckets of memory.
    """

    capacity: int = 256
    width: int = 1
    _sums: list[float] = field(default_factory=list)
    _counts: list[int] = field(default_factory=list)
    _mins: list[float] = field(default_factory=list)

    def add(self, value: float) -> None:
        if not math.isfinite(value):
            return
        if self._counts and self._counts[-1] < self.width:
            self._sums[-1] += value
            self._counts[-1] += 1
            if value < self._mins[-1]:
                self._mins[-1] = value
            return
        if len(self._counts) == self.capacity:
            self._merge_pairs()
            self.add(value)
            return
        self._sums.append(value)
        self._counts.append(1)
        self._mins.append(value)

    def extend(self, values: list[float]) -> None:
        """`add` each value, a whole bucket at a time (sum/min over slices run in C)."""
        finite = [v for v in values if math.isfinite(v)]
        i = 0
        while i < len(finite):
            if not self._counts or self._counts[-1] >= self.width:
                if len(self._counts) == self.capacity:
                    self._merge_pairs()
                    continue
                self._sums.append(0.0)
                self._counts.append(0)
                self._mins.append(math.inf)
            take = finite[i: i + self.width - self._counts[-1]]
            self._sums[-1] += sum(take)
            self._counts[-1] += len(take)
            self._mins[-1] = min(self._mins[-1], min(take))
            i += len(take)

    def _merge_pairs(self) -> None:
        sums, counts, mins = [], [], []
        for i in range(0, len(self._counts), 2):
            j = slice(i, i + 2)
            sums.append(sum(self._sums[j]))
            counts.append(sum(self._counts[j]))
            mins.append(min(self._mins[j]))
        self._sums, self._counts, self._mins = sums, counts, mins
        self.width *= 2

    def means(self) -> list[float]:
        return [s / c for s, c in zip(self._sums, self._counts, strict=True)]

    def mins(self) -> list[float]:
        return list(self._mins)

    def __len__(self) -> int:
        return sum(self._counts)

    def clear(self) -> None:
        self._sums, self._counts, self._mins, self.width = [], [], [], 1
