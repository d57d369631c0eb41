"""Torch7 `json_stats` logs (wide-residual-networks): an options table, then `json_stats: {...}`
lines, `epoch` from 1, `lr`, `test_acc` (percent), `loss` (train), `train_time`, `test_time`;
the options give the step schedule (`learningRateDecayRatio` at `epoch_step`)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from runwatch.errors import RunwatchError
from runwatch.schedule import ScheduleSpec, lr_plan
from runwatch.stream.logs.base import Head, LogFormat, ReadOptions
from runwatch.stream.logs.fields import epoch_record, missing_metric, to_float
from runwatch.stream.logs.follow import LineLog
from runwatch.stream.reader import FollowState

KIND = "Torch7 json_stats log"
JSON_STATS_PREFIX = "json_stats:"
_PER_EPOCH = {"epoch", "lr", "learningRate", "test_acc", "train_acc", "loss", "train_loss",
              "train_time", "test_time"}
_TORCH7_OPTION = re.compile(r"^\s+\w+ : ")


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
        config = {k: v for k, v in self.first.items() if k not in _PER_EPOCH}
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
    except (KeyError, TypeError, ValueError, OverflowError):
        return None
    decays = sum(1 for m in steps if epoch > m)
    try:
        spec = ScheduleSpec("step", lr / gamma**decays, epochs, milestones=steps, gamma=gamma)
    except (RunwatchError, ZeroDivisionError, OverflowError):
        return None
    return lr_plan(spec)


def sniff(head: Head) -> bool | None:
    if any(line.startswith(JSON_STATS_PREFIX) for line in head.lines):
        return True
    if not head.text:
        return None
    # An options table: a lone "{" and then "  name : value" lines.
    return (head.text[0] == "{" and len(head.text) > 1
            and bool(_TORCH7_OPTION.match(head.lines[1])))


def open_log(path: Path, options: ReadOptions, state: FollowState) -> LineLog:
    return LineLog(path, state, KIND, JsonStatsLines(metric=options.metric))


FORMAT = LogFormat("json_stats", KIND, "a Torch7 json_stats log", ("log.txt",), sniff, open_log)
