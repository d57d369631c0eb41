"""Alerts: what a user watching the run should notice, most urgent first (no textual here).

Each alert carries a level and a text marker ("!!", "!", "i") so it reads without colour
(NO_COLOR); the widget adds colour by level. What happened to the metrics (regressions,
plateaus, divergence, gap, patience) comes from the forecast's events, which the monitor
recomputes after every new epoch; the stream's own facts (restarts ahead in the plan, the run's
end, the file's health) are read from the model on every update, so they never go stale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from runwatch.schedule import find_jumps
from runwatch.stream import FollowState
from runwatch.terminal import printable
from runwatch.tui.run_model import RunModel
from runwatch.tui.status import format_lr
from runwatch.tui.tags import RESTART_RATIO, lr_jumped, warmup_end

LEVELS = ("critical", "warning", "info")
MARKERS = {"critical": "!!", "warning": "!", "info": "i"}
# An LR restart ahead is ranked by what the forecast says it costs: a drop of BIG_DROP points or
# more is critical however far ahead, one of SMALL_DROP or more a warning, a gain is news.
# Without a forecast, by nearness: critical within 3 epochs, a warning within RESTART_HORIZON.
BIG_DROP = 5.0
SMALL_DROP = 1.0
RESTART_HORIZON = 15
MISSING_GRACE_S = 30.0  # a path still missing after this is probably mistyped
RESTART_AHEAD = "LR RESTART AHEAD"  # the kind the run list and notifications look for


@dataclass(frozen=True)
class Alert:
    level: str
    kind: str
    message: str
    epoch: int | None = None
    cost: float = 0.0  # predicted points lost: ranks alerts of one level

    @property
    def key(self) -> tuple[str, int | None]:
        """What makes it the same alert from one update to the next (its words change)."""
        return self.kind, self.epoch

    @property
    def marker(self) -> str:
        return MARKERS[self.level]

    def text(self) -> str:
        """The line shown, readable without colour: '[!!] LR RESTART AHEAD: ...'."""
        return f"[{self.marker}] {self.kind}: {self.message}"


@dataclass(frozen=True)
class AlertContext:
    """What the alerts need besides the model and the forecast."""

    source_note: str = ""  # how a foreign log was read (which fields)
    target: float | None = None
    path: str = ""  # what the user asked to watch
    missing_s: float = 0.0  # how long it has been missing
    trainer_pid: int | None = None  # the training the app started, if it did


def compute_alerts(model: RunModel, follow: FollowState, state: str, status_words: str,
                   forecast: dict | None = None,
                   context: AlertContext = AlertContext()) -> list[Alert]:
    """Every alert, most urgent first: by level, then by predicted cost, then newest."""
    alerts: list[Alert] = []
    alerts += restart_ahead(model, forecast)
    alerts += step_nonfinite(model)
    alerts += run_end(model)
    alerts += target_reached(model, context.target)
    alerts += history_alerts(forecast, ended=model.end is not None)
    alerts += stream_health(model, follow, state, status_words)
    if state == "missing":
        alerts.append(missing(context, follow.problem))
    if context.source_note:
        alerts.append(Alert("info", "SOURCE", context.source_note))
    order = {level: i for i, level in enumerate(LEVELS)}
    return sorted(alerts, key=lambda a: (order[a.level], -a.cost, -(a.epoch or 0)))


def restart_ahead(model: RunModel, forecast: dict | None) -> list[Alert]:
    """The next planned LR jump (a restart, or an edit that raises the LR); a rise inside the
    warmup is no restart."""
    latest = model.latest()
    if latest is None or not model.plan or latest.epoch >= len(model.plan) or _done(model):
        return []
    prev_lr = latest.lr if math.isfinite(latest.lr) else model.planned_lr(latest.epoch)
    warmup = warmup_end(model)
    jumps = [j for j in find_jumps(model.plan[latest.epoch:], latest.epoch + 1, RESTART_RATIO,
                                   prev_lr) if j.epoch > warmup]
    if not jumps:
        return []
    jump = jumps[0]
    ahead = jump.epoch - latest.epoch
    drop = _predicted_drop(forecast, jump.epoch)
    if drop is None:
        level = "info" if ahead > RESTART_HORIZON else "critical" if ahead <= 3 else "warning"
        drop_text = "predicted drop: forecast unavailable"
    else:
        level = "critical" if drop >= BIG_DROP else "warning" if drop >= SMALL_DROP else "info"
        drop_text = (f"predicted drop {drop:.1f} pts" if drop >= 0.05
                     else f"predicted gain {-drop:.1f} pts" if drop <= -0.05
                     else "no predicted drop")
    when = "next epoch" if ahead == 1 else f"in {ahead} epochs"
    return [Alert(level, RESTART_AHEAD,
                  f"{when} (epoch {jump.epoch}): LR {format_lr(jump.lr_before)} -> "
                  f"{format_lr(jump.lr_after)} ({jump.ratio:.0f}x), {drop_text}",
                  jump.epoch, max(drop or 0.0, 0.0))]


def _done(model: RunModel) -> bool:
    """The run ended for good (completed, stopped early): no epoch of its plan is ahead. An
    interrupted or failed run is resumed, and a rewound one is about to be."""
    return (model.end is not None and model.rewound_to is None
            and model.end.get("status") in ("completed", "early_stopped"))


def _predicted_drop(forecast: dict | None, epoch: int) -> float | None:
    for event in (forecast or {}).get("events", []):
        if event.get("kind") == "lr_restart" and event.get("epoch") == epoch:
            drop = event.get("predicted_drop")
            if isinstance(drop, (int, float)) and math.isfinite(drop):
                return float(drop)
    return None


def step_nonfinite(model: RunModel) -> list[Alert]:
    """NaN/inf losses the trainer reported mid-epoch (its `nonfinite` stream events)."""
    return [Alert("critical", "NON-FINITE",
                  f"loss {event.get('value')} at epoch {event.get('epoch')} "
                  f"step {event.get('step')}", event.get("epoch"))
            for event in model.events if event.get("kind") == "nonfinite"]


def run_end(model: RunModel) -> list[Alert]:
    if model.end is None or model.rewound_to is not None:  # the abandoned branch's end
        return []
    status = model.end.get("status", "unknown")
    if status == "completed":
        return [Alert("info", "RUN ENDED", "completed", model.end.get("epoch"))]
    message = model.end.get("message") or ""
    level = "warning" if status in ("interrupted", "early_stopped") else "critical"
    return [Alert(level, "RUN ENDED", f"{status} {message}".strip(), model.end.get("epoch"))]


def target_reached(model: RunModel, target: float | None) -> list[Alert]:
    """The first epoch of the live branch at or above the target."""
    if target is None:
        return []
    reached = next((p for p in model.epochs() if p.test_acc1 >= target), None)
    if reached is None:
        return []
    return [Alert("info", "TARGET REACHED", f"test acc {reached.test_acc1:.2f} at epoch "
                  f"{reached.epoch} (target {target:g}%)", reached.epoch)]


def missing(context: AlertContext, problem: str = "") -> Alert:
    """Nothing to read at the watched path yet: something there that is no file (`problem`:
    a directory, a FIFO), the demo's trainer starting, a run not started yet, or (after
    MISSING_GRACE_S) a mistyped path; each says the path it waits for."""
    if problem:
        return Alert("warning", "FILE MISSING", f"{printable(problem)}; watching for a file")
    if context.trainer_pid is not None:
        return Alert("info", "STARTING", f"the trainer (pid {context.trainer_pid}) is starting: "
                     f"its stream appears in {context.path} with its first records")
    if context.missing_s < MISSING_GRACE_S:
        return Alert("info", "WAITING", f"nothing at {context.path} yet; watching for it")
    return Alert("warning", "FILE MISSING", f"still nothing at {context.path} after "
                 f"{context.missing_s:.0f} s: check the path (a run directory, its "
                 "metrics.jsonl, or a log file)")


def history_alerts(forecast: dict | None, ended: bool) -> list[Alert]:
    """The forecast's events behind the run as alerts.

    forecast.events is the one detector of regressions, plateaus, divergence, non-finite
    epochs, a widening train-test gap and early-stopping patience, judged against the run's
    own noise; the monitor only words them. A plateau or patience says nothing once the run
    has ended.
    """
    out = []
    for event in (forecast or {}).get("events", []):
        kind = event.get("kind")
        if kind in ("plateau", "early_stop_patience") and ended:
            continue
        word = _BEHIND.get(kind)
        alert = word(event) if word else None
        if alert is not None:
            out.append(alert)
    return out


def _regression(event: dict) -> Alert:
    epoch = event["epoch"]
    cause = " after an LR restart" if lr_jumped(event["lr_before"], event["lr_after"]) else ""
    back = (f", back by epoch {event['recovered_epoch']}" if event.get("recovered_epoch")
            else "")
    return Alert("warning", "REGRESSION",
                 f"epoch {epoch}{cause}: test acc {event['acc_before']:.2f} -> "
                 f"{event['acc_after']:.2f} ({-event['drop']:+.2f} pts, noise "
                 f"{event['noise']:.2f}){back}", epoch, event['drop'])


def _plateau(event: dict) -> Alert:
    first, last = event["epoch"], event["epoch"] + event["epochs"] - 1
    return Alert("info", "PLATEAU",
                 f"{event['gain']:+.2f} pts over epochs {first}-{last} (noise "
                 f"{event['noise']:.2f}) at LR {format_lr(event['lr'])}", last)


def _nonfinite(event: dict) -> Alert:
    return Alert("critical", "NON-FINITE",
                 f"epoch {event['epoch']}: {event['metric']} is {event['value']}",
                 event["epoch"])


def _divergence(event: dict) -> Alert:
    metric = "test loss" if event["metric"] == "test_loss" else "test acc"
    return Alert("critical", "DIVERGING",
                 f"{metric} {event['value']:.3f} against its best {event['best']:.3f}, "
                 f"since epoch {event['epoch']}", event["epoch"])


def _gap(event: dict) -> Alert:
    last = event["epoch"] + event["epochs"] - 1
    what, unit = (("train-test acc gap", " pts") if event["measure"] == "acc1"
                  else ("test-train loss gap", ""))
    return Alert("warning", "TRAIN-TEST GAP",
                 f"{what} widened {event['gap_before']:.2f} -> {event['gap_now']:.2f}{unit} "
                 f"over the {event['epochs']} epochs to {last}", last)


def _patience(event: dict) -> Alert | None:
    since, left, patience = (event["epochs_since_best"], event["patience_left"],
                             event["patience"])
    if since == 0 or left > max(3, patience // 3):
        return None
    ahead = ""
    if event.get("predicted_new_best_epoch") and not event.get("predicted_stop_epoch"):
        ahead = f"; forecast: new best at epoch {event['predicted_new_best_epoch']}"
    elif event.get("predicted_stop_epoch"):
        ahead = f"; forecast: stops at epoch {event['predicted_stop_epoch']}"
    return Alert("critical" if left <= 1 else "warning", "EARLY STOP NEAR",
                 f"no new best for {since} epochs; patience left {max(left, 0)} of "
                 f"{patience}{ahead}", event["epoch"])


_BEHIND = {"regression": _regression, "plateau": _plateau, "nonfinite": _nonfinite,
           "divergence": _divergence, "train_test_gap": _gap,
           "early_stop_patience": _patience}


def stream_health(model: RunModel, follow: FollowState, state: str,
                  status_words: str) -> list[Alert]:
    out = []
    if state == "stalled":
        out.append(Alert("warning", "STALLED", f"stream {status_words}"))
    if state == "quiet":
        out.append(Alert("info", "QUIET", f"{status_words}: this log format writes no end "
                                          "marker, so a finished run and a stopped one look "
                                          "alike"))
    if follow.bad_lines:
        why = f"{follow.last_reason}: " if follow.last_reason else ""
        last = f" (last: {why}{follow.last_bad[:40]!r})" if follow.last_bad else ""
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


@dataclass
class AlertLog:
    """Each alert with the epoch it first appeared at, and its latest words."""

    first_seen: dict = field(default_factory=dict)  # key -> epoch shown when it appeared
    latest: dict = field(default_factory=dict)  # key -> the alert as last shown

    def add(self, alerts: list[Alert], epoch: int | None) -> None:
        for alert in alerts:
            self.first_seen.setdefault(alert.key, epoch)
            self.latest[alert.key] = alert

    def lines(self) -> list[str]:
        return [f"  from epoch {self.first_seen[key]}: {printable(self.latest[key].text())}"
                for key in self.first_seen]
