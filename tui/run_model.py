"""What the monitor knows about a run, accumulated record by record (no textual here).

`RunModel.apply(records)` folds new stream records in and returns a `Change` that says what
the screen must redraw: rows to append, or the whole table when a resume/rewind abandoned a
branch or a reset started over. Step records are folded into a fixed-size `BucketSeries`
(the step-loss sparkline), so a million of them cost no memory. Epochs on the live branch and
the abandoned ones are kept apart, as `trainer.stream.split_branches` defines them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from runwatch.stream import branch_point
from runwatch.tui.downsample import BucketSeries


def _num(value: object) -> float:
    """A stream value as a float; absent or non-numeric values are NaN (shown as '-')."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return math.nan
    return float(value)


@dataclass(frozen=True)
class EpochPoint:
    """One epoch record, parsed."""

    epoch: int
    test_acc1: float
    train_acc1: float
    test_loss: float
    train_loss: float
    lr: float
    time: float
    epoch_time_s: float
    images_per_s: float
    epochs_since_best: float
    record: dict = field(compare=False, repr=False)

    @classmethod
    def from_record(cls, record: dict) -> EpochPoint:
        return cls(
            epoch=int(record["epoch"]),
            test_acc1=_num(record.get("test_acc1")),
            train_acc1=_num(record.get("train_acc1")),
            test_loss=_num(record.get("test_loss")),
            train_loss=_num(record.get("train_loss")),
            lr=_num(record.get("lr")),
            time=_num(record.get("time")),
            epoch_time_s=_num(record.get("epoch_time_s")),
            images_per_s=_num(record.get("images_per_s")),
            epochs_since_best=_num(record.get("epochs_since_best")),
            record=record,
        )

    def nonfinite(self) -> bool:
        """True when a value the trainer did write is NaN or infinite (divergence)."""
        keys = ("test_acc1", "test_loss", "train_loss", "train_acc1")
        return any(
            isinstance(self.record.get(k), float) and not math.isfinite(self.record[k])
            for k in keys
        )


@dataclass(frozen=True)
class CheckpointMark:
    epoch: int
    path: str
    is_best: bool


@dataclass
class Change:
    """What one `apply` changed, for the widgets."""

    new_epochs: list[int] = field(default_factory=list)
    rebuild: bool = False
    plan: bool = False
    checkpoints: bool = False
    steps: bool = False
    ended: bool = False

    @property
    def any(self) -> bool:
        return bool(self.new_epochs or self.rebuild or self.plan or self.checkpoints
                    or self.steps or self.ended)


@dataclass
class RunModel:
    """Everything the panels show, built only from records (and the follower's counts)."""

    run_id: str = ""
    planned_epochs: int | None = None
    target_acc1: float | None = None
    start_time: float | None = None
    plan: list[float] | None = None
    schedule: dict | None = None
    config: dict = field(default_factory=dict)
    live: dict[int, EpochPoint] = field(default_factory=dict)
    abandoned: list[EpochPoint] = field(default_factory=list)
    checkpoints: dict[str, CheckpointMark] = field(default_factory=dict)
    events: list[dict] = field(default_factory=list)
    end: dict | None = None
    rewound_to: int | None = None  # a rewind with no training since: the epoch to resume after
    marks_end: bool = True  # the source writes run_end (ours); a foreign log never says it ended
    step_loss: BucketSeries = field(default_factory=BucketSeries)
    last_time: float | None = None
    images_per_s: float = math.nan
    records_seen: int = 0

    def reset(self) -> None:
        """Forget everything: the file was truncated or replaced."""
        fresh = RunModel()
        self.__dict__.update(fresh.__dict__)

    def apply(self, records: list[dict]) -> Change:
        change = Change()
        for record in records:
            kind = record.get("type")
            if kind == "step":
                self._apply_step(record)
                change.steps = True
                continue
            if kind == "steps":
                self._apply_folded_steps(record)
                change.steps = True
                continue
            t = record.get("time")
            if isinstance(t, (int, float)) and math.isfinite(t):
                self.last_time = float(t)
                if self.start_time is None:
                    self.start_time = float(t)
            if kind == "epoch":
                self._apply_epoch(record, change)
            elif kind in ("run_start", "resume"):
                self._apply_start(record, change)
            elif kind == "checkpoint":
                self._apply_checkpoint(record)
                change.checkpoints = True
            elif kind == "event":
                self.events.append(record)
                if branch_point(record) is not None:
                    self._abandon_after(branch_point(record), change)
                    self.rewound_to = branch_point(record)
            elif kind == "run_end":
                self.end = record
                change.ended = True
        self.records_seen += len(records)
        return change

    def _apply_step(self, record: dict) -> None:
        loss = record.get("loss")
        if isinstance(loss, (int, float)):
            self.step_loss.add(float(loss))
        ips = record.get("images_per_s")
        if isinstance(ips, (int, float)):
            self.images_per_s = float(ips)
        t = record.get("time")
        if isinstance(t, (int, float)):
            self.last_time = float(t)

    def _apply_folded_steps(self, record: dict) -> None:
        """Step records folded by tui.feed.StepFolder: their losses, the last time and speed."""
        self.step_loss.extend(record["loss"])
        t = record["time"]
        # Folded steps come after the batch's other records: newer only if their time says so.
        if isinstance(t, float) and (self.last_time is None or t > self.last_time):
            self.last_time = t
            if isinstance(record["images_per_s"], float):
                self.images_per_s = record["images_per_s"]

    def _apply_epoch(self, record: dict, change: Change) -> None:
        if not isinstance(record.get("epoch"), int):
            return
        point = EpochPoint.from_record(record)
        self.rewound_to = None
        previous = self.live.get(point.epoch)
        if previous is not None:
            # The same epoch again (as split_branches): the older record is abandoned.
            self.abandoned.append(previous)
            change.rebuild = True
            change.new_epochs = []
        self.live[point.epoch] = point
        if not change.rebuild:
            change.new_epochs.append(point.epoch)
        if math.isfinite(point.images_per_s):
            self.images_per_s = point.images_per_s

    def _apply_start(self, record: dict, change: Change) -> None:
        self.rewound_to = None
        self.marks_end = not record.get("synthetic")
        self.run_id = str(record.get("run_id") or self.run_id)
        if isinstance(record.get("epochs"), int):
            self.planned_epochs = record["epochs"]
        if isinstance(record.get("target_acc1"), (int, float)):
            self.target_acc1 = float(record["target_acc1"])
        if record.get("lr_schedule"):
            self.plan = [float(x) for x in record["lr_schedule"]]
            self.planned_epochs = self.planned_epochs or len(self.plan)
            change.plan = True
        if isinstance(record.get("schedule"), dict):
            self.schedule = record["schedule"]
        if isinstance(record.get("config"), dict):
            self.config = record["config"]
        if record.get("type") == "resume":
            self.end = None
            self._abandon_after(int(record.get("after_epoch", 0)), change)

    def _apply_checkpoint(self, record: dict) -> None:
        path = str(record.get("path", ""))
        epoch = record.get("epoch")
        if not path or not isinstance(epoch, int):
            return
        self.checkpoints[path] = CheckpointMark(epoch, path, bool(record.get("is_best")))
        # The same save also wrote last.pt (and best.pt): copies of this epoch, in `files`.
        folder = Path(path).parent
        for name in record.get("files") or ():
            sibling = str(folder / str(name))
            if sibling != path:
                self.checkpoints[sibling] = CheckpointMark(epoch, sibling,
                                                           bool(record.get("is_best")))

    def _abandon_after(self, point: int, change: Change) -> None:
        dropped = [e for e in self.live if e > point]
        if not dropped:
            return
        for epoch in sorted(dropped):
            self.abandoned.append(self.live.pop(epoch))
        change.rebuild = True
        change.new_epochs = []

    # Views the panels read -------------------------------------------------------------

    def epochs(self) -> list[EpochPoint]:
        """The live branch, in epoch order."""
        return [self.live[e] for e in sorted(self.live)]

    def latest(self) -> EpochPoint | None:
        return self.live[max(self.live)] if self.live else None

    def best(self) -> EpochPoint | None:
        finite = [p for p in self.live.values() if math.isfinite(p.test_acc1)]
        return max(finite, key=lambda p: (p.test_acc1, -p.epoch)) if finite else None

    def previous(self, epoch: int) -> EpochPoint | None:
        """The live epoch just before `epoch`."""
        earlier = [e for e in self.live if e < epoch]
        return self.live[max(earlier)] if earlier else None

    def patience(self) -> int | None:
        """The early-stopping patience from the run's config (any `*patience*` key, top level
        or one section down), when it has one."""
        sections = [self.config] + [v for v in self.config.values() if isinstance(v, dict)]
        for section in sections:
            for key, value in section.items():
                if "patience" in key and isinstance(value, int) and not isinstance(value, bool):
                    return value
        return None

    def planned_lr(self, epoch: int) -> float | None:
        if self.plan and 1 <= epoch <= len(self.plan):
            return self.plan[epoch - 1]
        return None
