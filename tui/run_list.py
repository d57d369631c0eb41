"""The run list's rows: each run's summary with its forecast and alerts, sorted (no textual here).

A run's outlook (the forecast of its final accuracy with the 80% band, its active alerts) needs
its whole history, so the app computes it in a worker, one run at a time, and keeps it here by
the summary it was made from (`Outlooks`): a run whose log has not changed is never forecast
again, a live one at most every `REFORECAST_S`. The outlook reuses the monitor's own pieces: the
RunModel the records fold into, `run_forecast`, and `compute_alerts` (critical and warning ones).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.text import Text

from runwatch.stream import FollowState
from runwatch.stream.runs import RunSummary
from runwatch.terminal import printable
from runwatch.tui.alerts import RESTART_AHEAD, Alert, AlertContext, compute_alerts
from runwatch.tui.forecasting import run_forecast
from runwatch.tui.run_model import RunModel

REFORECAST_S = 30.0
ACTIVE_LEVELS = ("critical", "warning")
STATUS_ORDER = ("running", "stalled", "failed", "stopped", "finished", "unreadable")
# Sort columns, as `s` cycles them: (key, words in the header, larger first).
SORTS = (("name", "name", False), ("status", "status", False), ("epoch", "epoch", True),
         ("best", "best", True), ("forecast", "forecast", True), ("alerts", "alerts", True))
COLUMNS = ("name", "status", "epoch", "best", "forecast [80%]", "alerts", "format")


@dataclass(frozen=True)
class Outlook:
    """A run's forecast of its final accuracy (with the 80% band) and its active alerts."""

    final: float | None = None
    lo80: float | None = None
    hi80: float | None = None
    final_epoch: int | None = None
    predictions: tuple[tuple[int, float], ...] = ()  # (epoch, median): the compare view's
    alerts: tuple[Alert, ...] = ()
    note: str = ""  # why there is no forecast


def outlook_of(records: list[dict], status: str, target: float) -> Outlook:
    """The outlook of a run from its records (steps left out), as the monitor would see it."""
    model = RunModel()
    model.apply(records, None)
    target = model.target_acc1 or target
    history = [p.record for p in model.epochs()]
    outcome = run_forecast(history, list(model.plan) if model.plan else None, target,
                           patience=model.patience())
    alerts = compute_alerts(model, FollowState(), status, f"{status}", outcome.data,
                            AlertContext(target=target))
    active = tuple(a for a in alerts if a.level in ACTIVE_LEVELS)
    predictions = [p for p in (outcome.data or {}).get("predictions") or []
                   if isinstance(p.get("acc1"), (int, float))]
    if not predictions:
        return Outlook(alerts=active, note=outcome.note or "no forecast")
    last = predictions[-1]
    return Outlook(last["acc1"], last.get("lo80"), last.get("hi80"), last["epoch"],
                   tuple((p["epoch"], p["acc1"]) for p in predictions), active)


@dataclass
class Outlooks:
    """The outlooks made so far, each with the summary it was made from (UI thread only)."""

    made: dict[Path, tuple[RunSummary, Outlook, float]] = field(default_factory=dict)

    def get(self, summary: RunSummary) -> Outlook | None:
        known = self.made.get(summary.path)
        return known[1] if known is not None else None

    def due(self, summaries: list[RunSummary], now: float | None = None) -> list[RunSummary]:
        """The runs to forecast, in the order given: never forecast, or changed since (a
        live run: at most every REFORECAST_S)."""
        now = time.monotonic() if now is None else now
        out = []
        for summary in summaries:
            if summary.status == "unreadable":
                continue
            known = self.made.get(summary.path)
            if known is None or (_changed(known[0], summary)
                                 and now - known[2] >= REFORECAST_S):
                out.append(summary)
        return out

    def keep(self, summary: RunSummary, outlook: Outlook, now: float | None = None) -> None:
        self.made[summary.path] = (summary, outlook,
                                   time.monotonic() if now is None else now)


def _changed(old: RunSummary, new: RunSummary) -> bool:
    return (old.updated, old.epoch, old.status) != (new.updated, new.epoch, new.status)


@dataclass(frozen=True)
class RunRow:
    summary: RunSummary
    outlook: Outlook | None  # None: not forecast yet

    @property
    def key(self) -> Path:
        """What a row is known by across re-scans: the entry listed."""
        return self.summary.entry or self.summary.path

    @property
    def alerts(self) -> tuple[Alert, ...]:
        """The outlook's active alerts still ahead: a live run outruns its last forecast (made
        at most every REFORECAST_S), and a restart it has passed is no longer ahead."""
        if self.outlook is None:
            return ()
        now = self.summary.epoch or 0
        return tuple(a for a in self.outlook.alerts
                     if not (a.kind == RESTART_AHEAD and a.epoch is not None and a.epoch <= now))


def sort_rows(rows: list[RunRow], by: str) -> list[RunRow]:
    """Rows sorted by a column of SORTS; runs without the value last, then by name."""
    larger_first = next(desc for key, _, desc in SORTS if key == by)

    def value(row: RunRow) -> tuple:
        s, o = row.summary, row.outlook
        v = {"name": None, "status": STATUS_ORDER.index(s.status)
             if s.status in STATUS_ORDER else len(STATUS_ORDER),
             "epoch": s.epoch, "best": s.best_acc1,
             "forecast": o.final if o is not None and _ahead(s) else None,
             "alerts": _alert_rank(row.alerts)}[by]
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return (1, 0, s.name)
        return (0, -v if larger_first else v, s.name)

    return sorted(rows, key=value)


def _alert_rank(alerts: tuple[Alert, ...]) -> float | None:
    if not alerts:
        return None
    return sum(a.level == "critical" for a in alerts) * 100 + len(alerts)


def row_cells(row: RunRow, marked: bool) -> tuple[Text, ...]:
    """The cells of a row in COLUMNS order, as Text (never markup: names come from files);
    an unreadable run's reason stands in its alerts."""
    s, o = row.summary, row.outlook
    name = ("* " if marked else "  ") + printable(s.name)
    epochs = ("-" if s.epoch is None else str(s.epoch)) + (f"/{s.epochs}" if s.epochs else "")
    best = "-" if s.best_acc1 is None else f"{s.best_acc1:.2f}"
    alerts = (Text(f"!! {printable(s.note)}", style="red") if s.status == "unreadable"
              else alert_words(row.alerts))
    return (Text(name), Text(s.status, style=_STATUS_STYLE.get(s.status, "")),
            Text(epochs, justify="right"), Text(best, justify="right"),
            Text(forecast_words(o) if _ahead(s) else "-"), alerts,
            Text(printable(s.kind)))


def _ahead(summary: RunSummary) -> bool:
    """Whether the run has epochs ahead to forecast: not when it finished (a stopped or failed
    run is resumed) or cannot be read."""
    return summary.status not in ("finished", "unreadable")


_STATUS_STYLE = {"running": "green", "stalled": "yellow", "failed": "red",
                 "unreadable": "red", "stopped": "yellow"}


def forecast_words(outlook: Outlook | None) -> str:
    """'74.1 [72.0,76.3]' (at the planned last epoch), '...' while it is computed, or '-';
    no space in the band, so '100.0 [99.9,100.0]' fits the run list's column."""
    if outlook is None:
        return "..."
    if outlook.final is None:
        return "-"
    band = ""
    if outlook.lo80 is not None and outlook.hi80 is not None:
        band = f" [{outlook.lo80:.1f},{outlook.hi80:.1f}]"
    return f"{outlook.final:.1f}{band}"


def alert_words(alerts: tuple[Alert, ...]) -> Text:
    """The most urgent active alert by its marker and kind, and how many more ('!! LR RESTART
    AHEAD +1'); readable without colour."""
    if not alerts:
        return Text("")
    first = alerts[0]
    more = f" +{len(alerts) - 1}" if len(alerts) > 1 else ""
    style = "bold red" if first.level == "critical" else "yellow"
    return Text(f"{first.marker} {printable(first.kind)}{more}", style=style)
