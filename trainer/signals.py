"""SIGTERM/SIGINT become a stop request the loop honours at its next sync point; a second
SIGINT aborts the run at once."""

from __future__ import annotations

import signal
import threading


class Abort(KeyboardInterrupt):
    """A second SIGINT: stop now, without another checkpoint (the run's last one stays)."""


class StopRequest:
    """Set by a signal (or a test); the loop checkpoints and stops when it sees it.

    A second SIGINT raises Abort where the main thread is, for a user who really wants out
    now; any SIGINT after that is Python's own KeyboardInterrupt.
    """

    def __init__(self) -> None:
        self.signal_name: str | None = None
        self._previous: dict[int, object] = {}

    def is_set(self) -> bool:
        return self.signal_name is not None

    def set(self, name: str) -> None:
        self.signal_name = self.signal_name or name

    def _handle(self, signum: int, frame: object) -> None:
        if signum == signal.SIGINT and self.is_set():
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise Abort
        self.set(signal.Signals(signum).name)

    def install(self) -> None:
        """Catch SIGTERM and SIGINT (main thread only: signals cannot be caught elsewhere)."""
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in (signal.SIGTERM, signal.SIGINT):
            self._previous[signum] = signal.signal(signum, self._handle)

    def restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()
