"""The monitor's surgery: every rewind and edit through ckpt_tools' rewind, described in words
with its exact resume command before anything is written."""

import sys
from pathlib import Path

import pytest
from tui_pilot import tiny_run

from runwatch.schedule import ScheduleSpec, lr_at, spec_to_dict
from runwatch.tui import surgery
from runwatch.tui.surgery import EditChoice, describe_plan, preview_lrs, rewind_command

SEED = ScheduleSpec("cosine_restarts", 0.05, 100, t0=30, eta_min=1e-5)


def test_preview_of_t0_100_keep_phase_shows_the_jump_match_lr_avoids_it():
    schedule = spec_to_dict(SEED)
    last = lr_at(SEED, 30)
    keep = preview_lrs(schedule, 30, last, EditChoice(t0=100, continuity="keep-phase"))
    assert keep[0] == pytest.approx(0.0397, abs=1e-4)  # DOMAIN.md: a 270x jump
    assert len(keep) == 70
    match = preview_lrs(schedule, 30, last, EditChoice(t0=100, continuity="match-lr"))
    assert match[0] <= 2 * last


def test_the_cli_command_that_does_the_same():
    assert rewind_command("runs/r 1", 29, EditChoice(t0=100, continuity="match-lr")) == (
        "runwatch ckpt rewind 'runs/r 1' --to 29 --t0 100 --continuity match-lr")
    assert rewind_command("r", "best", None) == "runwatch ckpt rewind r --to best"


def test_the_confirmation_says_what_is_abandoned_the_lrs_and_the_exact_resume_command(
        tmp_path):
    run = tiny_run(tmp_path / "run")
    plan = surgery.plan_rewind(run, 3, EditChoice(t0=10, continuity="match-lr"))
    text = describe_plan(plan)
    assert text.startswith("rewind to epoch 3 (test acc ")
    assert "abandons epochs 4, 5 (kept in the stream as an abandoned branch)" in text
    assert "schedule: t0 3 -> 10; continuity match-lr" in text
    assert "epoch 3 ran at " in text and "no jump at the resume point" in text
    assert "writes rewind-from-0003.pt and rewind-0003.toml; nothing is overwritten" in text
    planned = text.split("then resume with:\n  ")[1]
    result = surgery.apply_rewind(plan)
    assert planned == result.resume_command  # what was confirmed is what was written
    assert planned.endswith(f"--resume-from {run / 'checkpoints' / 'rewind-from-0003.pt'}")


def test_file_names_from_files_are_shown_printable(tmp_path):
    run = tiny_run(tmp_path / "grid[\x1b]0;owned\x07")
    text = describe_plan(surgery.plan_rewind(run, "best"))
    assert "\x1b" not in text and "\x07" not in text and "grid[\\x1b]0;owned\\x07" in text


def test_tools_unavailable(monkeypatch):
    monkeypatch.setitem(sys.modules, "runwatch.ckpt_tools", None)
    with pytest.raises(surgery.ToolsUnavailable, match="checkpoint tools unavailable"):
        surgery.plan_rewind(Path("."))
