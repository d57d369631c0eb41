"""Live and abandoned branches of a stream, and the newest LR plan it carries."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Branches:
    """Epoch records split into the live branch and the abandoned ones.

    A `resume` (field `after_epoch`) or a `rewind` event (field `to_epoch`) makes every epoch
    recorded earlier with a higher number an abandoned branch: still in the file, never mixed
    into the live curve.
    """

    live: list[dict]
    abandoned: list[dict]


def branch_point(record: dict) -> int | None:
    """The epoch a resume or rewind record continues after, else None."""
    if record.get("type") == "resume":
        return int(record.get("after_epoch", 0))
    if record.get("type") == "event" and record.get("kind") == "rewind":
        return int(record.get("to_epoch", 0))
    return None


def split_branches(records: list[dict]) -> Branches:
    live: dict[int, dict] = {}
    abandoned: list[dict] = []
    for record in records:
        point = branch_point(record)
        if point is not None:
            for epoch in sorted(e for e in live if e > point):
                abandoned.append(live.pop(epoch))
        elif record.get("type") == "epoch" and isinstance(record.get("epoch"), int):
            previous = live.get(record["epoch"])
            if previous is not None:
                abandoned.append(previous)
            live[record["epoch"]] = record
    return Branches(live=[live[e] for e in sorted(live)], abandoned=abandoned)


def latest_plan(records: list[dict]) -> list[float] | None:
    """The planned per-epoch LRs of the newest run_start/resume record that has one."""
    for record in reversed(records):
        if record.get("type") in ("run_start", "resume") and record.get("lr_schedule"):
            return [float(x) for x in record["lr_schedule"]]
    return None
