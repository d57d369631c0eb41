"""The run list on screen (issue 14): 100 runs of 300 epochs, time until every row is shown
(goal <= 2 s) and the list's CPU while idle, once every forecast is in (goal < 1%), against a
baseline measured in the same run: an empty Textual app's first frame and idle CPU.

The runs are bench/runs_list.py's (a stream as runwatch's trainer writes it, 0.8 MB a run).

    python bench/runs_screen.py [RUNS] [EPOCHS] [IDLE_S]
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

from runs_list import write_run
from textual.app import App
from textual.widgets import Static

from runwatch.stream.runs import RunScanner
from runwatch.tui.runs_app import ListState, RunsApp
from runwatch.tui.widgets.run_table import RunTable

GOAL_FIRST_S = 2.0
GOAL_IDLE_CPU = 0.01
SIZE = (120, 40)


class Empty(App):
    def compose(self):
        yield Static("baseline")


async def _until(pilot, condition, timeout: float) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError("the list did not get there in time")
        await pilot.pause(0.01)


async def _idle_cpu(pilot, seconds: float) -> float:
    wall, cpu = time.monotonic(), time.process_time()
    await pilot.pause(seconds)
    return (time.process_time() - cpu) / (time.monotonic() - wall)


async def measure_list(root: Path, runs: int, idle_s: float) -> tuple[float, float, float]:
    start = time.perf_counter()
    app = RunsApp(ListState(RunScanner(root)))
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(RunTable)
        await _until(pilot, lambda: table.row_count == runs, 30)
        first = time.perf_counter() - start
        await _until(pilot, lambda: all(r.outlook is not None for r in app.rows()), 600)
        forecasts = time.perf_counter() - start
        idle = await _idle_cpu(pilot, idle_s)
    return first, forecasts, idle


async def measure_empty(idle_s: float) -> tuple[float, float]:
    start = time.perf_counter()
    app = Empty()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0)
        first = time.perf_counter() - start
        idle = await _idle_cpu(pilot, idle_s)
    return first, idle


def main(runs: int = 100, epochs: int = 300, idle_s: float = 10.0) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for i in range(runs):
            write_run(root / f"run-{i:03d}", epochs, 20, ended=i % 4 != 0)
        base_first, base_idle = asyncio.run(measure_empty(idle_s))
        first, forecasts, idle = asyncio.run(measure_list(root, runs, idle_s))
    print(f"{runs} runs x {epochs} epochs, {SIZE[0]}x{SIZE[1]}")
    print(f"empty Textual app, first frame : {base_first:.3f} s   idle CPU {base_idle:.2%}")
    print(f"run list, every row on screen  : {first:.3f} s   goal <= {GOAL_FIRST_S} s: "
          f"{'met' if first <= GOAL_FIRST_S else 'MISSED'} ({first / base_first:.1f}x the "
          "empty app)")
    print(f"run list, every forecast in    : {forecasts:.1f} s (a worker, one run at a time)")
    print(f"run list, idle CPU over {idle_s:.0f} s  : {idle:.2%}   goal < {GOAL_IDLE_CPU:.0%}: "
          f"{'met' if idle < GOAL_IDLE_CPU else 'MISSED'} (empty app: {base_idle:.2%})")


if __name__ == "__main__":
    main(*(float(a) if i == 2 else int(a) for i, a in enumerate(sys.argv[1:])))
