"""SIGTERM/SIGINT become a stop request; a second SIGINT aborts, a third is Python's own."""

from __future__ import annotations

import os
import signal

import pytest

from runwatch.trainer.signals import Abort, StopRequest


def test_signals_set_the_request_and_handlers_are_restored():
    before = signal.getsignal(signal.SIGTERM)
    stop = StopRequest()
    stop.install()
    try:
        assert not stop.is_set()
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.is_set() and stop.signal_name == "SIGTERM"
    finally:
        stop.restore()
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_second_sigint_aborts_and_a_third_is_a_plain_keyboard_interrupt():
    before = signal.getsignal(signal.SIGINT)
    stop = StopRequest()
    stop.install()
    try:
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.signal_name == "SIGINT"
        with pytest.raises(Abort):
            os.kill(os.getpid(), signal.SIGINT)
        with pytest.raises(KeyboardInterrupt) as third:
            os.kill(os.getpid(), signal.SIGINT)
        assert type(third.value) is KeyboardInterrupt
    finally:
        stop.restore()
    assert signal.getsignal(signal.SIGINT) is before
