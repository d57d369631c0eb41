"""A row-cursor DataTable whose Home/g and End/G go to the first and last row (DataTable's own
Home and End scroll sideways): the base of every table the app and the run list show."""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import DataTable


class RowTable(DataTable):
    BINDINGS = [Binding("home,g", "first_row", "First", show=False),
                Binding("end,G", "last_row", "Last", show=False)]

    def action_first_row(self) -> None:
        if self.row_count:
            self.move_cursor(row=0)

    def action_last_row(self) -> None:
        if self.row_count:
            self.move_cursor(row=self.row_count - 1)
