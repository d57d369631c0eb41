"""What the monitor knows about a run, accumulated record by record (no textual here).

The app owns one RunModel and changes it only on the UI thread: the follower thread reads and
posts records, the app applies them. `RunModel.apply(records, steps)` folds new stream records
(and the steps the feed folded out of them) in and returns a `Change` that says what the screen
must redraw: rows to append, or the whole table when a resume/rewind abandoned a branch or a
reset started over. Epochs on the live branch and the abandoned ones are kept apart, as
`runwatch.stream.split_branches` defines them. A value of the wrong type in a record is read as
absent: one odd record must not take the monitor down.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from runwatch.stream import branch_point
from runwatch.tui.feed import StepBatch
from runwatch.tui.steps import StepSeries


def _num(value: object) -> float:
    """A stream value as a float; absent or non-numeric values are NaN (shown as '-')."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return math.nan
    return float(value)


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _lr_list(value: object) -> list[float] | None:
    """A planned LR per epoch: a list of positive finite numbers, else None."""
    if not isinstance(value, list) or not value:
        return None
    lrs = [_num(v) for v in value]
    return lrs if all(math.isfinite(v) and v > 0 for v in lrs) else None


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
    steps: StepSeries = field(default_factory=StepSeries)
    last_time: float | None = None
    images_per_s: float = math.nan
    records_seen: int = 0

    def reset(self) -> None:
        """Forget everything: the file was truncated or replaced."""
        fresh = RunModel()
        self.__dict__.update(fresh.__dict__)

    def apply(self, records: list[dict], steps: StepBatch | None = None) -> Change:
        """Fold in `records` (step records among them are the feed's to fold: skipped here)
        and the `steps` folded out of the same poll."""
        change = Change()
        for record in records:
            kind = record.get("type")
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
                self._apply_event(record, change)
            elif kind == "run_end":
                self.end = record
        if steps is not None:
            self._apply_steps(steps)
            change.steps = True
        self.records_seen += len(records) + (len(steps.loss) if steps else 0)
        return change

    def _apply_steps(self, steps: StepBatch) -> None:
        base = len(self.steps)
        self.steps.extend(steps.loss, steps.lr)
        for epoch, count in steps.marks:
            self.steps.mark_epoch(epoch, base + count)
        # Folded steps come after the poll's other records: newer only if their time says so.
        t = steps.time
        if t is not None and math.isfinite(t) and (self.last_time is None or t > self.last_time):
            self.last_time = t
            if steps.images_per_s is not None and math.isfinite(steps.images_per_s):
                self.images_per_s = steps.images_per_s

    def _apply_event(self, record: dict, change: Change) -> None:
        self.events.append(record)
        point = branch_point(record)
        if point is None:
            return
        self._abandon_after(point, change)
        self.rewound_to = point
        path = record.get("checkpoint")
        if isinstance(path, str) and path:  # the file a rewind wrote holds that epoch
            self.checkpoints[path] = CheckpointMark(point, path, False)
            change.checkpoints = True

    def _apply_epoch(self, record: dict, change: Change) -> None:
        if _int(record.get("epoch")) is None:
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
        if (_int(record.get("epochs")) or 0) > 0:
            self.planned_epochs = record["epochs"]
        target = _num(record.get("target_acc1"))
        if 0 < target <= 100:
            self.target_acc1 = target
        plan = _lr_list(record.get("lr_schedule"))
        if plan is not None:
            self.plan = plan
            self.planned_epochs = self.planned_epochs or len(self.plan)
            change.plan = True
        if isinstance(record.get("schedule"), dict):
            self.schedule = record["schedule"]
        if isinstance(record.get("config"), dict):
            self.config = record["config"]
        if record.get("type") == "resume":
            self.end = None
            self._abandon_after(_int(record.get("after_epoch")) or 0, change)

    def _apply_checkpoint(self, record: dict) -> None:
        path = record.get("path")
        epoch = _int(record.get("epoch"))
        if not isinstance(path, str) or not path or epoch is None:
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
