"""The header's facts: run status, progress, speed and the wall-clock ETA (no textual here).

"Stalled" means no new bytes for longer than a run of this pace should take: the floor
STALL_MIN_S, or 1.5 epochs when the stream has no step records (foreign logs write once per
epoch), or a quarter epoch (but at least STALL_WITH_STEPS_S, to cover evaluation) when it has.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
import time
from dataclasses import dataclass

from runwatch.stream import FollowState
from runwatch.tui.run_model import RunModel

STALL_MIN_S = 120.0
STALL_WITH_STEPS_S = 300.0


@dataclass(frozen=True)
class HeaderFacts:
    run_name: str
    state: str  # waiting | running | stalled | quiet | finished | missing
    status: str  # the words shown, e.g. "stalled for 12 min"
    epoch: int | None
    planned_epochs: int | None
    elapsed_s: float | None
    images_per_s: float
    epoch_time_s: float | None
    eta_epoch: int | None
    eta_at: float | None  # Unix time the target is reached, when forecast
    bad_lines: int
    bad_reason: str = ""  # why the last bad line or record was skipped
    target: float = 75.0
    source_kind: str = ""


def epoch_time(model: RunModel) -> float | None:
    """Median seconds per epoch over the last five epochs (measured, else from record times)."""
    points = model.epochs()[-6:]
    measured = [p.epoch_time_s for p in points[-5:] if math.isfinite(p.epoch_time_s)]
    if measured:
        return statistics.median(measured)
    gaps = [b.time - a.time for a, b in zip(points, points[1:], strict=False)
            if math.isfinite(a.time) and math.isfinite(b.time) and b.time > a.time]
    return statistics.median(gaps) if gaps else None


def stall_after_s(model: RunModel) -> float:
    per_epoch = epoch_time(model) or 0.0
    if len(model.steps):
        return max(STALL_WITH_STEPS_S, 0.25 * per_epoch)
    return max(STALL_MIN_S, 1.5 * per_epoch)


def run_state(model: RunModel, follow: FollowState, now: float,
              last_activity: float | None, waiting_for: str = "",
              ended: bool = False) -> tuple[str, str]:
    """(state, words) for the header. `ended`: the source will give nothing more (a replay
    that has played its last record)."""
    if follow.missing:
        return "missing", follow.problem or (f"waiting for {waiting_for}" if waiting_for
                                             else "file missing")
    if model.rewound_to is not None:  # the run_end before it was the abandoned branch's
        return "finished", f"rewound to epoch {model.rewound_to}: resume to continue"
    if model.end is not None:
        return "finished", f"finished: {model.end.get('status', 'unknown')}"
    latest = model.latest()
    if ended:
        at = f" at epoch {latest.epoch}" if latest else ""
        return "finished", f"replay ended{at}"
    if (not model.marks_end and latest is not None and model.planned_epochs
            and latest.epoch >= model.planned_epochs):
        # A foreign log never says it ended; one at its last planned epoch has (the run
        # list's rule, stream.runs).
        return "finished", f"finished: reached its last planned epoch ({latest.epoch})"
    if last_activity is None or model.records_seen == 0:
        return "waiting", "waiting for records"
    idle = now - last_activity
    if idle > stall_after_s(model):
        if not model.marks_end:  # a finished foreign log looks the same as a dead run
            return "quiet", f"no new epoch for {format_duration(idle)}"
        return "stalled", f"stalled for {format_duration(idle)}"
    return "running", "running"


def header_facts(model: RunModel, follow: FollowState, run_name: str, now: float | None = None,
                 last_activity: float | None = None, forecast: dict | None = None,
                 target: float = 75.0, source_kind: str = "", waiting_for: str = "",
                 ended: bool = False) -> HeaderFacts:
    """`ended`: a replay that has played everything; its clock is the log's, so its elapsed
    time ends at its last record."""
    now = time.time() if now is None else now
    state, words = run_state(model, follow, now, last_activity, waiting_for, ended)
    latest = model.latest()
    per_epoch = epoch_time(model)
    end_time = model.end.get("time") if model.end else model.last_time if ended else None
    clock = end_time if isinstance(end_time, (int, float)) else now
    elapsed = clock - model.start_time if model.start_time is not None else None
    eta_epoch = _eta_epoch(forecast)
    eta_at = eta_timestamp(forecast)
    if eta_at is None and eta_epoch is not None and latest is not None and per_epoch:
        eta_at = now + max(eta_epoch - latest.epoch, 0) * per_epoch
    return HeaderFacts(
        run_name=run_name,
        state=state,
        status=words,
        epoch=latest.epoch if latest else None,
        planned_epochs=model.planned_epochs,
        elapsed_s=elapsed if elapsed is None or elapsed >= 0 else None,
        images_per_s=model.images_per_s,
        epoch_time_s=per_epoch,
        eta_epoch=eta_epoch,
        eta_at=eta_at,
        bad_lines=follow.bad_lines,
        bad_reason=follow.last_reason,
        target=target,
        source_kind=source_kind,
    )


def _eta_epoch(forecast: dict | None) -> int | None:
    value = (forecast or {}).get("eta_epoch")
    return int(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def eta_timestamp(forecast: dict | None) -> float | None:
    """The forecast's own wall-clock ETA (ISO 8601 with its zone) as Unix time."""
    text = (forecast or {}).get("eta_time")
    if not isinstance(text, str):
        return None
    try:
        return dt.datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def format_when(timestamp: float) -> str:
    """A wall-clock time in the viewer's local zone: 'Nov 14 23:06'."""
    return dt.datetime.fromtimestamp(timestamp).strftime("%b %d %H:%M")


def format_duration(seconds: float | None) -> str:
    """'45s', '12 min', '3h 05m', '2d 04h'."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    s = int(max(seconds, 0))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600:02d}h"


def format_cell(value: object, digits: int = 2) -> str:
    """A table cell: '-' when absent, 'NaN'/'inf' kept visible (divergence), else fixed digits."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "-"
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.{digits}f}"


def format_lr(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return format_cell(value)
    return f"{value:.3g}" if value >= 1e-3 else f"{value:.2e}"
