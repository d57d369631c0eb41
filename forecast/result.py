"""What a forecast returns: plain dataclasses, and `to_dict()` for the JSON of `--json`.

The JSON shape (issue 4): `target`, `probability_reach`, `eta_epoch`, `eta_time`,
`predictions` (epoch, acc1, lo80, hi80, lo95, hi95), `events` (kind, epoch and the kind's
numbers), `models` (each model's own prediction and validation error), `scenarios`, `notes`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from runwatch.forecast.combine import BANDS, BandModel
from runwatch.forecast.lr_law import B_PRIOR, BPrior
from runwatch.forecast.prior import GAIN_PRIOR, GainPrior
from runwatch.forecast.reliability import RELIABILITY, Reliability


@dataclass(frozen=True)
class ForecastOptions:
    """Knobs of a forecast; every field has a default that suits a live run.

    - total_epochs: the planned length when no plan is given (default: last epoch + 25%).
    - patience: early-stopping patience in epochs (None or 0: no early stopping).
    - now: Unix time of the last epoch, for `eta_time` (default: the history's last `time`).
    - epoch_time_s: seconds per epoch (default: the history's mean `epoch_time_s`, or the
      spacing of its `time` column).
    - scenarios: named candidate plans [(name, checkpoint_epoch, LRs of the epochs after it)].
    - b_prior: the LR law's prior on its annealing term (the backtest swaps in one learned
      without the curve it scores).
    - reliability: each model's weight multiplier by horizon (the backtest swaps in one
      learned without the curve it scores).
    - bands: how wide the bands are (the backtest swaps in one learned without the curve).
    - optimizer: the run's optimizer name (its family picks the prior's gains).
    - gain_prior: the prior's gains per optimizer family (forecast.prior; the backtest swaps in
      gains learned without the curve it scores).
    """

    total_epochs: int | None = None
    patience: int | None = None
    now: float | None = None
    epoch_time_s: float | None = None
    scenarios: tuple[tuple[str, int, tuple[float, ...]], ...] = ()
    b_prior: BPrior = B_PRIOR
    reliability: Reliability = RELIABILITY
    bands: BandModel = BANDS
    optimizer: str | None = None
    gain_prior: GainPrior = GAIN_PRIOR


@dataclass(frozen=True)
class Prediction:
    epoch: int
    acc1: float
    lo80: float
    hi80: float
    lo95: float
    hi95: float


@dataclass(frozen=True)
class Event:
    """Something behind or ahead. `kind` says which; `fields` holds the kind's numbers."""

    kind: str
    epoch: int
    fields: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "epoch": self.epoch, **self.fields}


@dataclass(frozen=True)
class ModelReport:
    """One model's own forecast and how well it predicted the held-out recent epochs."""

    name: str
    group: str  # "baseline", "curve" (Domhan family), "schedule" (LR-aware law) or "prior"
    final_acc1: float | None
    holdout_rmse: float | None
    weight: float
    predictions: tuple[float, ...] = ()
    end_weight: float = 0.0  # its share of the forecast at the plan's last epoch


@dataclass(frozen=True)
class Scenario:
    """A candidate schedule from a checkpoint and what the schedule-aware models expect."""

    name: str
    checkpoint_epoch: int
    final_epoch: int
    final_acc1: float
    lo80: float
    hi80: float
    best_acc1: float
    best_epoch: int
    curve: tuple[tuple[int, float, float], ...]  # (epoch, lr, predicted acc1)


@dataclass(frozen=True)
class ForecastResult:
    target: float
    last_epoch: int
    last_acc1: float
    best_acc1: float
    best_epoch: int
    probability_reach: float
    eta_epoch: int | None
    eta_time: str | None
    predictions: tuple[Prediction, ...]
    events: tuple[Event, ...]
    models: tuple[ModelReport, ...]
    scenarios: tuple[Scenario, ...]
    notes: tuple[str, ...]
    prior_share: float = 0.0  # the prior model's share of the forecast of the last epoch
    # The band scale's terms at each prediction (combine.BAND_TERMS), for learning the band
    # model from finished runs; not part of the JSON.
    band_terms: tuple[tuple[float, ...], ...] = field(default=(), repr=False)

    def to_dict(self) -> dict:
        return _clean({
            "target": self.target,
            "last_epoch": self.last_epoch,
            "last_acc1": self.last_acc1,
            "best_acc1": self.best_acc1,
            "best_epoch": self.best_epoch,
            "probability_reach": self.probability_reach,
            "eta_epoch": self.eta_epoch,
            "eta_time": self.eta_time,
            "predictions": [asdict(p) for p in self.predictions],
            "events": [e.to_dict() for e in self.events],
            "models": [
                {"name": m.name, "group": m.group, "final_acc1": m.final_acc1,
                 "holdout_rmse": m.holdout_rmse, "weight": m.weight,
                 "end_weight": m.end_weight, "predictions": list(m.predictions)}
                for m in self.models
            ],
            "scenarios": [
                {**{k: v for k, v in asdict(s).items() if k != "curve"},
                 "curve": [{"epoch": e, "lr": lr, "acc1": a} for e, lr, a in s.curve]}
                for s in self.scenarios
            ],
            "prior_share": self.prior_share,
            "notes": list(self.notes),
        })


def _clean(value: object) -> object:
    """Round floats for JSON and turn non-finite ones into None (JSON has no NaN)."""
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value
