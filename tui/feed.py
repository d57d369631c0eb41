"""What the follower polls: any MonitorSource, with its step records folded into arrays.

A long run's stream is mostly step records (a million of them is 150 MB). The monitor needs
only their loss and LR (the step chart), the last time and speed (the header), and which epoch
each belongs to, so `StreamFeed` folds them out of the records into a `StepBatch` per poll.
Our own stream is read with `StreamFollower` and a line parser that takes a compact step line
(as StreamWriter writes it) apart without `json.loads`; every other source's records are
folded the same way after they are parsed. The feed runs in the follower thread; what it
returns is data for the UI thread.
"""

from __future__ import annotations

import math
import re
from array import array
from dataclasses import dataclass, field
from pathlib import Path

from runwatch.stream import FollowState, StreamFollower, parse_line
from runwatch.stream.sources import KINDS, Source
from runwatch.tui.source import MonitorSource

STEP_PREFIX = '{"type":"step",'
# The two numbers of a step line as StreamWriter writes it (`..."loss":L,"lr":R,...}`); a line
# laid out otherwise is parsed the ordinary way.
_LOSS_LR = re.compile(r'"loss":([^,}]*),"lr":([^,}]*)[,}]')
CHUNK_BYTES = 8 << 20  # per poll: bounded memory, and the first epochs show at once


@dataclass
class StepBatch:
    """The steps folded in one poll (float32: 8 bytes a step in flight to the UI thread).
    `marks`: (epoch, how many of these steps came before that epoch's record), in order."""

    loss: array = field(default_factory=lambda: array("f"))
    lr: array = field(default_factory=lambda: array("f"))
    marks: list[tuple[int, int]] = field(default_factory=list)
    time: float | None = None
    images_per_s: float | None = None


@dataclass
class Batch:
    """One poll: the records (step records folded out), the steps, and whether the source
    started over (drop everything kept and apply these instead)."""

    records: list[dict]
    steps: StepBatch | None
    reset: bool


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return math.nan
    return float(value)


def _field(line: str, key: str) -> float | None:
    """The number after `"key":` in a compact JSON line, or None; ValueError if not a number."""
    start = line.find(key)
    if start < 0:
        return None
    start += len(key)
    end = line.find(",", start)
    if end < 0:
        end = line.rfind("}")
    return float(line[start:end])


class StepFolder:
    """Folds step records into a StepBatch: as a StreamFollower line parser (fast, from the
    text of our compact lines) or over parsed records (`fold`)."""

    def __init__(self) -> None:
        self.batch = StepBatch()
        self._last: str | dict | None = None  # the newest step, as text or record

    def __call__(self, line: str) -> dict | None:
        if not line.startswith(STEP_PREFIX):
            return self._note(parse_line(line))
        match = _LOSS_LR.search(line)
        try:
            if match is None or not line.rstrip().endswith("}"):
                raise ValueError
            loss, lr = float(match[1]), float(match[2])
        except ValueError:  # another layout, a null, or a truncated line (which parse_line
            self._add(parse_line(line))  # refuses: a bad line)
            return None
        self.batch.loss.append(loss)
        self.batch.lr.append(lr)
        self._last = line
        return None

    def fold(self, records: list[dict]) -> list[dict]:
        """`records` without their step records, which go into the batch."""
        out = []
        for record in records:
            if record.get("type") == "step":
                self._add(record)
            else:
                out.append(self._note(record))
        return out

    def _add(self, record: dict) -> None:
        self.batch.loss.append(_number(record.get("loss")))
        self.batch.lr.append(_number(record.get("lr")))
        self._last = record

    def _note(self, record: dict | None) -> dict | None:
        if record is not None and record.get("type") == "epoch":
            epoch = record.get("epoch")
            if isinstance(epoch, int) and not isinstance(epoch, bool):
                self.batch.marks.append((epoch, len(self.batch.loss)))
        return record

    def take(self) -> StepBatch | None:
        """The steps folded since the last call (None if none and no step seen yet)."""
        batch, last = self.batch, self._last
        self.batch, self._last = StepBatch(), None
        if not batch.loss and not batch.marks:
            return None
        if isinstance(last, str):
            batch.time, batch.images_per_s = _field(last, '"time":'), _field(
                last, '"images_per_s":')
        elif isinstance(last, dict):
            batch.time = _number(last.get("time"))
            batch.images_per_s = _number(last.get("images_per_s"))
        return batch


class StreamFeed:
    """Polls a MonitorSource into Batches; our own stream is followed the fast way."""

    def __init__(self, source: MonitorSource) -> None:
        self.source = source
        self._folder = StepFolder()
        self._fast: StreamFollower | None = None
        self._modified: float | None = None

    def _ours(self) -> bool:
        source = self.source
        return (isinstance(source, Source) and source.kind == KINDS["stream"]
                and source.metric is None and source.path is not None)

    def poll(self) -> Batch:
        if self._fast is None and not self._ours():
            records, reset = self.source.poll()
            if reset:
                self._folder = StepFolder()
            if not self._ours():
                records = self._folder.fold(records)
                self._modified = self.source.modified
                return Batch(records, self._folder.take(), reset)
            # Just detected as ours: read it again, the fast way, from the start.
            self._folder = StepFolder()
            self._start_fast()
            return self._poll_fast(reset=True)
        if self._fast is None:
            self._start_fast()
        return self._poll_fast()

    def _start_fast(self) -> None:
        self._fast = StreamFollower(self.source.path, state=FollowState(), parse=self._folder)

    def _poll_fast(self, reset: bool = False) -> Batch:
        records, restarted = self._fast.poll(CHUNK_BYTES)
        steps = self._folder.take()
        if steps is not None:
            self._fast.state.records += len(steps.loss)  # the steps it folded
        try:
            self._modified = self.path.stat().st_mtime
        except FileNotFoundError:
            self._fast.state.missing = True
        return Batch(records, steps, reset or restarted)

    @property
    def state(self) -> FollowState:
        return self._fast.state if self._fast is not None else self.source.state

    @property
    def kind(self) -> str:
        return self.source.kind

    @property
    def note(self) -> str:
        return self.source.note

    @property
    def path(self) -> Path | None:
        return self.source.path

    @property
    def modified(self) -> float | None:
        return self._modified

    def caught_up(self) -> bool:
        return self._fast.caught_up() if self._fast is not None else self.source.caught_up()
