"""The two header lines: run name and status, then progress, speed and the ETA."""

from __future__ import annotations

import datetime as dt
import math

from rich.markup import escape
from textual.widgets import Static

from tui.status import HeaderFacts, format_duration

STATE_MARKERS = {"running": "●", "waiting": "○", "stalled": "!", "finished": "■", "missing": "?"}


def eta_text(facts: HeaderFacts, target: float) -> str:
    if facts.eta_epoch is None:
        return f"ETA {target:g}%: -"
    when = ""
    if facts.eta_at is not None:
        when = " " + dt.datetime.fromtimestamp(facts.eta_at).strftime("%b %d %H:%M")
    return f"ETA {target:g}%: ep {facts.eta_epoch}{when}"


class RunHeader(Static):
    """Shows a `HeaderFacts`; the app sets `facts` (attributes down)."""

    def show(self, facts: HeaderFacts, target: float) -> None:
        for state in STATE_MARKERS:
            self.set_class(facts.state == state, f"-{state}")
        epoch = "-" if facts.epoch is None else str(facts.epoch)
        planned = f" of {facts.planned_epochs}" if facts.planned_epochs else ""
        speed = (f"{facts.images_per_s:,.0f} img/s" if math.isfinite(facts.images_per_s)
                 else "- img/s")
        bad = f"  bad lines {facts.bad_lines}" if facts.bad_lines else ""
        line1 = (f"[b]{escape(facts.run_name)}[/b]  {STATE_MARKERS[facts.state]} {facts.status}"
                 f"  epoch {epoch}{planned}{bad}")
        line2 = (f"elapsed {format_duration(facts.elapsed_s)}  {speed}  "
                 f"{format_duration(facts.epoch_time_s)}/epoch  {eta_text(facts, target)}")
        self.update(f"{line1}\n{line2}")
