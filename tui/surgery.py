"""The monitor's door to the checkpoint tools, and the LR preview of an edit (no textual here).

Every surgery the monitor does is a rewind (`ckpt rewind`): to the best checkpoint, or to a
chosen one with a schedule edit on the way. A rewind writes a new checkpoint file, the run's
config beside it and a `rewind` event, so the resume command it returns is exact; editing the
newest checkpoint is a rewind that abandons nothing.

The ckpt_tools package may be absent (partial install, older checkout): that ImportError is the
only failure caught here; it becomes `ToolsUnavailable`, which the panel shows as "checkpoint
tools unavailable". The LR preview uses runwatch.schedule, the one place LRs are computed.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, replace
from pathlib import Path

from runwatch.schedule import continue_schedule, find_jumps, lr_plan, spec_from_dict
from runwatch.terminal import printable
from runwatch.tui.status import format_lr

UNAVAILABLE = "checkpoint tools unavailable"
PREVIEW_EPOCHS = 8


class ToolsUnavailable(Exception):
    """ckpt_tools cannot be imported."""


def _tools():
    try:
        from runwatch import ckpt_tools
        from runwatch.ckpt_tools import EditRequest, train_command  # noqa: F401 - the API used
    except ImportError as exc:
        raise ToolsUnavailable(UNAVAILABLE) from exc
    return ckpt_tools


@dataclass(frozen=True)
class EditChoice:
    """What the edit dialog asks for (None: keep the checkpoint's value)."""

    t0: int | None = None
    lr: float | None = None
    schedule: str | None = None
    continuity: str = "anneal-from-current"  # no jump, and no restart soon after

    def changes_shape(self) -> bool:
        """T_0, the LR or the schedule asked for: anneal-from-current would ignore them."""
        return self.t0 is not None or self.lr is not None or self.schedule is not None


def preview_lrs(schedule: dict, epochs_done: int, last_lr: float,
                choice: EditChoice) -> list[float]:
    """LRs of epochs epochs_done+1 .. end that the edited run would train with."""
    spec = spec_from_dict(schedule)
    changes = {"t0": choice.t0, "base_lr": choice.lr, "name": choice.schedule}
    new = replace(spec, **{k: v for k, v in changes.items() if v is not None}, offset=0)
    continued = continue_schedule(new, epochs_done, last_lr, choice.continuity)
    return lr_plan(continued, epochs_done + 1)


def preview_text(lrs: list[float], epochs_done: int, last_lr: float) -> str:
    """The LRs the next epochs train with, and the jump at the resume point, in two lines."""
    head = " ".join(format_lr(lr) for lr in lrs[:PREVIEW_EPOCHS])
    jumps = find_jumps(lrs[:1], epochs_done + 1, 2.0, last_lr)
    jump = (f"JUMP x{jumps[0].ratio:.0f} at the resume point" if jumps
            else f"no jump at the resume point (x{lrs[0] / last_lr:.2f})" if last_lr > 0 else "")
    return (f"epoch {epochs_done} ran at {format_lr(last_lr)}; from epoch {epochs_done + 1}: "
            f"{head} ... (min {format_lr(min(lrs))})\n{jump}")


def edit_flags(choice: EditChoice) -> list[str]:
    """The `runwatch ckpt` flags that ask for `choice`."""
    flags = []
    if choice.t0 is not None:
        flags += ["--t0", str(choice.t0)]
    if choice.lr is not None:
        flags += ["--lr", f"{choice.lr:g}"]
    if choice.schedule is not None:
        flags += ["--schedule", choice.schedule]
    return flags + ["--continuity", choice.continuity]


def rewind_command(run_dir: Path | str, epoch: int | str, choice: EditChoice | None) -> str:
    """The `runwatch ckpt rewind` command line that does what the monitor's dialog does."""
    args = ["runwatch", "ckpt", "rewind", str(run_dir), "--to", str(epoch)]
    args += edit_flags(choice) if choice is not None else []
    return shlex.join(args)


def plan_rewind(run_dir: Path, to: str | int = "best", choice: EditChoice | None = None):
    """Plan a rewind to the best checkpoint or to epoch `to`, with `choice` applied on the way
    (writes nothing)."""
    tools = _tools()
    request = None if choice is None else tools.EditRequest(
        t0=choice.t0, lr=choice.lr, schedule=choice.schedule, continuity=choice.continuity)
    return tools.plan_rewind(run_dir, to=to, request=request)


def apply_rewind(plan):
    return _tools().apply_rewind(plan)


def planned_resume_command(plan) -> str:
    """The resume command of a planned rewind, with the names it plans to write."""
    return _tools().train_command(plan.config_file, plan.run_dir, plan.target)


def _epochs(epochs: list[int]) -> str:
    if len(epochs) > 2 and epochs == list(range(epochs[0], epochs[-1] + 1)):
        return f"{epochs[0]}-{epochs[-1]} ({len(epochs)} epochs)"
    return ", ".join(str(e) for e in epochs)


def describe_plan(plan) -> str:
    """The facts of a rewind plan a user needs before saying yes, in words, one per line:
    the checkpoint, what is abandoned, the edit and its LRs, the warnings, what is written and
    the exact command that resumes (file names from files are made printable)."""
    acc = f" (test acc {plan.test_acc1:.2f})" if isinstance(plan.test_acc1, float) else ""
    lines = [f"rewind to epoch {plan.to_epoch}{acc}, from {printable(plan.source)}"]
    if plan.abandoned_epochs:
        lines.append(f"abandons epochs {_epochs(plan.abandoned_epochs)} (kept in the stream "
                     "as an abandoned branch)")
    edit = plan.edit
    if edit is not None:
        changed = ", ".join(f"{printable(key)} {printable(old)} -> {printable(new)}"
                            for key, (old, new) in edit.changes.items())
        lines.append(f"schedule: {changed or 'unchanged'}; continuity {edit.mode}")
        if edit.lr_after and edit.last_lr:
            lines += preview_text(edit.lr_after, edit.first_epoch - 1, edit.last_lr).split("\n")
        lines += [f"! {printable(w)}" for w in edit.warnings]
    lines.append(f"writes {printable(plan.target.name)} and {printable(plan.config_file.name)}; "
                 "nothing is overwritten")
    lines.append(f"then resume with:\n  {printable(planned_resume_command(plan))}")
    return "\n".join(lines)
