"""Messages the app's workers post to the UI thread (messages up, attributes down)."""

from __future__ import annotations

from textual.message import Message

from runwatch.stream import FollowState
from runwatch.tui.checkpoints import CheckpointRow
from runwatch.tui.forecasting import ForecastOutcome
from runwatch.tui.run_model import Change


class StreamUpdated(Message):
    """The follower folded new records into the model (or the file was reset)."""

    def __init__(self, change: Change, follow: FollowState, activity: float | None,
                 loading: bool) -> None:
        super().__init__()
        self.change = change
        self.follow = follow
        self.activity = activity  # wall time new bytes were last seen
        self.loading = loading  # True while more records are already waiting to be read


class ForecastReady(Message):
    def __init__(self, outcome: ForecastOutcome) -> None:
        super().__init__()
        self.outcome = outcome


class CheckpointsListed(Message):
    def __init__(self, rows: list[CheckpointRow]) -> None:
        super().__init__()
        self.rows = rows
