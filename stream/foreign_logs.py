"""Other trainers' line-per-epoch logs turned into metric-stream records (torch-free).

Pure parsing: one line in, one record out (or None for a line to skip; ValueError for a bad
one). `stream/sources.py` detects the format and follows the file; stream/csv_logs.py reads
CSVs that are rewritten whole (Lightning, any epoch+accuracy CSV).

Every epoch record made here has our field names (docs/metric-stream.md) and all of
`EPOCH_FIELDS`: a value the log does not record is None; a value the log records as
non-finite stays a float nan/inf (it means something: divergence). `epoch` counts epochs
completed (1-based), `time` is None (these logs carry no wall-clock time), accuracies are
percent.

- DeiT-style `log.txt` (DeiT, RepViT, CF-ViT): JSON lines, `epoch` from 0, `train_lr`,
  `test_acc1` (percent). CF-ViT logs one accuracy per stage (`test_96_acc1` ...
  `test_384_acc1`): the last, highest-resolution stage is the accuracy.
- Torch7 `json_stats` (wide-residual-networks): an options table, then `json_stats: {...}`
  lines, `epoch` from 1, `lr`, `test_acc` (percent), `loss` (train), `train_time`,
  `test_time`; the options give the step schedule (`learningRateDecayRatio` at `epoch_step`).
- timm `summary.csv` (`timm.utils.update_summary`): `epoch` from 0, `train_loss`,
  `eval_loss`, `eval_top1`, `eval_top5` (percent), `lr`; appended row by row.

DeiT, json_stats and timm accuracies are percent by construction: never rescaled.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass

from runwatch.errors import RunwatchError
from runwatch.schedule import ScheduleSpec, lr_plan

EPOCH_FIELDS = ("test_acc1", "test_acc5", "test_loss", "train_loss", "train_acc1", "lr",
                "epoch_time_s")


def epoch_record(epoch: int, values: dict) -> dict:
    """An epoch record with every field of EPOCH_FIELDS (None where unknown)."""
    return {"type": "epoch", "time": values.get("time"), "epoch": epoch,
            **{name: values.get(name) for name in EPOCH_FIELDS}}


def to_float(value: object) -> float | None:
    """A number from a log cell: None for empty/missing, nan for 'nan'; ValueError otherwise."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    return float(str(value).strip())


def available_keys(keys: object) -> str:
    return ", ".join(sorted(str(k) for k in keys)) or "none"


def missing_metric(metric: str, keys: object) -> RunwatchError:
    return RunwatchError(
        f"--metric {metric!r} is not in this log: use one of {available_keys(keys)}"
    )


# --- DeiT-style log.txt -------------------------------------------------------------------

_STAGE_ACC1 = re.compile(r"^test_(\d+)_acc1$")


def deit_accuracy_key(keys: list[str]) -> tuple[str | None, str]:
    """The top-1 key of a DeiT-style record and a note saying why."""
    if "test_acc1" in keys:
        return "test_acc1", "accuracy: test_acc1"
    stages = sorted((int(m.group(1)), k) for k in keys if (m := _STAGE_ACC1.match(k)))
    if not stages:
        return None, "no test_acc1 key"
    names = ", ".join(k for _, k in stages)
    key = stages[-1][1]
    return key, f"accuracy: {key} (last, highest-resolution stage of {names})"


@dataclass
class DeitLines:
    """Parses DeiT-style `log.txt` lines; the accuracy key is fixed by the first record."""

    metric: str | None = None
    acc1_key: str | None = None
    note: str = ""

    def __call__(self, line: str) -> dict | None:
        text = line.strip()
        if not text:
            return None
        raw = json.loads(text)
        if not isinstance(raw, dict) or not isinstance(raw.get("epoch"), (int, float)):
            raise ValueError("not a DeiT log record (no 'epoch')")
        if self.acc1_key is None:
            self._choose_key(raw)
        acc5_key = self.acc1_key.replace("acc1", "acc5") if self.acc1_key else None
        return epoch_record(int(raw["epoch"]) + 1, {
            "test_acc1": to_float(raw.get(self.acc1_key)),
            "test_acc5": to_float(raw.get(acc5_key)) if acc5_key != self.acc1_key else None,
            "test_loss": to_float(raw.get("test_loss")),
            "train_loss": to_float(raw.get("train_loss")),
            "train_acc1": to_float(raw.get("train_acc1")),
            "lr": to_float(raw.get("train_lr")),
        })

    def _choose_key(self, raw: dict) -> None:
        if self.metric is not None:
            if self.metric not in raw:
                raise missing_metric(self.metric, raw)
            self.acc1_key, self.note = self.metric, f"accuracy: {self.metric} (--metric)"
            return
        self.acc1_key, self.note = deit_accuracy_key(list(raw))
        self.note += "; epoch = DeiT's 0-based epoch + 1; --metric overrides"


# --- Torch7 json_stats -------------------------------------------------------------------

JSON_STATS_PREFIX = "json_stats:"
_JSON_STATS_PER_EPOCH = {"epoch", "lr", "learningRate", "test_acc", "train_acc", "loss",
                         "train_loss", "train_time", "test_time"}


@dataclass
class JsonStatsLines:
    """Parses a Torch7 log: `json_stats: {...}` lines are epochs, every other line is skipped."""

    metric: str | None = None
    first: dict | None = None

    def __call__(self, line: str) -> dict | None:
        text = line.strip()
        if not text.startswith(JSON_STATS_PREFIX):
            return None
        raw = json.loads(text[len(JSON_STATS_PREFIX):])
        if not isinstance(raw, dict) or not isinstance(raw.get("epoch"), (int, float)):
            raise ValueError("json_stats line without an 'epoch'")
        if self.first is None:
            if self.metric is not None and self.metric not in raw:
                raise missing_metric(self.metric, raw)
            self.first = raw
        times = [to_float(raw.get(k)) for k in ("train_time", "test_time")]
        return epoch_record(int(raw["epoch"]), {
            "test_acc1": to_float(raw.get(self.metric or "test_acc")),
            "train_loss": to_float(raw.get("train_loss", raw.get("loss"))),
            "train_acc1": to_float(raw.get("train_acc")),
            "lr": to_float(raw.get("lr")),
            "epoch_time_s": sum(times) if None not in times else None,
        })

    @property
    def note(self) -> str:
        return (f"accuracy: {self.metric or 'test_acc'}; train_loss: loss; "
                "epoch time: train_time + test_time; --metric overrides")

    def run_info(self) -> dict:
        """Planned epochs, the options and, when the options define it, the LR plan."""
        if self.first is None:
            return {}
        config = {k: v for k, v in self.first.items() if k not in _JSON_STATS_PER_EPOCH}
        return {"config": config, "epochs": config.get("max_epoch"),
                "lr_schedule": json_stats_plan(self.first)}


def json_stats_plan(first: dict) -> list[float] | None:
    """The step schedule of a wide-residual-networks run, from its first json_stats record.

    Its train.lua multiplies the LR by `learningRateDecayRatio` before epoch m for every m in
    `epoch_step` (the logged `lr` of epoch 60 is already decayed), so epoch m is the first at
    the new LR: ScheduleSpec milestone m - 1. The base LR is undone from the first epoch's LR.
    """
    try:
        steps = tuple(int(m) - 1 for m in first["epoch_step"])
        gamma, epochs = float(first["learningRateDecayRatio"]), int(first["max_epoch"])
        epoch, lr = int(first["epoch"]), float(first["lr"])
    except (KeyError, TypeError, ValueError):
        return None
    decays = sum(1 for m in steps if epoch > m)
    try:
        spec = ScheduleSpec("step", lr / gamma**decays, epochs, milestones=steps, gamma=gamma)
    except RunwatchError:
        return None
    return lr_plan(spec)


# --- timm summary.csv --------------------------------------------------------------------

TIMM_FIELDS = {"eval_top1": "test_acc1", "eval_top5": "test_acc5", "eval_loss": "test_loss",
               "train_loss": "train_loss", "lr": "lr"}


@dataclass
class TimmLines:
    """Parses timm `summary.csv` lines (epoch from 0); a line starting `epoch,` is the header."""

    metric: str | None = None
    header: list[str] | None = None

    def __call__(self, line: str) -> dict | None:
        if not line.strip():
            return None
        cells = next(csv.reader([line.rstrip("\r")]))
        if cells and cells[0].strip() == "epoch":
            self.header = [c.strip() for c in cells]
            if self.metric is not None and self.metric not in self.header:
                raise missing_metric(self.metric, self.header)
            return None
        if self.header is None or len(cells) != len(self.header):
            raise ValueError("summary.csv row does not match its header")
        row = dict(zip(self.header, cells, strict=True))
        values = {ours: to_float(row.get(theirs)) for theirs, ours in TIMM_FIELDS.items()}
        if self.metric is not None:
            values["test_acc1"] = to_float(row[self.metric])
        return epoch_record(int(float(row["epoch"])) + 1, values)

    @property
    def note(self) -> str:
        return (f"accuracy: {self.metric or 'eval_top1'}; test_loss: eval_loss; "
                "epoch = timm's 0-based epoch + 1; --metric overrides")
