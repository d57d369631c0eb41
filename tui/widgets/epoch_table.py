"""One row per epoch of the live branch, newest at the bottom, followed while at the bottom.

The app sets `epoch_rows` (every row's cells, computed by `table_rows`); the table appends new rows,
updates the cells that changed (the PEAK tag moves, the forecast names a regression) and
rebuilds only when the rows are not an extension of those shown (a resume or rewind abandoned a
branch, the file was replaced), so an abandoned branch is never mixed in. `tag_filter` shows
only the rows of one tag (`/` in the app). Home/g and End/G go to the first and last row.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from rich.text import Text
from textual.reactive import reactive

from runwatch.terminal import printable
from runwatch.tui.run_model import EpochPoint, RunModel
from runwatch.tui.status import format_cell, format_lr
from runwatch.tui.tags import epoch_tag, gain, warmup_end
from runwatch.tui.widgets.row_table import RowTable

# Fixed widths: auto-width would stay as narrow as the first rows' cells (update_cell does
# not widen), and the table must fit 80 columns.
COLUMNS = {"epoch": 5, "train": 6, "test": 6, "gain": 7, "test loss": 9, "LR": 8, "tag": 11}
TAG_STYLES = {
    "fast growth": "green", "moderate": "", "slow": "dim", "plateau": "yellow",
    "PEAK": "bold cyan", "LR RESTART": "bold magenta", "warmup": "magenta",
    "regression": "bold red", "dip": "yellow", "non-finite": "bold red reverse",
}


@dataclass(frozen=True)
class EpochRow:
    epoch: int
    tag: str
    cells: tuple[str, ...]  # every column but the tag


def row_cells(point: EpochPoint, previous: EpochPoint | None) -> tuple[str, ...]:
    g = gain(point, previous) if previous is not None else None
    record = point.record
    return (
        str(point.epoch),
        format_cell(record.get("train_acc1")),
        format_cell(record.get("test_acc1")),
        "-" if g is None else format_cell(g, 2) if g != g else f"{g:+.2f}",
        format_cell(record.get("test_loss"), 3),
        format_lr(record.get("lr")),
    )


def table_rows(model: RunModel, regressions: Collection[int] = ()) -> tuple[EpochRow, ...]:
    best = model.best()
    best_epoch = best.epoch if best else None
    warmup = warmup_end(model)
    rows, previous = [], None
    for point in model.epochs():
        rows.append(EpochRow(point.epoch, epoch_tag(point, previous, best_epoch, regressions,
                                                    warmup), row_cells(point, previous)))
        previous = point
    return tuple(rows)


def matches(row: EpochRow, tag_filter: str) -> bool:
    """`tag_filter` is a tag's name or its start, any case ('reg', 'restart', 'peak')."""
    wanted = tag_filter.strip().lower()
    tag = row.tag.lower()
    return not wanted or tag.startswith(wanted) or wanted in tag.split()


class EpochTable(RowTable):
    epoch_rows: reactive[tuple[EpochRow, ...]] = reactive((), init=False)
    tag_filter: reactive[str] = reactive("", init=False)

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        for name, width in COLUMNS.items():
            self.add_column(name, key=name, width=width)

    def _add(self, row: EpochRow) -> None:
        self.add_row(*row.cells, Text(row.tag, style=TAG_STYLES.get(row.tag, "")),
                     key=str(row.epoch))

    def watch_epoch_rows(self, old: tuple[EpochRow, ...], rows: tuple[EpochRow, ...]) -> None:
        follow = self.cursor_row >= self.row_count - 1
        if self.tag_filter or [r.epoch for r in rows[:len(old)]] != [r.epoch for r in old]:
            self._rebuild(rows)
        else:
            for before, now in zip(old, rows, strict=False):
                if before != now:
                    for key, cell in zip(COLUMNS, now.cells, strict=False):
                        self.update_cell(str(now.epoch), key, cell)
                    self.update_cell(str(now.epoch), "tag",
                                     Text(now.tag, style=TAG_STYLES.get(now.tag, "")))
            for row in rows[len(old):]:
                self._add(row)
        if follow and self.row_count:
            self.move_cursor(row=self.row_count - 1, animate=False)

    def watch_tag_filter(self) -> None:
        self._rebuild(self.epoch_rows)

    def _rebuild(self, rows: tuple[EpochRow, ...]) -> None:
        self.clear()
        for row in rows:
            if matches(row, self.tag_filter):
                self._add(row)

    def go(self, text: str) -> str:
        """`/`: to an epoch's row when `text` is a number, else show only the rows of that
        tag (empty: all). What is not there is said in the words returned (else "")."""
        text = text.strip()
        if text.isdigit():
            return "" if self.jump_to(int(text)) else f"no epoch {text} on the live branch"
        self.tag_filter = text
        if text and not self.row_count:
            self.tag_filter = ""
            return f"no epoch tagged {printable(text)!r}"
        return ""

    def jump_to(self, epoch: int) -> bool:
        """Put the cursor on `epoch`'s row (clearing a filter that hides it); False if the live
        branch has no such epoch."""
        if not any(r.epoch == epoch for r in self.epoch_rows):
            return False
        if str(epoch) not in {key.value for key in self.rows}:
            self.tag_filter = ""
        self.move_cursor(row=self.get_row_index(str(epoch)))
        return True

