"""What the monitor polls: a Source, with our own stream's step records folded cheaply.

A long run's stream is mostly step records (a million of them is 150 MB). The monitor only
needs their loss (a downsampled sparkline), time and speed, so building a dict for each with
`json.loads` would dominate the load time and memory. `StreamFeed` reads our stream with
`trainer.stream.StreamFollower` and a line parser that folds each compact step line (as
StreamWriter writes it) into three floats and lets every other line through `parse_line`;
every other format goes through the Source unchanged. Folded steps come out as one
`steps` record per poll (a TUI-internal type: `loss` list, the last step's `time` and
`images_per_s`).
"""

from __future__ import annotations

from runwatch.stream import FollowState, StreamFollower, parse_line
from runwatch.stream.sources import KINDS

STEP_PREFIX = '{"type":"step",'
CHUNK_BYTES = 8 << 20  # per poll: bounded memory, and the first epochs show at once


def _field(line: str, key: str) -> float | None:
    """The number after `"key":` in a compact JSON line, or None."""
    start = line.find(key)
    if start < 0:
        return None
    start += len(key)
    end = line.find(",", start)
    if end < 0:
        end = line.rfind("}")
    return float(line[start:end])


class StepFolder:
    """A StreamFollower line parser that keeps step lines as their loss instead of dicts.

    Time and speed are read from the last step line of each batch only: the header shows
    the latest, and reading them from every line would double the cost.
    """

    def __init__(self) -> None:
        self.loss: list[float] = []
        self._last = ""

    def __call__(self, line: str) -> dict | None:
        if not line.startswith(STEP_PREFIX):
            return parse_line(line)
        text = line.rstrip()
        if not text.endswith("}"):
            raise ValueError("truncated step record")
        loss = _field(text, '"loss":')
        if loss is not None:
            self.loss.append(loss)
        self._last = text
        return None

    def take(self) -> dict | None:
        """The steps folded since the last call, as one `steps` record (None if none)."""
        if not self._last:
            return None
        record = {"type": "steps", "loss": self.loss, "time": _field(self._last, '"time":'),
                  "images_per_s": _field(self._last, '"images_per_s":')}
        self.loss, self._last = [], ""
        return record


class StreamFeed:
    """Has a Source's interface (`poll`, `state`, `kind`, `note`, `modified`, `caught_up`)."""

    def __init__(self, source) -> None:
        self.source = source
        self._folder = StepFolder()
        self._fast: StreamFollower | None = None

    def _ours(self) -> bool:
        return (getattr(self.source, "kind", None) == KINDS["stream"]
                and not getattr(self.source, "metric", None))

    def poll(self) -> tuple[list[dict], bool]:
        if self._fast is None:
            if not self._ours():
                records, reset = self.source.poll()
                if not self._ours():
                    return records, reset
                # Just detected as ours: read it again, the fast way, from the start.
                self._start_fast()
                records, _ = self._poll_fast()
                return records, True
            self._start_fast()
        return self._poll_fast()

    def _start_fast(self) -> None:
        self._fast = StreamFollower(self.source.path, state=FollowState(), parse=self._folder)

    def _poll_fast(self) -> tuple[list[dict], bool]:
        records, reset = self._fast.poll(CHUNK_BYTES)
        steps = self._folder.take()
        if steps is not None:
            records.append(steps)
            self._fast.state.records += len(steps["loss"])  # the steps it folded
        try:
            self.source.modified = self.source.path.stat().st_mtime
        except FileNotFoundError:
            self._fast.state.missing = True
        return records, reset

    @property
    def state(self) -> FollowState:
        return self._fast.state if self._fast is not None else self.source.state

    @property
    def kind(self) -> str:
        return self.source.kind

    @property
    def note(self) -> str:
        return self.source.note

    @property
    def modified(self) -> float | None:
        return getattr(self.source, "modified", None)

    def caught_up(self) -> bool:
        return self._fast.caught_up() if self._fast is not None else self.source.caught_up()
