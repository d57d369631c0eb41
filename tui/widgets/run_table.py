"""The run list: one row per run (name, status, epoch of total, best, forecast with its band,
active alerts, format), sorted by `sort_by`, marked runs starred; Home/g, End/G: first, last.

The app sets `run_rows` (in any order), `marked` and `sort_by`; the table sorts and redraws, keeping
the cursor on the run it was on. Cells are Text made by `runwatch.tui.run_list.row_cells`,
never markup: run names come from the disk.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.reactive import reactive

from runwatch.tui.run_list import COLUMNS, SORTS, RunRow, row_cells, sort_rows
from runwatch.tui.widgets.row_table import RowTable

# Fixed widths: the first six fit 80 columns; the format comes last.
WIDTHS = dict(zip(COLUMNS, (14, 10, 7, 6, 18, 13, 24), strict=True))


class RunTable(RowTable):
    run_rows: reactive[tuple[RunRow, ...]] = reactive(tuple, always_update=True)
    marked: reactive[frozenset[Path]] = reactive(frozenset)
    sort_by: reactive[str] = reactive("status")

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._shown: list[RunRow] = []

    def on_mount(self) -> None:
        for title, width in WIDTHS.items():
            self.add_column(title, width=width, key=title)
        self._label_sort()

    def watch_run_rows(self) -> None:
        self._redraw()

    def watch_marked(self) -> None:
        self._redraw()

    def watch_sort_by(self) -> None:
        self._label_sort()
        self._redraw()

    @property
    def shown(self) -> list[RunRow]:
        """The rows in the order shown."""
        return list(self._shown)

    def selected(self) -> RunRow | None:
        if not self._shown or not 0 <= self.cursor_row < len(self._shown):
            return None
        return self._shown[self.cursor_row]

    def _label_sort(self) -> None:
        if not self.columns:
            return
        for key, _words, larger_first in SORTS:
            title = "forecast [80%]" if key == "forecast" else key
            if title in self.columns:
                arrow = (" v" if larger_first else " ^") if key == self.sort_by else ""
                self.columns[title].label = Text(title + arrow)
        self.refresh()

    def _redraw(self) -> None:
        if not self.columns:
            return
        current = self.selected()
        self._shown = sort_rows(list(self.run_rows), self.sort_by)
        self.clear()
        for row in self._shown:
            self.add_row(*row_cells(row, row.key in self.marked), key=str(row.key))
        if current is not None:
            keys = [row.key for row in self._shown]
            if current.key in keys:
                self.move_cursor(row=keys.index(current.key), animate=False)
