"""Learning-curve forecasts: history + planned LRs -> predictions, events, scenarios.

`forecast_run(history, plan, target, options)` is the entry point (pure, deterministic);
`forecast_scenarios(history, plan, checkpoint_epoch, candidates)` compares candidate
schedules; `history_from_records(records)` turns stream-like epoch records into the
history DataFrame.
"""

from forecast.engine import forecast_run, forecast_scenarios
from forecast.records import history_from_records
from forecast.result import ForecastOptions, ForecastResult

__all__ = ["ForecastOptions", "ForecastResult", "forecast_run", "forecast_scenarios",
           "history_from_records"]
