"""The run's checkpoints, best marked, and the outcome of the last rewind/edit (its resume
command). The keys live on the app: `b` rewinds to best, `e` edits the selected checkpoint."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from runwatch.tui.checkpoints import CheckpointRow


class CheckpointPanel(Vertical):
    def compose(self) -> ComposeResult:
        table = DataTable(id="ckpt-table", cursor_type="row", zebra_stripes=True)
        table.add_columns("file", "epoch", "test acc", "MB", "best")
        yield table
        yield Static("b: rewind to best   e: edit the selected checkpoint's schedule",
                     id="ckpt-status", markup=False)

    def on_mount(self) -> None:
        self.rows: list[CheckpointRow] = []

    def show(self, rows: list[CheckpointRow]) -> None:
        if rows == self.rows:
            return
        self.rows = rows
        table = self.query_one("#ckpt-table", DataTable)
        cursor = table.cursor_row
        table.clear()
        for row in rows:
            table.add_row(
                row.path.name,
                "-" if row.epoch is None else str(row.epoch),
                "-" if row.test_acc1 is None else f"{row.test_acc1:.2f}",
                f"{row.size_mb:.1f}",
                Text("* BEST", style="bold cyan") if row.is_best else "",
            )
        if rows:
            table.move_cursor(row=min(cursor, len(rows) - 1))

    def selected(self) -> CheckpointRow | None:
        table = self.query_one("#ckpt-table", DataTable)
        if not self.rows:
            return None
        return self.rows[min(table.cursor_row, len(self.rows) - 1)]

    def report(self, text: str) -> None:
        self.query_one("#ckpt-status", Static).update(text)
