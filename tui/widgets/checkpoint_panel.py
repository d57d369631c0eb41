"""The run's checkpoints, best marked, and the outcome of the last rewind/edit (its resume
command). The keys live on the app: `b` rewinds to best, `e` edits the selected checkpoint."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widgets import DataTable, Static

from runwatch.terminal import printable
from runwatch.tui.checkpoints import CheckpointRow
from runwatch.tui.widgets.row_table import RowTable

HINT = "b: rewind to best   e: edit the selected checkpoint's schedule"


class CheckpointPanel(Vertical):
    rows: reactive[tuple[CheckpointRow, ...]] = reactive((), init=False)
    status: reactive[str] = reactive(HINT, init=False)

    def compose(self) -> ComposeResult:
        table = RowTable(id="ckpt-table", cursor_type="row", zebra_stripes=True)
        table.add_columns("file", "epoch", "test acc", "MB", "best")
        yield table
        yield Static(HINT, id="ckpt-status", markup=False)

    def watch_rows(self, old: tuple[CheckpointRow, ...], rows: tuple[CheckpointRow, ...]) -> None:
        table = self.query_one("#ckpt-table", DataTable)
        # The selection follows its file, not its row number: a new file sorted in above it
        # must not move the cursor onto another checkpoint.
        chosen = old[table.cursor_row].path if old and table.cursor_row < len(old) else None
        table.clear()
        for row in rows:
            table.add_row(
                Text(printable(row.path.name)),
                "-" if row.epoch is None else str(row.epoch),
                "-" if row.test_acc1 is None else f"{row.test_acc1:.2f}",
                f"{row.size_mb:.1f}",
                Text("* BEST", style="bold cyan") if row.is_best else "",
            )
        paths = [row.path for row in rows]
        if rows:
            table.move_cursor(row=paths.index(chosen) if chosen in paths else 0)

    def watch_status(self, status: str) -> None:
        self.query_one("#ckpt-status", Static).update(Text(status))

    def selected(self) -> CheckpointRow | None:
        table = self.query_one("#ckpt-table", DataTable)
        if not self.rows:
            return None
        return self.rows[min(table.cursor_row, len(self.rows) - 1)]
