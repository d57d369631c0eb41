"""Every step's loss and LR, and which steps each epoch trained (no textual here).

A long run writes a million step records; kept as float32 arrays they cost 8 bytes a step, so
the step chart can zoom into any epoch range of the whole run. An epoch's steps are those
between its record and the epoch record before it in the stream (`mark_epoch`); an epoch run
again after a resume or rewind is marked again, and the live branch's marks win.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from runwatch.tui.downsample import bucket_means


@dataclass(frozen=True)
class StepWindow:
    """The steps of an epoch range, x in fractional epochs (epoch e's steps in (e-1, e])."""

    x: np.ndarray
    loss: np.ndarray
    lr: np.ndarray


class StepSeries:
    def __init__(self) -> None:
        self.loss = array("f")
        self.lr = array("f")
        self.bounds: dict[int, tuple[int, int]] = {}  # epoch -> (first step, end) indices
        self.marked = 0  # index after the last marked epoch's steps

    def __len__(self) -> int:
        return len(self.loss)

    def extend(self, loss: Sequence[float] | array, lr: Sequence[float] | array) -> None:
        self.loss.extend(loss)
        self.lr.extend(lr)

    def mark_epoch(self, epoch: int, end: int) -> None:
        """Steps from the last mark up to index `end` trained `epoch`."""
        self.bounds[epoch] = (self.marked, end)
        self.marked = end

    def window(self, epochs: Sequence[int], first: int | None = None,
               last: int | None = None) -> StepWindow:
        """The steps of the live `epochs` within [first, last], plus the epoch in progress
        (the steps after the last mark) when it falls in the range."""
        chosen = [e for e in epochs if e in self.bounds and (first is None or e >= first)
                  and (last is None or e <= last)]
        pieces = [(e, *self.bounds[e]) for e in chosen]
        current = (max(epochs) + 1) if epochs else 1
        if self.marked < len(self) and (last is None or current <= last) and (
                first is None or current >= first):
            length = max(self._typical_length(), len(self) - self.marked)
            pieces.append((current, self.marked, self.marked + length))
        xs, idx = [], []
        for epoch, start, end in pieces:
            n = end - start
            if n <= 0:
                continue
            taken = np.arange(start, min(end, len(self)))
            xs.append(epoch - 1 + (taken - start + 1) / n)
            idx.append(taken)
        if not idx:
            empty = np.zeros(0)
            return StepWindow(empty, empty, empty)
        take = np.concatenate(idx)
        loss = np.frombuffer(self.loss, dtype=np.float32)[take].astype(float)
        lr = np.frombuffer(self.lr, dtype=np.float32)[take].astype(float)
        return StepWindow(np.concatenate(xs), loss, lr)

    def loss_means(self, buckets: int) -> list[float]:
        """Bucket means of every step loss in stream order (a view, no copy of the steps)."""
        return bucket_means(np.frombuffer(self.loss, dtype=np.float32), buckets)

    def _typical_length(self) -> int:
        lengths = [end - start for start, end in self.bounds.values() if end > start]
        return lengths[-1] if lengths else 0
