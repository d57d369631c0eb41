"""Messages the app's workers post to the UI thread: each carries the data it is about, so no
state is shared across threads (the UI thread applies it; attributes go down to widgets)."""

from __future__ import annotations

from pathlib import Path

from textual.message import Message

from runwatch.stream import FollowState
from runwatch.tui.advice import Option
from runwatch.tui.feed import Batch
from runwatch.tui.forecasting import ForecastOutcome


class RecordsRead(Message):
    """The follower read new records (or the file was reset, or its state changed)."""

    def __init__(self, batch: Batch, follow: FollowState, activity: float | None,
                 loading: bool) -> None:
        super().__init__()
        self.batch = batch
        self.follow = follow  # a copy: the follower goes on counting in its own
        self.activity = activity  # wall time new bytes were last seen
        self.loading = loading  # True while more records are already waiting to be read


class ForecastReady(Message):
    """A forecast of the history, with the "what to do" options it evaluated as scenarios."""

    def __init__(self, outcome: ForecastOutcome, options: list[Option]) -> None:
        super().__init__()
        self.outcome = outcome
        self.options = options


class CheckpointFilesListed(Message):
    def __init__(self, files: list[tuple[Path, int]]) -> None:
        super().__init__()
        self.files = files  # (path, size in bytes), sorted by name


class NotifyFailed(Message):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text  # why --notify-cmd failed, in one line


class RunsScanned(Message):
    """The run list's re-scan: every run's summary (a changed one read again)."""

    def __init__(self, summaries: list) -> None:
        super().__init__()
        self.summaries = summaries  # RunSummary of each run, in the entries' order


class OutlookReady(Message):
    """One run's forecast and alerts, with the summary they were made from."""

    def __init__(self, summary, outlook) -> None:
        super().__init__()
        self.summary = summary
        self.outlook = outlook
