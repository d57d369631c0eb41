import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from runwatch.schedule import ScheduleSpec, lr_at, spec_to_dict
from runwatch.tui import surgery
from runwatch.tui.surgery import EditChoice, describe_plan, edited_path, preview_lrs, resume_command

SEED = ScheduleSpec("cosine_restarts", 0.05, 100, t0=30, eta_min=1e-5)


def test_preview_of_t0_100_keep_phase_shows_the_jump_match_lr_avoids_it():
    schedule = spec_to_dict(SEED)
    last = lr_at(SEED, 30)
    keep = preview_lrs(schedule, 30, last, EditChoice(t0=100, continuity="keep-phase"))
    assert keep[0] == pytest.approx(0.0397, abs=1e-4)  # DOMAIN.md: a 270x jump
    assert len(keep) == 70
    match = preview_lrs(schedule, 30, last, EditChoice(t0=100, continuity="match-lr"))
    assert match[0] <= 2 * last


def test_edit_never_overwrites_and_resume_command():
    assert edited_path(Path("c/epoch-0030.pt")) == Path("c/epoch-0030-edited.pt")
    assert resume_command(Path("x.pt"), "smoke_cpu") == (
        "runwatch train --config smoke_cpu --resume-from x.pt")


def test_a_second_edit_of_the_same_checkpoint_gets_a_new_name(tmp_path):
    (tmp_path / "epoch-0030-edited.pt").write_bytes(b"first edit")
    assert edited_path(tmp_path / "epoch-0030.pt") == tmp_path / "epoch-0030-edited-2.pt"


def test_an_edit_name_taken_after_the_dialog_becomes_the_next_free_one(tmp_path):
    from ckpt_builders import torchvision_checkpoint

    source = torchvision_checkpoint(tmp_path / "epoch-0030.pt", 30)
    plan = surgery.plan_edit(source, EditChoice(t0=60))
    out = edited_path(source)
    out.write_bytes(b"another edit, written while the dialog was open")
    written = surgery.write_edit(plan, out)
    assert written == tmp_path / "epoch-0030-edited-2.pt"
    assert out.read_bytes() == b"another edit, written while the dialog was open"


def test_tools_unavailable(monkeypatch):
    monkeypatch.setitem(sys.modules, "runwatch.ckpt_tools", None)
    with pytest.raises(surgery.ToolsUnavailable, match="checkpoint tools unavailable"):
        surgery.plan_rewind(Path("."))


def test_a_rewind_plan_is_described_in_the_units_the_monitor_shows():
    plan = SimpleNamespace(to_dict=lambda: {
        "to_epoch": 6, "test_acc1": 89.453125, "source": "checkpoints/best.pt",
        "abandoned_epochs": list(range(7, 25)), "warnings": ["a", "b"]})
    assert describe_plan(plan).splitlines() == [
        "to_epoch: 6", "test_acc1: 89.45", "source: checkpoints/best.pt",
        "abandoned_epochs: 7-24 (18 epochs)", "warnings: ['a', 'b']"]
