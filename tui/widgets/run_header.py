"""The two header lines: run name and status, then progress, speed and the ETA."""

from __future__ import annotations

import math

from rich.markup import escape
from textual.widgets import Static

from runwatch.terminal import printable
from runwatch.tui.status import HeaderFacts, format_duration, format_when

STATE_MARKERS = {"running": "●", "waiting": "○", "stalled": "!", "quiet": "◌", "finished": "■",
                 "missing": "?"}


def eta_text(facts: HeaderFacts, target: float) -> str:
    if facts.eta_epoch is None:
        return f"ETA {target:g}%: -"
    if facts.epoch is not None and facts.eta_epoch <= facts.epoch:
        return f"{target:g}% reached at ep {facts.eta_epoch}"
    when = "" if facts.eta_at is None else " " + format_when(facts.eta_at)
    return f"ETA {target:g}%: ep {facts.eta_epoch}{when}"


class RunHeader(Static):
    """Shows a `HeaderFacts`; the app sets `facts` (attributes down)."""

    def show(self, facts: HeaderFacts, target: float, source_kind: str = "") -> None:
        for state in STATE_MARKERS:
            self.set_class(facts.state == state, f"-{state}")
        epoch = "-" if facts.epoch is None else str(facts.epoch)
        planned = f" of {facts.planned_epochs}" if facts.planned_epochs else ""
        speed = (f"{facts.images_per_s:,.0f} img/s" if math.isfinite(facts.images_per_s)
                 else "- img/s")
        why = f" ({escape(printable(facts.bad_reason))})" if facts.bad_reason else ""
        bad = f"  bad lines {facts.bad_lines}{why}" if facts.bad_lines else ""
        kind = f" ({escape(source_kind)})" if source_kind not in ("", "runwatch stream") else ""
        line1 = (f"[b]{escape(facts.run_name)}[/b]{kind}  {STATE_MARKERS[facts.state]} "
                 f"{escape(printable(facts.status))}"
                 f"  epoch {epoch}{planned}{bad}")
        line2 = (f"elapsed {format_duration(facts.elapsed_s)}  {speed}  "
                 f"{format_duration(facts.epoch_time_s)}/epoch  {eta_text(facts, target)}")
        text = f"{line1}\n{line2}"
        if text != getattr(self, "_text", None):  # idle ticks must not re-render
            self._text = text
            self.update(text)
