"""SIGTERM/SIGINT become a stop request; a second SIGINT aborts."""

from __future__ import annotations

import os
import signal

import pytest

from runwatch.trainer.signals import StopRequest


def test_signals_set_the_request_and_handlers_are_restored():
    before = signal.getsignal(signal.SIGTERM)
    stop = StopRequest()
    stop.install()
    try:
        assert not stop.is_set()
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.is_set() and stop.signal_name == "SIGTERM"
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)  # the second one: out now
    finally:
        stop.restore()
    assert signal.getsignal(signal.SIGTERM) is before
