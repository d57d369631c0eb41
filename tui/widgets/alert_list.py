"""The alerts, most urgent first, in a scrollable list. Each line starts with its text marker
([!!], [!], [i]) so it reads without colour; colour is added by level."""

from __future__ import annotations

from rich.text import Text
from textual.containers import VerticalScroll
from textual.reactive import reactive
from textual.widgets import Static

from runwatch.terminal import printable
from runwatch.tui.alerts import Alert

LEVEL_STYLES = {"critical": "bold white on red", "warning": "bold yellow", "info": ""}


def alert_text(alerts: tuple[Alert, ...]) -> Text:
    text = Text()
    for i, alert in enumerate(alerts):
        if i:
            text.append("\n")
        text.append(f"[{alert.marker}]", style=LEVEL_STYLES[alert.level])
        text.append(f" {alert.kind}: ", style="bold")
        text.append(printable(alert.message))
    return text


class AlertList(VerticalScroll, can_focus=True):
    alerts: reactive[tuple[Alert, ...]] = reactive((), init=False)

    def compose(self):
        yield Static("no alerts", id="alert-lines")

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = "Alerts"

    def watch_alerts(self, alerts: tuple[Alert, ...]) -> None:
        self.border_title = f"Alerts ({len(alerts)})"
        self.query_one("#alert-lines", Static).update(alert_text(alerts) if alerts
                                                      else "no alerts")
        self.set_class(any(a.level == "critical" for a in alerts), "-critical")
