"""What the monitor follows: the one interface every source implements (no textual here).

`runwatch.stream.sources.Source` (our stream and other trainers' logs, followed live) and
`runwatch.stream.replay.ReplaySource` (a finished log played back) have this shape; the feed
(`tui.feed.StreamFeed`, which folds step records for the app) is written against it, never
against one of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from runwatch.stream import FollowState


@runtime_checkable
class MonitorSource(Protocol):
    kind: str  # the format, e.g. "runwatch stream", "DeiT log.txt", "seed run replay"
    note: str  # how it was read (which fields), or what it waits for
    state: FollowState  # records, bad lines and resets seen; whether the file is missing
    path: Path | None  # the file read, once found
    modified: float | None  # the file's last mtime seen (None: not a file, or not yet)

    def poll(self) -> tuple[list[dict], bool]:
        """New records since the last call, and whether the caller must start over."""
        ...

    def caught_up(self) -> bool:
        """Everything written so far has been returned."""
        ...
