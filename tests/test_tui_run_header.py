"""The header's ETA: a future epoch and date, or the epoch the target was reached."""

import math

from runwatch.tui.status import HeaderFacts
from runwatch.tui.widgets.run_header import eta_text


def _facts(epoch, eta_epoch, eta_at=None):
    return HeaderFacts(run_name="r", state="running", status="running", epoch=epoch,
                       planned_epochs=300, elapsed_s=None, images_per_s=math.nan,
                       epoch_time_s=None, eta_epoch=eta_epoch, eta_at=eta_at, bad_lines=0,
                       target=82.0)


def test_eta_in_the_past_reads_reached():
    assert eta_text(_facts(epoch=300, eta_epoch=269)) == "82% reached at ep 269"


def test_eta_ahead_reads_eta():
    assert eta_text(_facts(epoch=250, eta_epoch=269)) == "ETA 82%: ep 269"
