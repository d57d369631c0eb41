"""The metric stream's names (schema version, file name, record types, end statuses) and what
a record must hold for readers to use it (`record_problem`); docs/metric-stream.md is the
contract."""

from __future__ import annotations

import math
import os
import reprlib
from collections.abc import Callable
from pathlib import Path

from runwatch.errors import RunwatchError
from runwatch.schedule import spec_from_dict

SCHEMA_VERSION = 1
STREAM_NAME = "metrics.jsonl"
RECORD_TYPES = ("run_start", "resume", "epoch", "step", "checkpoint", "event", "run_end")
END_STATUSES = ("completed", "interrupted", "diverged", "early_stopped", "failed")


def stream_path(run_dir_or_file: str | os.PathLike) -> Path:
    """The stream file of a run directory, or the path itself when it names a file."""
    p = Path(run_dir_or_file)
    return p / STREAM_NAME if p.is_dir() else p


# --- what readers can use: every record is checked at the reader boundary -----------------

MAX_EPOCH = 100_000  # epoch numbers and plan lengths: far past any real run, small for arrays
MAX_COUNT = 2**53  # steps: exact as floats
MAX_NESTING = 32  # configs are a few levels deep; deeper only ever comes from a broken file


def _number(value: object) -> bool:
    """A JSON number readers can do float maths with (non-finite allowed: it means divergence),
    or None."""
    if value is None or isinstance(value, float):
        return True
    return type(value) is int and abs(value) <= MAX_COUNT


def _finite(value: object) -> bool:
    return value is None or (_number(value) and math.isfinite(value))


def _epoch_number(low: int) -> Callable[[object], bool]:
    return lambda value: value is None or (type(value) is int and low <= value <= MAX_EPOCH)


def _count(value: object) -> bool:
    return value is None or (type(value) is int and 0 <= value <= MAX_COUNT)


def _plan(value: object) -> bool:
    return value is None or (isinstance(value, list) and len(value) <= MAX_EPOCH
                             and all(v is not None and _number(v) for v in value))


def _schedule(value: object) -> bool:
    """None, or a dict runwatch.schedule turns into a valid ScheduleSpec of bounded length."""
    if value is None:
        return True
    if not isinstance(value, dict):
        return False
    try:
        spec = spec_from_dict(value)
    except (RunwatchError, TypeError, ValueError, OverflowError):
        return False
    ints = (spec.epochs, spec.t0, spec.t_mult, spec.warmup_epochs, spec.offset,
            spec.steps_per_epoch, *spec.milestones)
    return (all(type(v) is int and abs(v) <= MAX_COUNT for v in ints)
            and spec.epochs <= MAX_EPOCH and isinstance(spec.name, str)
            and all(_number(v) for v in (spec.base_lr, spec.eta_min, spec.gamma,
                                          spec.warmup_start_factor)))


def _of(kind: type) -> Callable[[object], bool]:
    return lambda value: value is None or isinstance(value, kind)


def _list_of(check: Callable[[object], bool]) -> Callable[[object], bool]:
    return lambda value: value is None or (isinstance(value, list) and all(map(check, value)))


_EPOCH = _epoch_number(0)  # epoch numbers (ours count from 1; 0 is harmless)
_PLANNED_EPOCHS = _epoch_number(1)
_NUMBERS = ("lr", "train_loss", "train_acc1", "test_loss", "test_acc1", "test_acc5",
            "epoch_time_s", "images_per_s", "best_acc1", "loss", "target_acc1", "value")
_PLANNED = {"lr_schedule": _plan, "epochs": _PLANNED_EPOCHS, "schedule": _schedule,
            "config": _of(dict), "run_id": _of(str)}
# Per record type: the fields readers compute with, and what each must be.
FIELD_CHECKS: dict[str, dict[str, Callable[[object], bool]]] = {
    "run_start": _PLANNED,
    "resume": {**_PLANNED, "after_epoch": _EPOCH},
    "epoch": {"epoch": _EPOCH, "best_epoch": _EPOCH, "epochs_since_best": _count,
              "is_best": _of(bool)},
    "step": {"epoch": _EPOCH, "step": _count, "global_step": _count},
    "checkpoint": {"epoch": _EPOCH, "path": _of(str), "files": _list_of(_of(str)),
                   "is_best": _of(bool), "step_in_epoch": _count},
    "event": {"kind": _of(str), "to_epoch": _EPOCH, "abandoned_epochs": _list_of(_EPOCH),
              "epoch": _EPOCH, "step": _count},
    "run_end": {"status": _of(str), "epoch": _EPOCH, "message": _of(str)},
}
REQUIRED = {"resume": ("after_epoch",), "epoch": ("epoch",), "event": ("kind",)}


def record_problem(record: dict) -> str | None:
    """Why readers cannot use this record (a short reason), or None when it is sound.

    Records of a type this schema does not know pass (readers ignore them), as do fields it
    does not name; a rewind event must say `to_epoch`.
    """
    kind = record.get("type")
    if not _finite(record.get("time")):
        return f"{kind} record with time {_show(record.get('time'))}"
    checks = FIELD_CHECKS.get(kind)
    if checks is None:
        return None if _shallow(record) else f"{kind} record nested deeper than {MAX_NESTING}"
    required = REQUIRED.get(kind, ())
    if kind == "event" and record.get("kind") == "rewind":
        required = ("kind", "to_epoch")
    for name in required:
        if record.get(name) is None:
            return f"{kind} record without {name}"
    for name, check in checks.items():
        if name in record and not check(record[name]):
            return f"{kind} record with {name} {_show(record[name])}"
    for name in _NUMBERS:
        if name in record and not _number(record[name]):
            return f"{kind} record with {name} {_show(record[name])}"
    if not _shallow(record):
        return f"{kind} record nested deeper than {MAX_NESTING}"
    return None


def _shallow(record: dict) -> bool:
    """No container more than MAX_NESTING levels deep (readers that recurse stay safe)."""
    stack = [(v, 1) for v in record.values() if isinstance(v, (dict, list))]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_NESTING:
            return False
        children = value.values() if isinstance(value, dict) else value
        stack.extend((v, depth + 1) for v in children if isinstance(v, (dict, list)))
    return True


_SHORT = reprlib.Repr()  # keyword arguments only from Python 3.12
_SHORT.maxstring = _SHORT.maxother = 24
_SHORT.maxlist, _SHORT.maxdict, _SHORT.maxlevel = 3, 2, 2


def _show(value: object) -> str:
    return _SHORT.repr(value)
