"""When the target is reached (epoch, date, interval), the chance within the planned budget,
each model's verdict, and the schedule events ahead. Shows the note when there is no forecast
(the forecast package missing: "forecast unavailable")."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from runwatch.tui.forecasting import WAITING, ForecastOutcome
from runwatch.tui.status import eta_timestamp, format_when

MAX_MODELS = 4
MAX_EVENTS = 3


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
    text = f"ep {event.get('epoch')}: {kind}"
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
    # The models that make the forecast at the plan's end (LR-blind ones drop out where the
    # plan moves the LR), not those that fitted the past best.
    counted = [m for m in data.get("models") or [] if (m.get("end_weight") or 0) > 0]
    for model in sorted(counted, key=lambda m: -m["end_weight"])[:MAX_MODELS]:
        final = model.get("final_acc1")
        verdict = "-" if final is None else (
            f"{final:.1f}% {'reaches' if final >= target else 'misses'}")
        lines.append(f"  {model.get('name')}: {verdict} (w {model['end_weight']:.2f})")
    return [line for line in lines if line]


class ForecastPanel(Static):
    outcome: reactive[ForecastOutcome] = reactive(ForecastOutcome(None, WAITING))

    def watch_outcome(self, outcome: ForecastOutcome) -> None:
        self.set_class(outcome.data is None, "-unavailable")
        self.update(Text("\n".join(forecast_lines(outcome))))
