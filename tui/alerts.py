"""Alerts: what a user watching the run should notice, most urgent first (no textual here).

Each alert carries a level and a text marker ("!!", "!", "i") so it reads without colour
(NO_COLOR); the widget adds colour by level. Alerts are recomputed from the whole model on
every update (cheap: one pass over a few hundred epochs), so they never go stale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from trainer.schedule import find_jumps
from trainer.stream import FollowState
from tui.run_model import RunModel
from tui.status import format_lr
from tui.tags import REGRESSION_PTS, RESTART_RATIO, gain, is_lr_restart

LEVELS = ("critical", "warning", "info")
MARKERS = {"critical": "!!", "warning": "!", "info": "i"}
RESTART_HORIZON = 15  # epochs ahead within which an LR restart is a warning (critical <= 3)
PLATEAU_WINDOW = 5
PLATEAU_PTS = 0.2
GAP_PTS = 10.0
DIVERGE_LOSS_RATIO = 3.0


@dataclass(frozen=True)
class Alert:
    level: str
    kind: str
    message: str
    epoch: int | None = None

    @property
    def marker(self) -> str:
        return MARKERS[self.level]

    def text(self) -> str:
        """The line shown, readable without colour: '[!!] LR RESTART AHEAD: ...'."""
        return f"[{self.marker}] {self.kind}: {self.message}"


def compute_alerts(model: RunModel, follow: FollowState, state: str, status_words: str,
                   forecast: dict | None = None, source_note: str = "") -> list[Alert]:
    """Every alert, most urgent first; `source_note` says how a foreign log was read."""
    alerts: list[Alert] = []
    alerts += restart_ahead(model, forecast)
    alerts += divergence(model)
    alerts += run_end(model)
    alerts += regressions(model)
    alerts += plateau(model)
    alerts += train_test_gap(model)
    alerts += patience_left(model)
    alerts += stream_health(model, follow, state, status_words)
    if source_note:
        alerts.append(Alert("info", "SOURCE", source_note))
    order = {level: i for i, level in enumerate(LEVELS)}
    return sorted(alerts, key=lambda a: (order[a.level], -(a.epoch or 0)))


def restart_ahead(model: RunModel, forecast: dict | None) -> list[Alert]:
    """The next planned LR jump (a restart, or an edit that raises the LR)."""
    latest = model.latest()
    if latest is None or not model.plan or latest.epoch >= len(model.plan):
        return []
    prev_lr = latest.lr if math.isfinite(latest.lr) else model.planned_lr(latest.epoch)
    jumps = find_jumps(model.plan[latest.epoch:], latest.epoch + 1, RESTART_RATIO, prev_lr)
    if not jumps:
        return []
    jump = jumps[0]
    ahead = jump.epoch - latest.epoch
    level = "info" if ahead > RESTART_HORIZON else "critical" if ahead <= 3 else "warning"
    drop = _predicted_drop(forecast, jump.epoch)
    drop_text = (f"predicted drop {drop:.1f} pts" if drop is not None
                 else "predicted drop: forecast unavailable")
    when = "next epoch" if ahead == 1 else f"in {ahead} epochs"
    return [Alert(level, "LR RESTART AHEAD",
                  f"{when} (epoch {jump.epoch}): LR {format_lr(jump.lr_before)} -> "
                  f"{format_lr(jump.lr_after)} ({jump.ratio:.0f}x), {drop_text}",
                  jump.epoch)]


def _predicted_drop(forecast: dict | None, epoch: int) -> float | None:
    for event in (forecast or {}).get("events", []):
        if event.get("kind") == "lr_restart" and event.get("epoch") == epoch:
            drop = event.get("predicted_drop")
            if isinstance(drop, (int, float)) and math.isfinite(drop):
                return float(drop)
    return None


def regressions(model: RunModel) -> list[Alert]:
    out = []
    previous = None
    for point in model.epochs():
        g = gain(point, previous)
        if math.isfinite(g) and g <= -REGRESSION_PTS:
            cause = " after an LR restart" if is_lr_restart(point, previous) else ""
            out.append(Alert("warning", "REGRESSION",
                             f"epoch {point.epoch}{cause}: test acc {previous.test_acc1:.2f} -> "
                             f"{point.test_acc1:.2f} ({g:+.2f} pts)", point.epoch))
        previous = point
    return out


def plateau(model: RunModel) -> list[Alert]:
    points = [p for p in model.epochs() if math.isfinite(p.test_acc1)][-(PLATEAU_WINDOW + 1):]
    if len(points) <= PLATEAU_WINDOW or model.end is not None:
        return []
    rise = max(p.test_acc1 for p in points[1:]) - points[0].test_acc1
    if rise >= PLATEAU_PTS:
        return []
    return [Alert("info", "PLATEAU",
                  f"{rise:+.2f} pts over epochs {points[1].epoch}-{points[-1].epoch}",
                  points[-1].epoch)]


def divergence(model: RunModel) -> list[Alert]:
    out = []
    for point in model.epochs():
        if point.nonfinite():
            out.append(Alert("critical", "NON-FINITE", f"epoch {point.epoch} has NaN/inf values",
                             point.epoch))
    for event in model.events:
        if event.get("kind") == "nonfinite":
            out.append(Alert("critical", "NON-FINITE",
                             f"loss {event.get('value')} at epoch {event.get('epoch')} "
                             f"step {event.get('step')}", event.get("epoch")))
    losses = [p for p in model.epochs() if math.isfinite(p.test_loss) and p.test_loss > 0]
    if len(losses) >= 2:
        best = min(p.test_loss for p in losses)
        last = losses[-1]
        # A jump right after an LR restart is the restart's cost, reported as such.
        if (last.test_loss >= DIVERGE_LOSS_RATIO * best
                and not is_lr_restart(last, model.previous(last.epoch))):
            out.append(Alert("critical", "DIVERGING",
                             f"test loss {last.test_loss:.3f} at epoch {last.epoch} is "
                             f"{last.test_loss / best:.1f}x its best {best:.3f}", last.epoch))
    return out


def run_end(model: RunModel) -> list[Alert]:
    if model.end is None:
        return []
    status = model.end.get("status", "unknown")
    if status == "completed":
        return [Alert("info", "RUN ENDED", "completed", model.end.get("epoch"))]
    message = model.end.get("message") or ""
    level = "warning" if status in ("interrupted", "early_stopped") else "critical"
    return [Alert(level, "RUN ENDED", f"{status} {message}".strip(), model.end.get("epoch"))]


def train_test_gap(model: RunModel) -> list[Alert]:
    latest = model.latest()
    if latest is None or not (math.isfinite(latest.train_acc1) and math.isfinite(latest.test_acc1)):
        return []
    gap = latest.train_acc1 - latest.test_acc1
    if gap < GAP_PTS:
        return []
    return [Alert("warning", "TRAIN-TEST GAP",
                  f"{gap:.1f} pts at epoch {latest.epoch} (train {latest.train_acc1:.2f}, "
                  f"test {latest.test_acc1:.2f})", latest.epoch)]


def patience_left(model: RunModel) -> list[Alert]:
    patience = model.patience()
    latest, best = model.latest(), model.best()
    if not patience or latest is None or best is None or model.end is not None:
        return []
    since = (int(latest.epochs_since_best) if math.isfinite(latest.epochs_since_best)
             else latest.epoch - best.epoch)
    left = patience - since
    if since == 0 or left > max(3, patience // 3):
        return []
    return [Alert("critical" if left <= 1 else "warning", "EARLY STOP NEAR",
                  f"no new best for {since} epochs; patience left {max(left, 0)} of {patience}",
                  latest.epoch)]


def stream_health(model: RunModel, follow: FollowState, state: str,
                  status_words: str) -> list[Alert]:
    out = []
    if state == "stalled":
        out.append(Alert("warning", "STALLED", f"stream {status_words}"))
    if state == "missing":
        out.append(Alert("warning", "FILE MISSING", "no stream file yet; watching for it"))
    if follow.bad_lines:
        last = f" (last: {follow.last_bad[:40]!r})" if follow.last_bad else ""
        out.append(Alert("warning", "UNREADABLE LINES",
                         f"{follow.bad_lines} skipped{last}"))
    if follow.resets:
        out.append(Alert("info", "FILE REPLACED",
                         f"truncated or replaced {follow.resets}x; history reloaded"))
    if model.abandoned:
        epochs = sorted({p.epoch for p in model.abandoned})
        out.append(Alert("info", "BRANCH ABANDONED",
                         f"{len(epochs)} epoch(s) {epochs[0]}-{epochs[-1]} replaced by a "
                         "resume/rewind (hidden from the table)"))
    return out
