"""Scalars logged by tag and step (TensorBoard, MLflow, Hugging Face's log_history) as
metric-stream records.

Tags are picked by name as CSV columns are (`fields.pick_fields`: `val/acc`, `eval_accuracy`,
`lr-SGD`, `train/learning_rate` ...); `--metric TAG` and `--lr-tag TAG` override. The epoch of a
step is the value an epoch tag (`epoch`, `train/epoch`) last logged at or before it: 0-based
integers (Lightning) are shifted by one; a step between two epoch logs belongs to the epoch
logged next (an epoch tag logged at an epoch's end, or at every logged step, as Lightning does).
Fractional epochs completed (Hugging Face) are interpolated between their logs and rounded up to
the epoch they fall in. Without an epoch tag the step is the epoch (shifted by one when it
counts from 0). Per epoch, the last value of each metric wins, the LR is the epoch's first, and
a train loss logged every few steps is averaged and also given as `step` records. Epochs get a
record once the accuracy tag has a value for them; accuracies that are all fractions are shown
x100. A record's `time` is the wall-clock time its accuracy was logged at, when the log has one.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from pathlib import Path

from runwatch.errors import RunwatchError
from runwatch.stream.logs.base import ReadOptions
from runwatch.stream.logs.fields import (
    LR_COLUMNS,
    as_percent,
    available_keys,
    epoch_record,
    first_named,
    fraction_fields,
    fraction_note,
    missing_metric,
    pick_fields,
)
from runwatch.stream.logs.follow import Snapshot
from runwatch.stream.reader import FollowState

EPOCH_TAGS = ("epoch", "train_epoch", "epochs")
_LAST = ("test_acc1", "test_acc5", "test_loss", "train_acc1", "epoch_time_s")


@dataclass
class Series:
    """Scalars by tag: tag -> step -> (value, wall-clock time or None); a later point at the
    same step replaces the earlier one (a restarted run logging that step again)."""

    points: dict[str, dict[int, tuple[float, float | None]]] = field(default_factory=dict)
    version: int = 0  # counts additions: a reader re-renders only when it moved

    def add(self, tag: str, step: int, value: float, wall_time: float | None = None) -> None:
        self.points.setdefault(tag, {})[step] = (value, wall_time)
        self.version += 1


@dataclass(frozen=True)
class Rendered:
    """Records made from a Series, what was picked (the note), and the accuracy tag (None
    while there is none: the note then lists the tags found)."""

    records: list[dict]
    note: str
    accuracy: str | None


def render(series: Series, metric: str | None, lr_tag: str | None, live: bool) -> Rendered:
    """The records of `series`; RunwatchError for an override naming no tag, unless `live`
    (the tag may come later)."""
    tags = sorted(series.points)
    for flag, tag in (("--metric", metric), ("--lr-tag", lr_tag)):
        if tag is not None and tag not in series.points:
            if live:
                return Rendered([], f"waiting for {flag} {tag} (tags so far: "
                                    f"{available_keys(tags)})", None)
            if flag == "--metric":
                raise missing_metric(tag, tags)
            raise RunwatchError(f"--lr-tag {tag!r} is not in this log: use one of "
                                f"{available_keys(tags)}")
    picked = pick_fields(tags, metric)
    picked.pop("lr", None)
    lr = lr_tag or first_named(tags, LR_COLUMNS) or next(
        (t for t in tags if t.startswith("lr-") or t.endswith(("/lr", "learning_rate"))), None)
    if lr is not None:
        picked["lr"] = lr
    accuracy = picked.get("test_acc1")
    if accuracy is None:
        return Rendered([], f"no accuracy tag among: {available_keys(tags)}; "
                            "name one with --metric TAG", None)
    epoch_of, epoch_note = _epoch_mapping(series, accuracy)
    records, notes = _records(series, picked, epoch_of)
    scaled = fraction_fields([r for r in records if r["type"] == "epoch"])
    if scaled:
        records = [as_percent(r, scaled) if r["type"] == "epoch" else r for r in records]
    described = ", ".join(f"{ours}: {theirs}" for ours, theirs in picked.items())
    note = "; ".join([described, epoch_note, *notes, *fraction_note(scaled),
                      "--metric/--lr-tag override"])
    return Rendered(records, note, accuracy)


def _epoch_mapping(series: Series, accuracy: str):
    """step -> epoch (1-based), and a note saying how."""
    tag = first_named(list(series.points), EPOCH_TAGS)
    if tag is None:
        shift = int(min(series.points[accuracy], default=1) == 0)
        note = "epoch = step + 1 (it counts from 0)" if shift else "epoch = step"
        return (lambda step: step + shift), note
    points = sorted(series.points[tag].items())
    steps = [s for s, _ in points]
    values = [v for _, (v, _) in points if math.isfinite(v)]
    fractional = any(v != int(v) for v in values)
    shift = 0 if fractional or (values and min(values) >= 1) else 1

    def epoch_of(step: int) -> int:
        i = bisect.bisect_left(steps, step)
        if i == len(points):  # after the last epoch logged: still in it
            i -= 1
        value = points[i][1][0]
        if fractional and steps[i] != step and i > 0:  # between two: where it falls
            (s0, (v0, _)), (s1, (v1, _)) = points[i - 1], points[i]
            value = v0 + (v1 - v0) * (step - s0) / (s1 - s0)
        if not math.isfinite(value):
            return 0
        return max(math.ceil(value - 1e-6), 1) if fractional else int(value) + shift

    how = ("rounded up (epochs completed, fractional)" if fractional
           else "+ 1 (it counts from 0)" if shift else "as logged")
    return epoch_of, f"epoch = {tag} {how}"


def _records(series: Series, picked: dict[str, str], epoch_of) -> tuple[list[dict], list[str]]:
    by_epoch: dict[int, dict] = {}
    times: dict[int, float | None] = {}
    for ours in _LAST:
        for step, (value, wall) in sorted(series.points.get(picked.get(ours), {}).items()):
            epoch = epoch_of(step)
            by_epoch.setdefault(epoch, {})[ours] = value
            if ours == "test_acc1":
                times[epoch] = wall
    if "lr" in picked:
        for step, (value, _) in sorted(series.points[picked["lr"]].items(), reverse=True):
            by_epoch.setdefault(epoch_of(step), {})["lr"] = value  # the epoch's first wins
    steps, notes = _loss_steps(series, picked, epoch_of)
    if steps:
        losses: dict[int, list[float]] = {}
        for record in steps:
            losses.setdefault(record["epoch"], []).append(record["loss"])
        for epoch, values in losses.items():
            by_epoch.setdefault(epoch, {})["train_loss"] = sum(values) / len(values)
    elif "train_loss" in picked:
        for step, (value, _) in sorted(series.points[picked["train_loss"]].items()):
            by_epoch.setdefault(epoch_of(step), {})["train_loss"] = value
    epochs = [epoch_record(e, {**by_epoch[e], "time": times.get(e)})
              for e in sorted(times) if e >= 1]
    ends = {r["epoch"]: r["time"] for r in epochs}
    # Step records before their epoch's record, as a trainer writes them.
    ordered = sorted([*steps, *epochs], key=lambda r: (r["epoch"], r["type"] == "epoch"))
    ordered = [r for r in ordered if r["type"] == "epoch" or r["epoch"] in ends
               or r["epoch"] > max(ends, default=0)]
    return ordered, notes


def _loss_steps(series: Series, picked: dict[str, str], epoch_of) -> tuple[list[dict], list[str]]:
    """Step records of a train loss logged more often than once an epoch."""
    tag = picked.get("train_loss")
    points = sorted(series.points.get(tag, {}).items())
    epochs = [epoch_of(step) for step, _ in points]
    if not points or len(set(epochs)) == len(epochs):
        return [], []
    lrs = sorted(series.points.get(picked.get("lr"), {}).items())
    lr_steps = [s for s, _ in lrs]
    out, within = [], {}
    for (step, (value, wall)), epoch in zip(points, epochs, strict=True):
        if epoch < 1:
            continue
        within[epoch] = within.get(epoch, 0) + 1
        i = bisect.bisect_right(lr_steps, step) - 1
        out.append({"type": "step", "time": wall, "epoch": epoch, "step": within[epoch],
                    "global_step": step, "loss": value, "lr": lrs[i][1][0] if i >= 0 else None})
    return out, [f"train_loss: mean of {tag} over the epoch (also step records)"]


class ScalarLog:
    """A log of scalars by tag, followed: `feed()` (the format's) adds what is new to
    `series` and says whether everything written so far was read; the records are rendered
    again only when points were added. Read once (`options.live` False), a log without an
    accuracy tag is a RunwatchError listing the tags found."""

    kind_name = "scalars"

    def __init__(self, path: Path, options: ReadOptions, state: FollowState) -> None:
        self.path, self.options, self.state = path, options, state
        self.kind, self.note = self.kind_name, ""
        self.series = Series()
        self.snapshot = Snapshot(state)
        self.bad = 0  # unreadable records of the format (the feed counts them)
        self._rendered = -1
        self._done = False

    def feed(self) -> bool:
        raise NotImplementedError

    def info(self) -> dict:
        """Config, planned epochs and LR plan the log states, for the synthetic run_start."""
        return {}

    def poll(self) -> tuple[list[dict], bool]:
        self._done = self.feed()
        if self.series.version == self._rendered:
            return [], False
        self._rendered = self.series.version
        rendered = render(self.series, self.options.metric, self.options.lr_tag,
                          self.options.live or not self._done)
        if rendered.accuracy is None and not self.options.live and self._done:
            raise RunwatchError(f"{self.path}: {rendered.note}")
        self.note = rendered.note
        self.kind = (f"{self.kind_name} ({rendered.accuracy})" if rendered.accuracy
                     else self.kind_name)
        new, reset = self.snapshot.update(rendered.records, self.kind, self.path, self.note,
                                          self.info())
        self.state.bad_lines = self.bad + self.snapshot.invalid
        return new, reset

    def caught_up(self) -> bool:
        return self._done
