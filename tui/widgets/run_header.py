"""The two header lines: run name and status, then progress, speed and the ETA."""

from __future__ import annotations

import math

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from runwatch.terminal import printable
from runwatch.tui.status import HeaderFacts, format_duration, format_when

STATE_MARKERS = {"running": "●", "waiting": "○", "stalled": "!", "quiet": "◌", "finished": "■",
                 "missing": "?"}


def eta_text(facts: HeaderFacts) -> str:
    target = facts.target
    if facts.eta_epoch is None:
        return f"ETA {target:g}%: -"
    if facts.epoch is not None and facts.eta_epoch <= facts.epoch:
        return f"{target:g}% reached at ep {facts.eta_epoch}"
    when = "" if facts.eta_at is None else " " + format_when(facts.eta_at)
    return f"ETA {target:g}%: ep {facts.eta_epoch}{when}"


def header_lines(facts: HeaderFacts) -> tuple[Text, str]:
    epoch = "-" if facts.epoch is None else str(facts.epoch)
    planned = f" of {facts.planned_epochs}" if facts.planned_epochs else ""
    speed = (f"{facts.images_per_s:,.0f} img/s" if math.isfinite(facts.images_per_s)
             else "- img/s")
    why = f" ({facts.bad_reason})" if facts.bad_reason else ""
    bad = f"  bad lines {facts.bad_lines}{why}" if facts.bad_lines else ""
    kind = facts.source_kind
    line1 = Text()
    line1.append(printable(facts.run_name), style="bold")
    if kind not in ("", "runwatch stream"):
        line1.append(f" ({printable(kind)})")
    line1.append(f"  {STATE_MARKERS[facts.state]} {printable(facts.status)}  "
                 f"epoch {epoch}{planned}{printable(bad)}")
    line2 = (f"elapsed {format_duration(facts.elapsed_s)}  {speed}  "
             f"{format_duration(facts.epoch_time_s)}/epoch  {eta_text(facts)}")
    return line1, line2


class RunHeader(Widget):
    """Shows `facts` (set by the app: attributes down); an equal value does not re-render."""

    facts: reactive[HeaderFacts | None] = reactive(None)

    def watch_facts(self, facts: HeaderFacts | None) -> None:
        for state in STATE_MARKERS:
            self.set_class(facts is not None and facts.state == state, f"-{state}")

    def render(self) -> Text:
        if self.facts is None:
            return Text("")
        line1, line2 = header_lines(self.facts)
        return Text("\n").join([line1, Text(line2)])
