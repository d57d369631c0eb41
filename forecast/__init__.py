"""Learning-curve forecasts: history + planned LRs -> predictions, events, scenarios.

`forecast_run(history, plan, target, options)` is the entry point (pure, deterministic);
`history_from_records(records)` turns stream-like epoch records into its history DataFrame.
"""

from forecast.engine import forecast_run
from forecast.records import history_from_records
from forecast.result import ForecastOptions, ForecastResult

__all__ = ["ForecastOptions", "ForecastResult", "forecast_run", "history_from_records"]
