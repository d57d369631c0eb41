"""Learning-curve forecasts: history + planned LRs -> predictions, events, scenarios.

`forecast_run(history, plan, target, options)` is the entry point (pure, deterministic);
`forecast_scenarios(history, plan, checkpoint_epoch, candidates)` compares candidate
schedules; `history_from_records(records)` turns stream-like epoch records into the
history, an `EpochLog` of numpy arrays. numpy is the only dependency.

The names load on first use (PEP 562), so `runwatch --help`, which imports forecast.cli,
does not pay for numpy.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "EpochLog": "runwatch.forecast.inputs",
    "ForecastOptions": "runwatch.forecast.result",
    "ForecastResult": "runwatch.forecast.result",
    "forecast_run": "runwatch.forecast.engine",
    "forecast_scenarios": "runwatch.forecast.engine",
    "history_from_records": "runwatch.forecast.inputs",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> object:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'forecast' has no attribute {name!r}")
