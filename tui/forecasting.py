"""The monitor's one door to the forecast package (no textual here).

The forecast package may be absent in a partial install or an older checkout: that is the only
failure caught here (ImportError), and it becomes a note the panel shows ("forecast
unavailable") instead of a crash. Errors the user can cause (too little history) are
RunwatchErrors and become the note too.
"""

from __future__ import annotations

from dataclasses import dataclass

from runwatch.errors import RunwatchError

UNAVAILABLE = "forecast unavailable"
WAITING = "forecast: waiting for the first epoch"


@dataclass(frozen=True)
class ForecastOutcome:
    data: dict | None  # ForecastResult.to_dict(), or None
    note: str = ""


def run_forecast(epoch_records: list[dict], plan: list[float] | None, target: float,
                 patience: int | None = None,
                 scenarios: tuple[tuple[str, int, tuple[float, ...]], ...] = (),
                 now: float | None = None) -> ForecastOutcome:
    """Forecast the live branch (its epoch records, in order) towards `target`.

    `now` (the monitor's clock) dates the ETA when it is later than the last epoch: a run
    rewound, stopped or opened hours after its last epoch cannot reach anything before now.
    """
    try:
        from runwatch.forecast import ForecastOptions, forecast_run, history_from_records
    except ImportError:
        return ForecastOutcome(None, UNAVAILABLE)
    if not epoch_records:
        return ForecastOutcome(None, WAITING)
    try:
        history = history_from_records(epoch_records)
        times = [r["time"] for r in epoch_records if isinstance(r.get("time"), (int, float))]
        if now is not None and times and now < max(times):
            now = None  # the records are newer than the clock: date from them
        options = ForecastOptions(patience=patience, scenarios=scenarios, now=now)
        result = forecast_run(history, plan, target, options)
    except RunwatchError as exc:
        return ForecastOutcome(None, f"forecast: {exc}")
    return ForecastOutcome(result.to_dict(), "")
