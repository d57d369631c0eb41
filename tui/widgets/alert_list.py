"""The alerts, most urgent first, in a scrollable list. Each line starts with its text marker
([!!], [!], [i]) so it reads without colour; colour is added by level."""

from __future__ import annotations

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from runwatch.tui.alerts import Alert

LEVEL_STYLES = {"critical": "bold white on red", "warning": "bold yellow", "info": ""}


class AlertList(VerticalScroll, can_focus=True):
    def compose(self):
        yield Static("no alerts", id="alert-lines")

    def on_mount(self) -> None:
        self._shown: list[Alert] = []

    def show(self, alerts: list[Alert]) -> None:
        if alerts == self._shown:
            return
        self._shown = list(alerts)
        self.border_title = f"Alerts ({len(alerts)})"
        text = Text()
        for i, alert in enumerate(alerts):
            if i:
                text.append("\n")
            text.append(f"[{alert.marker}]", style=LEVEL_STYLES[alert.level])
            text.append(f" {alert.kind}: ", style="bold")
            text.append(alert.message)
        self.query_one("#alert-lines", Static).update(text if alerts else "no alerts")
        self.set_class(any(a.level == "critical" for a in alerts), "-critical")
