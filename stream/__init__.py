"""The metric stream and other trainers' logs as stream records (torch-free; every part reads
through here).

The stream is `RUN_DIR/metrics.jsonl`, one JSON object a line (docs/metric-stream.md):
`schema` (names, and what readers accept), `run_stream` (`open_run`: the public writer for any
training loop), `writer` (the trainer's), `reader` (whole or followed live), `branches` (live
and abandoned epochs). Other trainers' logs read as the same records: `sources` (find, detect
and follow), `logs` (one module per format, registered in `logs.FORMATS`); `replay` plays a
finished log back as if live.
"""

from runwatch.stream.branches import Branches, branch_point, latest_plan, split_branches
from runwatch.stream.reader import FollowState, StreamFollower, parse_line, read_stream
from runwatch.stream.run_stream import RunStream, open_run
from runwatch.stream.schema import (
    END_STATUSES,
    RECORD_TYPES,
    SCHEMA_VERSION,
    STREAM_NAME,
    stream_path,
)
from runwatch.stream.writer import StreamWriter

__all__ = [
    "END_STATUSES", "RECORD_TYPES", "SCHEMA_VERSION", "STREAM_NAME", "Branches", "FollowState",
    "RunStream", "StreamFollower", "StreamWriter", "branch_point", "latest_plan", "open_run",
    "parse_line", "read_stream", "split_branches", "stream_path",
]
