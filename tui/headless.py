"""`runwatch demo --seed-run --headless`: the seed replay with no terminal, for CI.

Textual's headless mode runs the whole app (widgets, workers, forecasts) without a terminal.
As fast as possible (no `--speed`), the replay's clock is stepped one epoch at a time, each
step once the monitor has shown the epoch and its forecast, so every alert is raised at the
epoch it would be live; at a given speed the replay runs on the wall clock. It ends when the
replay has played its last record and the last forecast is in, and prints a plain-text summary:
the epochs shown, each alert with the epoch it first appeared, the recommended action.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from runwatch.terminal import printable

if TYPE_CHECKING:
    from runwatch.tui.app import RunwatchApp

SIZE = (80, 24)
SETTLE_TIMEOUT_S = 120.0  # one epoch's forecast, on a slow machine


class StepClock:
    """A replay clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def settled(app: RunwatchApp) -> bool:
    """Everything the replay released is on screen, and its forecast is in."""
    return (not app.loading and not app.forecasting
            and app.follow_state.records == app.feed.state.records)


async def _until(pilot, condition, timeout: float = SETTLE_TIMEOUT_S) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not condition():
        if loop.time() > end:
            raise TimeoutError("the headless replay stopped making progress")
        await pilot.pause(0.02)


async def step_replay(pilot, clock: StepClock, seconds: float) -> None:
    """Move the replay's clock on and wait until the follower has taken what it released. The
    count is read before the clock moves: the follower is a thread and may take the new
    records at once, which a count read after would already include (a wait for more that
    never came)."""
    app, released = pilot.app, pilot.app.feed.state.records
    clock.now += seconds
    await _until(pilot, lambda: app.feed.state.records > released)


def stepper(clock: StepClock | None, epochs_per_s: float):
    """The auto-pilot: step the replay (or let the wall clock run it) until it has ended."""

    async def drive(pilot) -> None:
        app = pilot.app
        while True:
            await _until(pilot, lambda: settled(app))
            if app.replay_ended():
                break
            if clock is None:
                await pilot.pause(0.05)
                continue
            # One epoch at a time: the next step waits until the follower has taken this one.
            await step_replay(pilot, clock, 1.0 / epochs_per_s)
        app.exit(None)

    return drive


def summary(app: RunwatchApp) -> str:
    epochs = [p.epoch for p in app.model.epochs()]
    shown = f"{epochs[0]}-{epochs[-1]} ({len(epochs)} epochs)" if epochs else "none"
    lines = [f"runwatch demo --seed-run --headless: {printable(app.run_name)}",
             f"epochs shown: {shown}", "alerts (epoch first shown: alert as last shown):"]
    lines += app.alert_log.lines() or ["  none"]
    lines.append(f"what to do: {printable(app.advice.words())}")
    return "\n".join(lines)
