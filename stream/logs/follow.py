"""How logs are followed: append-only line logs from the last offset (`LineLog`), and logs
rebuilt whole whose records are compared with those returned before (`Snapshot`).

Foreign logs start with a synthetic `run_start` (`synthetic_run_start`): what was read, how,
and any plan the log states.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from runwatch.stream.reader import FollowState, StreamFollower, parse_line
from runwatch.stream.schema import record_problem


def synthetic_run_start(kind: str, path: Path, note: str, info: dict) -> dict:
    """The `run_start` a foreign log lacks: what was read, how, and any plan it states."""
    return {"type": "run_start", "time": None, "synthetic": True,
            "run_id": info.get("run_id", path.parent.name),
            "source": {"kind": kind, "path": str(path), "note": note},
            "config": info.get("config", {}), "epochs": info.get("epochs"),
            "lr_schedule": info.get("lr_schedule"), "target_acc1": None}


class LineLog:
    """An append-only log, one record a line, read from the last offset by a StreamFollower.

    `parse` turns a line into a record (stream/reader.py's contract); a parser may carry a
    `note` and a `run_info()` (config, epochs, lr_schedule) for the synthetic run_start that
    leads a foreign log's records. Our own stream (`synthetic=False`) has its run_start; its
    `metric` override copies that field into `test_acc1`.
    """

    def __init__(self, path: Path, state: FollowState, kind: str,
                 parse: Callable[[str], dict | None] = parse_line, synthetic: bool = True,
                 metric: str | None = None) -> None:
        self.path, self.kind = path, kind
        self.follower = StreamFollower(path, state=state, parse=parse)
        self.synthetic, self.metric = synthetic, metric
        self.started = False

    @property
    def note(self) -> str:
        return getattr(self.follower.parse, "note", "")

    def poll(self) -> tuple[list[dict], bool]:
        records, reset = self.follower.poll()
        if reset:
            self.started = False
        if self.synthetic and records and not self.started:
            info = getattr(self.follower.parse, "run_info", dict)()
            records.insert(0, synthetic_run_start(self.kind, self.path, self.note, info))
            self.started = True
        if self.metric not in (None, "test_acc1") and not self.synthetic:
            records = [_with_metric(r, self.metric) for r in records]
        return records, reset

    def caught_up(self) -> bool:
        return self.follower.caught_up()


def _with_metric(record: dict, metric: str) -> dict:
    if record.get("type") != "epoch":
        return record
    return {**record, "test_acc1": record.get(metric)}


class Snapshot:
    """Records of a log rebuilt whole at each change, returned as what is new since the last
    call, or all of them with reset=True when earlier ones changed; a synthetic run_start
    leads the first non-empty batch after a (re)start."""

    def __init__(self, state: FollowState) -> None:
        self.state = state
        self.emitted: list[dict] = []
        self.invalid = 0  # records of the last update readers cannot use (left out)

    def update(self, records: list[dict], kind: str, path: Path, note: str,
               info: dict | None = None) -> tuple[list[dict], bool]:
        records = self._usable(records)
        n = len(self.emitted)
        # List equality checks identity first: unchanged step records cost next to nothing.
        same = len(records) >= n and (records[:n] == self.emitted or all(
            map(_same_record, records[:n], self.emitted)))
        self.emitted = records
        self.state.records = len(records)
        new = records[n:] if same else records
        if not same:
            self.state.resets += 1
        if new and (n == 0 or not same):
            new = [synthetic_run_start(kind, path, note, info or {}), *new]
        return new, not same


    def _usable(self, records: list[dict]) -> list[dict]:
        usable = []
        self.invalid = 0
        for record in records:
            problem = record_problem(record)
            if problem is None:
                usable.append(record)
            else:
                self.invalid += 1
                self.state.last_bad, self.state.last_reason = str(record)[:80], problem
        return usable


def _same_record(a: dict, b: dict) -> bool:
    # nan != nan: records that differ only there compare equal as JSON text.
    return a == b or json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
