"""The alerts, most urgent first, in a scrollable list. Each line starts with its text marker
([!!], [!], [i]) so it reads without colour; colour is added by level."""

from __future__ import annotations

from rich.text import Text
from textual.containers import VerticalScroll
from textual.reactive import reactive
from textual.widget import Widget

from runwatch.terminal import printable
from runwatch.tui.alerts import Alert

LEVEL_STYLES = {"critical": "bold white on red", "warning": "bold yellow", "info": ""}


def alert_text(alerts: tuple[Alert, ...]) -> Text:
    if not alerts:
        return Text("no alerts")
    text = Text()
    for i, alert in enumerate(alerts):
        if i:
            text.append("\n")
        text.append(f"[{alert.marker}]", style=LEVEL_STYLES[alert.level])
        text.append(f" {alert.kind}: ", style="bold")
        text.append(printable(alert.message))
    return text


class AlertLines(Widget):
    """The lines themselves (rendered from the list's alerts: nothing cached apart)."""

    alerts: reactive[tuple[Alert, ...]] = reactive((), layout=True)

    def render(self) -> Text:
        return alert_text(self.alerts)


class AlertList(VerticalScroll, can_focus=True):
    alerts: reactive[tuple[Alert, ...]] = reactive((), init=False)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = "Alerts"

    def compose(self):
        yield AlertLines(id="alert-lines")

    def watch_alerts(self, alerts: tuple[Alert, ...]) -> None:
        self.border_title = f"Alerts ({len(alerts)})"
        lines = self.query_one(AlertLines)
        lines.alerts = alerts
        self.set_class(any(a.level == "critical" for a in alerts), "-critical")
        # Lay the lines out again once this refresh is done: a layout asked for while one is
        # under way can keep their old height inside the scroll (seen with Textual 8.2).
        self.call_after_refresh(lines.refresh, layout=True)
