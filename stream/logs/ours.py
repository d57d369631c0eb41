"""runwatch's own metric stream (`metrics.jsonl`, docs/metric-stream.md): JSON lines with a
string `type`; `--metric FIELD` reads that field as the accuracy."""

from __future__ import annotations

import json
from pathlib import Path

from runwatch.stream.logs.base import Head, LogFormat, ReadOptions
from runwatch.stream.logs.follow import LineLog
from runwatch.stream.reader import FollowState
from runwatch.stream.schema import STREAM_NAME

KIND = "runwatch stream"


def decisive_json_line(head: Head) -> dict | None:
    """The first of the first 20 lines that is a JSON object with a `type` or an `epoch`
    (a garbage line or two may come first): what tells our stream from a DeiT log."""
    if not head.text or not head.text[0].startswith("{"):
        return None
    for line in head.text[:20]:
        if not line.startswith("{"):
            continue
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(obj, dict) and (isinstance(obj.get("type"), str) or "epoch" in obj):
            return obj
    return None


def sniff(head: Head) -> bool | None:
    if not head.text:
        return None
    obj = decisive_json_line(head)
    return obj is not None and isinstance(obj.get("type"), str)


def open_log(path: Path, options: ReadOptions, state: FollowState) -> LineLog:
    return LineLog(path, state, KIND, synthetic=False, metric=options.metric)


FORMAT = LogFormat("stream", KIND, f"runwatch {STREAM_NAME}", (STREAM_NAME,), sniff, open_log)
