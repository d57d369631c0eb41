"""The compare view's lines: several runs' accuracy and LR by epoch, their forecasts, and each
rewound run's abandoned branches (no textual here).

Runs are aligned by epoch (the stream's own numbering). A run's live branch and its abandoned
branches are split as `runwatch.stream.split_branches` defines them; each abandoned branch (a
stretch of epochs a resume or rewind replaced) is its own line, so it is drawn over the branch
that replaced it. The LR is the one each epoch record says, else the run's plan; the plan's
epochs still ahead are drawn as the LR's "forecast".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from runwatch.stream import split_branches
from runwatch.stream.branches import latest_plan
from runwatch.terminal import printable

LIVE, ABANDONED, FORECAST = "run", "abandoned", "forecast"


@dataclass(frozen=True)
class Line:
    """One series of the compare chart: a run's (label), of a kind (LIVE, ABANDONED or
    FORECAST), the `run` index picks its colour."""

    label: str
    kind: str
    run: int
    epochs: tuple[int, ...]
    values: tuple[float, ...]


@dataclass(frozen=True)
class Comparison:
    accuracy: tuple[Line, ...] = ()
    lr: tuple[Line, ...] = ()


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _line(label: str, kind: str, run: int, records: list[dict], key: str) -> Line | None:
    points = [(r["epoch"], v) for r in records if (v := _number(r.get(key))) is not None]
    if not points:
        return None
    return Line(label, kind, run, tuple(e for e, _ in points), tuple(v for _, v in points))


def abandoned_branches(abandoned: list[dict]) -> list[list[dict]]:
    """The abandoned epochs cut into branches: a new branch where the epochs stop rising."""
    branches: list[list[dict]] = []
    for record in abandoned:
        if not branches or record["epoch"] <= branches[-1][-1]["epoch"]:
            branches.append([])
        branches[-1].append(record)
    return branches


def run_lines(name: str, run: int, records: list[dict],
              predictions: tuple[tuple[int, float], ...] = ()) -> Comparison:
    """The lines of one run: accuracy (live, each abandoned branch, the forecast's median)
    and LR (live, each abandoned branch, the plan ahead)."""
    label = printable(name)
    branches = split_branches(records)
    plan = latest_plan(records)
    live = [_with_lr(r, plan) for r in branches.live]
    acc = [_line(label, LIVE, run, branches.live, "test_acc1")]
    lr = [_line(label, LIVE, run, live, "lr")]
    for i, branch in enumerate(abandoned_branches(branches.abandoned), 1):
        tag = f"{label} (abandoned {i})"
        acc.append(_line(tag, ABANDONED, run, branch, "test_acc1"))
        lr.append(_line(tag, ABANDONED, run, [_with_lr(r, plan) for r in branch], "lr"))
    if predictions:
        acc.append(Line(f"{label} (forecast)", FORECAST, run,
                        tuple(e for e, _ in predictions), tuple(v for _, v in predictions)))
    last = branches.live[-1]["epoch"] if branches.live else 0
    if plan and len(plan) > last:
        ahead = range(last + 1, len(plan) + 1)
        lr.append(Line(f"{label} (plan)", FORECAST, run, tuple(ahead),
                       tuple(plan[e - 1] for e in ahead)))
    return Comparison(tuple(x for x in acc if x is not None),
                      tuple(x for x in lr if x is not None))


def _with_lr(record: dict, plan: list[float] | None) -> dict:
    """The record with its LR: its own, else the plan's for its epoch."""
    if _number(record.get("lr")) is not None or not plan:
        return record
    epoch = record["epoch"]
    return {**record, "lr": plan[epoch - 1]} if 1 <= epoch <= len(plan) else record


def combine(comparisons: list[Comparison]) -> Comparison:
    return Comparison(tuple(x for c in comparisons for x in c.accuracy),
                      tuple(x for c in comparisons for x in c.lr))
