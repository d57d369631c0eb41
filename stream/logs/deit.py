"""DeiT-style `log.txt` (DeiT, RepViT, CF-ViT): JSON lines, `epoch` from 0, `train_lr`,
`test_acc1` in percent (never rescaled). CF-ViT logs one accuracy per stage (`test_96_acc1` ...
`test_384_acc1`): the last, highest-resolution stage is the accuracy."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from runwatch.stream.logs.base import Head, LogFormat, ReadOptions
from runwatch.stream.logs.fields import epoch_record, missing_metric, to_float
from runwatch.stream.logs.follow import LineLog
from runwatch.stream.logs.ours import decisive_json_line
from runwatch.stream.reader import FollowState

KIND = "DeiT log.txt"
_STAGE_ACC1 = re.compile(r"^test_(\d+)_acc1$")


def deit_accuracy_key(keys: list[str]) -> tuple[str | None, str]:
    """The top-1 key of a DeiT-style record and a note saying why."""
    found = sorted((int(m.group(1)), k) for k in keys if (m := _STAGE_ACC1.match(k)))
    stages = [k for _, k in found]
    if "test_acc1" in keys:
        key, why = "test_acc1", ""
    elif stages:
        key, why = stages[-1], f", the last, highest-resolution stage of {', '.join(stages)}"
    else:
        return None, "no test_acc1 key"
    # With several accuracy columns, say how to follow another: the choice is ours, not the log's.
    others = [k for k in stages if k != key]
    pick = f" (--metric {others[0]} follows another)" if others else ""
    return key, f"accuracy: {key}{why}{pick}"


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
        self.note += "; epoch = DeiT's 0-based epoch + 1"


def sniff(head: Head) -> bool | None:
    if not head.text:
        return None
    obj = decisive_json_line(head)
    return obj is not None and not isinstance(obj.get("type"), str)


def open_log(path: Path, options: ReadOptions, state: FollowState) -> LineLog:
    return LineLog(path, state, KIND, DeitLines(metric=options.metric))


FORMAT = LogFormat("deit", KIND, "a DeiT/RepViT/CF-ViT log.txt", ("log.txt",), sniff, open_log)
