"""Notifications: which alerts, once each, rate-limited, the terminal's sequences (tmux
passthrough), and --notify-cmd with the alert as JSON on stdin."""

from __future__ import annotations

import argparse
import json

from tui_pilot import make_app, stream_in, wait_for
from tui_records import epoch, run_async, run_records, write_stream

from runwatch.cli import build_parser
from runwatch.tui.alerts import Alert
from runwatch.tui.commands import notify_settings
from runwatch.tui.notify import Notifier, NotifySettings, run_command, terminal_sequences, wants

REGRESSION = Alert("warning", "REGRESSION", "epoch 11: test acc 57 -> 44", 11, 12.9)
RESTART = Alert("critical", "LR RESTART AHEAD", "in 2 epochs (epoch 31)", 31, 18.4)
PLATEAU = Alert("info", "PLATEAU", "+0.01 pts over epochs 5-9", 9)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_alerts_that_call_someone_back():
    assert wants(REGRESSION, 11, 3) and not wants(PLATEAU, 9, 3)
    assert wants(RESTART, 29, 3) and not wants(RESTART, 20, 3)  # 11 epochs ahead: not yet


def test_each_alert_once_and_at_most_one_notification_per_interval():
    clock = Clock()
    notifier = Notifier(NotifySettings(terminal=True, min_interval_s=30), "r50", clock)
    assert notifier.due([REGRESSION, PLATEAU], 11) == [REGRESSION]
    assert notifier.due([REGRESSION], 11) == []  # the same alert: sent already
    clock.now = 10.0
    assert notifier.due([REGRESSION, RESTART], 29) == []  # too soon: it waits
    clock.now = 31.0
    waited = notifier.due([REGRESSION, RESTART], 29)
    assert waited == [RESTART]
    assert notifier.message(waited + [REGRESSION]) == (
        "runwatch r50", "LR RESTART AHEAD: in 2 epochs (epoch 31) (+1 more)")
    assert Notifier(NotifySettings(), "r", clock).due([REGRESSION], 11) == []  # off


def test_terminal_sequences_bell_osc9_osc777_and_tmux_passthrough():
    plain = terminal_sequences("runwatch r50", "REGRESSION: epoch 11", tmux=False)
    assert plain == ("\a\x1b]9;runwatch r50: REGRESSION: epoch 11\x07"
                     "\x1b]777;notify;runwatch r50;REGRESSION: epoch 11\x07")
    wrapped = terminal_sequences("runwatch r50", "x", tmux=True)
    assert wrapped.startswith("\a\x1bPtmux;\x1b\x1b]9;runwatch r50: x\x07\x1b\\")
    # A message from a file cannot end the sequence early or start another.
    hostile = terminal_sequences("r;x", "done\x07\x1b]52;c;AAAA\x07", tmux=False)
    assert hostile.count("\x07") == 3 and hostile.count("\x1b") == 2  # the bell, two ends
    assert "777;notify;r,x;" in hostile


def test_notify_cmd_gets_the_alert_as_json_on_stdin(tmp_path):
    out = tmp_path / "got.json"
    assert run_command(f"cat > {out}", json.dumps({"kind": "REGRESSION"})) is None
    assert json.loads(out.read_text()) == {"kind": "REGRESSION"}
    assert run_command("echo boom >&2; exit 3", "{}") == "--notify-cmd exited 3: boom"


def test_on_by_default_off_for_replays_and_either_when_asked():
    parser = build_parser()

    def settings(*argv: str, replay: bool) -> NotifySettings:
        return notify_settings(parser.parse_args(["watch", "x", *argv]), replay=replay)

    assert settings(replay=False).terminal and not settings(replay=True).terminal
    assert settings("--notify", replay=True).terminal
    assert not settings("--no-notify", replay=False).terminal
    with_cmd = settings("--notify-cmd", "mail me", replay=True)
    assert with_cmd.command == "mail me" and with_cmd.active and not with_cmd.terminal
    assert isinstance(parser.parse_args(["demo", "--seed-run", "--no-notify"]),
                      argparse.Namespace)


@run_async
async def test_a_regression_runs_the_notify_command_once(tmp_path):
    got = tmp_path / "alerts.jsonl"
    stream_in(tmp_path, run_records(8))
    settings = NotifySettings(command=f"cat >> {got}; echo >> {got}", min_interval_s=0.0)
    app = make_app(tmp_path, notify=settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.forecast.data is not None)
        write_stream(tmp_path / "metrics.jsonl", [epoch(e) for e in (9, 10, 11)], "a")
        await wait_for(pilot, lambda: got.exists() and "REGRESSION" in got.read_text())
        await pilot.pause(2.5)  # more refreshes: the same alerts are not sent again
    sent = [json.loads(line) for line in got.read_text().splitlines() if line]
    kinds = [a["kind"] for a in sent]
    assert kinds.count("REGRESSION") == 1 and "LR RESTART AHEAD" in kinds
    regression = sent[kinds.index("REGRESSION")]
    assert regression["epoch"] == 11 and regression["run"] == tmp_path.name
    assert regression["text"].startswith("[!] REGRESSION: epoch 11")
    assert app.notifications  # what went to the terminal too (none in headless mode)
