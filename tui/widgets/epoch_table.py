"""One row per epoch of the live branch, newest at the bottom, followed while at the bottom.

Rows are appended as epochs arrive (never rebuilt per update); a resume/rewind or a file reset
rebuilds the table once, so an abandoned branch is never mixed into it. The PEAK tag moves:
only the old and new peak rows are updated.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from runwatch.tui.run_model import EpochPoint, RunModel
from runwatch.tui.status import format_cell, format_lr
from runwatch.tui.tags import epoch_tag, gain

# Fixed widths: auto-width would stay as narrow as the first rows' cells (update_cell does
# not widen), and the table must fit 80 columns.
COLUMNS = {"epoch": 5, "train": 6, "test": 6, "gain": 7, "loss": 7, "LR": 8, "tag": 11}
TAG_STYLES = {
    "fast growth": "green", "moderate": "", "slow": "dim", "plateau": "yellow",
    "PEAK": "bold cyan", "LR RESTART": "bold magenta", "regression": "bold red",
    "dip": "yellow", "non-finite": "bold red reverse",
}


def row_cells(point: EpochPoint, previous: EpochPoint | None, best_epoch: int | None,
              regressions: frozenset[int] = frozenset()) -> list:
    tag = epoch_tag(point, previous, best_epoch, regressions)
    g = gain(point, previous) if previous is not None else None
    record = point.record
    return [
        str(point.epoch),
        format_cell(record.get("train_acc1")),
        format_cell(record.get("test_acc1")),
        "-" if g is None else format_cell(g, 2) if g != g else f"{g:+.2f}",
        format_cell(record.get("test_loss"), 3),
        format_lr(record.get("lr")),
        Text(tag, style=TAG_STYLES.get(tag, "")),
    ]


class EpochTable(DataTable):
    """The app calls `sync(model, change)`; the table keeps its own row bookkeeping."""

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._peak: int | None = None
        self._shown: list[int] = []
        self._regressions: frozenset[int] = frozenset()  # from the latest forecast
        for name, width in COLUMNS.items():
            self.add_column(name, key=name, width=width)

    def sync(self, model: RunModel, new_epochs: list[int], rebuild: bool) -> None:
        follow = self.cursor_row >= self.row_count - 1
        best = model.best()
        best_epoch = best.epoch if best else None
        if rebuild:
            self.clear()
            self._shown = []
            new_epochs = sorted(model.live)
        for epoch in new_epochs:
            point = model.live.get(epoch)
            if point is None or epoch in self._shown:
                continue
            previous = model.previous(epoch)
            self.add_row(*row_cells(point, previous, best_epoch, self._regressions),
                         key=str(epoch))
            self._shown.append(epoch)
        if best_epoch != self._peak:
            self._retag(model, {self._peak, best_epoch}, best_epoch)
            self._peak = best_epoch
        if follow and self.row_count:
            self.move_cursor(row=self.row_count - 1, animate=False)

    def show_regressions(self, model: RunModel, epochs: frozenset[int]) -> None:
        """Tag as regressions the epochs the forecast calls so (the rest of the drops: dips)."""
        changed = epochs ^ self._regressions
        self._regressions = epochs
        best = model.best()
        self._retag(model, changed, best.epoch if best else None)

    def _retag(self, model: RunModel, epochs: set[int | None] | frozenset[int],
               best_epoch: int | None) -> None:
        for epoch in epochs:
            if epoch is not None and epoch in model.live and str(epoch) in self.rows:
                cells = row_cells(model.live[epoch], model.previous(epoch), best_epoch,
                                  self._regressions)
                self.update_cell(str(epoch), "tag", cells[-1])
