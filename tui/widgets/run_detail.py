"""Under the run list: the selected run in full (its name, what was read, its alerts or why it
is unreadable), as the table's cells are cut to their widths."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from runwatch.terminal import printable
from runwatch.tui.run_list import RunRow, forecast_words


def detail_text(row: RunRow | None) -> Text:
    if row is None:
        return Text("no runs yet: watching for run directories and logs", style="dim")
    s, o = row.summary, row.outlook
    text = Text(f"{printable(s.name)}  ", style="bold")
    text.append(f"{printable(s.kind)}: {printable(_shown_path(s.path, s.entry))}")
    if s.status == "unreadable":
        text.append(f"\n!! unreadable: {printable(s.note)}", style="red")
        return text
    text.append(f"\nforecast of the final accuracy: {forecast_words(o)}")
    if o is not None and o.note and o.final is None:
        text.append(f" ({printable(o.note)})", style="dim")
    for alert in row.alerts[:3]:
        text.append(f"\n{printable(alert.text())}",
                    style="bold red" if alert.level == "critical" else "yellow")
    return text


def _shown_path(path: Path, entry: Path | None) -> Path:
    """The log's path from the folder the run is listed in (the list's own folder is known)."""
    if entry is not None and path.is_relative_to(entry.parent):
        return path.relative_to(entry.parent)
    return path


class RunDetail(Static):
    row: reactive[RunRow | None] = reactive(None, always_update=True)

    def watch_row(self, row: RunRow | None) -> None:
        self.update(detail_text(row))
