"""When the target is reached (epoch, date, interval), the chance within the planned budget,
the schedule events ahead, and how far the models that make the forecast agree at the plan's
end. Shows the note when there is no forecast (the forecast package missing: "forecast
unavailable")."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from runwatch.tui.forecasting import WAITING, ForecastOutcome
from runwatch.tui.status import eta_timestamp, format_when

MAX_EVENTS = 3
EVENT_WORDS = {"lr_restart": "LR restart", "lr_jump": "LR jump", "lr_drop": "LR drop"}


def _interval(data: dict) -> str:
    """Epochs where the 80% band first reaches the target: optimistic .. pessimistic."""
    target = data.get("target")
    preds = data.get("predictions") or []
    first_hi = next((p["epoch"] for p in preds if (p.get("hi80") or 0) >= target), None)
    first_lo = next((p["epoch"] for p in preds if (p.get("lo80") or 0) >= target), None)
    if first_hi is None:
        return ""
    return f"80% band: ep {first_hi}..{first_lo if first_lo is not None else 'beyond plan'}"


def event_text(event: dict) -> str:
    kind = event.get("kind", "?")
    text = f"ep {event.get('epoch')}: {EVENT_WORDS.get(kind, kind)}"
    if kind == "lr_restart":
        ratio = event.get("ratio")
        drop = event.get("predicted_drop")
        if ratio is not None:
            text += f" LR x{ratio:.0f}"
        if drop is not None:
            text += f", drop ~{drop:.1f} pts"
    return text


def forecast_lines(outcome: ForecastOutcome) -> list[str]:
    data = outcome.data
    if data is None:
        return [outcome.note or WAITING]
    target = data.get("target")
    eta_epoch = data.get("eta_epoch")
    if eta_epoch is None:
        reach = f"{target:g}%: not within the plan"
    elif eta_epoch <= data.get("last_epoch", 0):
        reach = f"{target:g}%: reached at ep {eta_epoch}"
    else:
        when = eta_timestamp(data)
        date = "" if when is None else f" ({format_when(when)})"
        reach = f"{target:g}% at ep {eta_epoch}{date}"
    prob = data.get("probability_reach")
    # The band on its own line: after the date it overran the 54-column panel at 120x40.
    band = _interval(data) if eta_epoch is not None and eta_epoch > data.get("last_epoch", 0) \
        else ""
    lines = [reach, band,
             f"P(reach within budget) {prob * 100:.0f}%" if prob is not None else ""]
    # Events ahead before the models: a short panel cuts its last lines, and an LR restart
    # ahead matters more than the fourth model's verdict.
    ahead = [e for e in data.get("events") or [] if (e.get("epoch") or 0) > data.get(
        "last_epoch", 0)]
    lines += ["next: " + event_text(event) for event in ahead[:MAX_EVENTS]]
    lines.append(models_line(data))
    return [line for line in lines if line]


def models_line(data: dict) -> str:
    """How far the models that make the forecast at the plan's end agree (LR-blind ones drop
    out where the plan moves the LR): their range, and how many reach the target."""
    finals = [m["final_acc1"] for m in data.get("models") or []
              if (m.get("end_weight") or 0) > 0 and m.get("final_acc1") is not None]
    preds = data.get("predictions") or []
    if not finals or not preds:
        return ""
    target = data.get("target")
    reach = sum(1 for f in finals if target is not None and f >= target)
    spread = (f"{finals[0]:.1f}%" if len(finals) == 1
              else f"{min(finals):.1f}-{max(finals):.1f}%")
    return (f"ep {preds[-1]['epoch']}: {len(finals)} models say {spread}; "
            f"{reach} of {len(finals)} reach {target:g}%")


class ForecastPanel(Widget):
    outcome: reactive[ForecastOutcome] = reactive(ForecastOutcome(None, WAITING), layout=True)

    def watch_outcome(self, outcome: ForecastOutcome) -> None:
        self.set_class(outcome.data is None, "-unavailable")

    def render(self) -> Text:
        return Text("\n".join(forecast_lines(self.outcome)))
