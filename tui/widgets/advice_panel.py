"""What to do: the recommended action first, in words, with its forecast against the plan's;
then every option the forecast ranked (final accuracy with its 80% band, the epoch the target
is reached, the epochs a rewind trains again). `f` (the app's key) opens the edit dialog
pre-filled with the recommendation."""

from __future__ import annotations

import math

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from runwatch.tui.advice import Advice, Ranked

MARK = "▶"


def ranked_line(r: Ranked) -> str:
    band = (f"[{r.lo80:4.1f}, {r.hi80:4.1f}]" if math.isfinite(r.lo80) and math.isfinite(r.hi80)
            else "")
    eta = f"ep {r.eta_epoch}" if r.eta_epoch is not None else "-"
    cost = f"{r.cost_epochs} ep" if r.cost_epochs else "-"
    return f"{r.final_acc1:5.1f}% {band:<13} {eta:>6} {cost:>6}  {r.option.words}"


def advice_text(advice: Advice, target: float | None, full: bool = True) -> Text:
    """The recommendation; `full`: then every option, ranked."""
    text = Text()
    if advice.recommended is None:
        text.append(advice.note or "what to do: waiting for the forecast", style="dim")
        return text
    text.append(f"{MARK} ", style="bold")
    text.append(advice.words(), style="bold")
    if not full:
        more = len(advice.ranked) - 1
        start = ("f opens it pre-filled; " if advice.recommended.option.choice is not None
                 else "")
        text.append(f"\n  {start}{more} other option{'s' if more != 1 else ''} ranked in tab 2",
                    style="dim")
        return text
    reach = f"{target:g}%" if target is not None else "target"
    text.append(f"\n  final  80% band       {reach:>6} retrain  option", style="dim")
    for r in advice.ranked:
        text.append(f"\n{MARK if r is advice.recommended else ' '} {ranked_line(r)}")
    return text


class AdvicePanel(Widget):
    advice: reactive[Advice] = reactive(Advice, layout=True)
    target: reactive[float | None] = reactive(None)

    def __init__(self, full: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self.full = full  # every option ranked, or only the recommendation
        self.border_title = "What to do (f opens it)"

    def render(self) -> Text:
        return advice_text(self.advice, self.target, self.full)
