"""Notifications for a run nobody is looking at (no textual here).

The alerts that matter (a regression, divergence, non-finite values, a stall, the target
reached, the run's end, and an LR restart within `restart_within` epochs) are sent once each:
the terminal bell, a desktop notification by OSC 9 (iTerm2, WezTerm, Windows Terminal, kitty)
and OSC 777 (foot, urxvt, VTE terminals) wrapped for tmux's passthrough when inside tmux, and
`--notify-cmd CMD` run with the alert as JSON on its stdin (ntfy, a Slack webhook through curl,
mail). At most one notification each `min_interval_s`: alerts due meanwhile wait, and go out
together. A replay notifies only when asked to (`--notify`).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from runwatch.terminal import printable
from runwatch.tui.alerts import RESTART_AHEAD, Alert

NOTIFY_KINDS = ("REGRESSION", "DIVERGING", "NON-FINITE", "STALLED", "TARGET REACHED",
                "RUN ENDED", RESTART_AHEAD)
COMMAND_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class NotifySettings:
    terminal: bool = False  # bell and OSC 9/777
    command: str | None = None  # run with each alert as JSON on stdin
    restart_within: int = 3  # epochs ahead an LR restart notifies
    min_interval_s: float = 30.0

    @property
    def active(self) -> bool:
        return self.terminal or bool(self.command)


def wants(alert: Alert, latest_epoch: int | None, restart_within: int) -> bool:
    """An alert that calls someone back to the run."""
    if alert.kind not in NOTIFY_KINDS:
        return False
    if alert.kind == RESTART_AHEAD:
        return (alert.epoch is not None and latest_epoch is not None
                and alert.epoch - latest_epoch <= restart_within)
    return True


def _osc(body: str, tmux: bool) -> str:
    """An OSC sequence; inside tmux wrapped in its passthrough (DCS tmux; ... ST, each ESC
    doubled), which tmux >= 3.3 forwards with `set -g allow-passthrough on`."""
    sequence = f"\x1b]{body}\x07"
    if not tmux:
        return sequence
    return "\x1bPtmux;" + sequence.replace("\x1b", "\x1b\x1b") + "\x1b\\"


def terminal_sequences(title: str, body: str, tmux: bool) -> str:
    """Bell, OSC 9 and OSC 777 for one notification (text made printable: no control
    character of a file name or message can end the sequence early)."""
    title, body = printable(title).replace(";", ","), printable(body)
    return ("\a" + _osc(f"9;{title}: {body}", tmux)
            + _osc(f"777;notify;{title};{body}", tmux))


def alert_json(alert: Alert, run_name: str, now: float) -> str:
    return json.dumps({"run": run_name, "level": alert.level, "kind": alert.kind,
                       "message": alert.message, "epoch": alert.epoch, "time": now,
                       "text": alert.text()})


def run_command(command: str, payload: str) -> str | None:
    """Run `command` (a shell command line the user gave) with `payload` on stdin; None, or
    why it failed in one line."""
    try:
        done = subprocess.run(command, shell=True, input=payload, text=True,
                              capture_output=True, timeout=COMMAND_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return f"--notify-cmd ran over {COMMAND_TIMEOUT_S:.0f} s: stopped"
    except OSError as exc:
        return f"--notify-cmd could not run: {exc.strerror}"
    if done.returncode:
        err = printable(done.stderr.strip().splitlines()[-1][:80]) if done.stderr.strip() else ""
        return f"--notify-cmd exited {done.returncode}" + (f": {err}" if err else "")
    return None


@dataclass
class Notifier:
    """Decides what to send and when; `send` delivers (the app runs it off the UI thread)."""

    settings: NotifySettings
    run_name: str
    clock: Callable[[], float] = time.monotonic
    sent: set = field(default_factory=set)  # keys of the alerts sent (each goes once)
    waiting: list[Alert] = field(default_factory=list)
    last_sent: float | None = None

    def due(self, alerts: Sequence[Alert], latest_epoch: int | None) -> list[Alert]:
        """The alerts to send now (each once; rate-limited), given those on screen."""
        if not self.settings.active:
            return []
        for alert in alerts:
            if alert.key not in self.sent and wants(alert, latest_epoch,
                                                    self.settings.restart_within):
                self.sent.add(alert.key)
                self.waiting.append(alert)
        now = self.clock()
        if not self.waiting or (self.last_sent is not None
                                and now - self.last_sent < self.settings.min_interval_s):
            return []
        out, self.waiting, self.last_sent = self.waiting, [], now
        return out

    def message(self, alerts: Sequence[Alert]) -> tuple[str, str]:
        """(title, body) of one notification for `alerts`."""
        first = alerts[0]
        more = f" (+{len(alerts) - 1} more)" if len(alerts) > 1 else ""
        return f"runwatch {self.run_name}", f"{first.kind}: {first.message}{more}"


def in_tmux() -> bool:
    return bool(os.environ.get("TMUX"))
