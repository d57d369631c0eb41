"""TensorBoard event files: every `events.out.tfevents.*` in one folder is one run's log (a
restarted run writes a new file beside the old; a step logged again replaces the earlier value).
Files are read as they grow, from the last complete record (stream/logs/tfevents.py); scalars
become records as stream/logs/scalars.py says."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from runwatch.stream.logs.base import Head, LogFormat, ReadOptions
from runwatch.stream.logs.scalars import ScalarLog
from runwatch.stream.logs.tfevents import event_scalars, is_event_file_head, split_records
from runwatch.stream.reader import CHUNK_BYTES, FollowState, stat_log

PATTERN = "events.out.tfevents.*"
KIND = "TensorBoard events"
_STAMP = re.compile(r"^events\.out\.tfevents\.(\d+)")


def file_order(path: Path) -> tuple[int, str]:
    """Event files in the order they were started: the Unix time in the name, then the name."""
    stamp = _STAMP.match(path.name)
    return (int(stamp.group(1)) if stamp else 0, path.name)


@dataclass
class _EventFile:
    inode: int
    offset: int = 0
    damaged: str = ""  # why the rest of the file is not read


class TensorBoardLog(ScalarLog):
    kind_name = KIND

    def __init__(self, path: Path, options: ReadOptions, state: FollowState) -> None:
        super().__init__(path, options, state)
        self.folder = path.parent
        self.files: dict[Path, _EventFile] = {}

    def feed(self) -> bool:
        done = True
        for path in sorted(self.folder.glob(PATTERN), key=file_order):
            st = stat_log(path, self.state)
            if st is None:
                continue
            known = self.files.get(path)
            if known is None or known.inode != st.st_ino or st.st_size < known.offset:
                if known is not None:  # replaced or truncated: read every file again
                    self.files.clear()
                    self.series.points.clear()
                    self.series.version += 1
                    return False
                known = self.files[path] = _EventFile(st.st_ino)
            if known.damaged or known.offset >= st.st_size:
                continue
            with open(path, "rb") as f:
                f.seek(known.offset)
                buf = f.read(min(CHUNK_BYTES, st.st_size - known.offset))
            self._read(path, known, buf)
            done = done and (known.damaged or known.offset >= st.st_size)
        self.state.missing = False
        self.state.problem = next((f.damaged for f in self.files.values() if f.damaged), "")
        return done

    def _read(self, path: Path, known: _EventFile, buf: bytes) -> None:
        framed = split_records(buf)
        known.offset += framed.end
        if framed.damaged:
            known.damaged = f"{path.name}: {framed.damaged}; the rest of that file is not read"
        for data in framed.data:
            try:
                scalars = event_scalars(data) if data else None
            except ValueError:
                scalars = None
            if scalars is None:
                self.bad += 1
                self.state.last_bad, self.state.last_reason = path.name, "a damaged event"
                continue
            for s in scalars:
                self.series.add(s.tag, s.step, s.value, s.wall_time)


def sniff(head: Head) -> bool | None:
    return is_event_file_head(head.data)


def open_log(path: Path, options: ReadOptions, state: FollowState) -> TensorBoardLog:
    return TensorBoardLog(path, options, state)


FORMAT = LogFormat("tensorboard", KIND, "TensorBoard event files", (PATTERN,), sniff,
                   open_log, unit=lambda path: path.parent)
