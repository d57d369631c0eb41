"""The monitor's door to the checkpoint tools, and the LR preview of an edit (no textual here).

The ckpt_tools package may be absent (partial install, older checkout): that ImportError is the
only failure caught here; it becomes `ToolsUnavailable`, which the panel shows as "checkpoint
tools unavailable". The LR preview uses trainer.schedule, the one place LRs are computed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from runwatch.schedule import continue_schedule, lr_plan, spec_from_dict

UNAVAILABLE = "checkpoint tools unavailable"


class ToolsUnavailable(Exception):
    """ckpt_tools cannot be imported."""


def _tools():
    try:
        from runwatch import ckpt_tools
        from runwatch.ckpt_tools import EditRequest  # noqa: F401 - proves the API is there
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


def preview_lrs(schedule: dict, epochs_done: int, last_lr: float,
                choice: EditChoice) -> list[float]:
    """LRs of epochs epochs_done+1 .. end that the edited run would train with."""
    spec = spec_from_dict(schedule)
    changes = {"t0": choice.t0, "base_lr": choice.lr, "name": choice.schedule}
    new = replace(spec, **{k: v for k, v in changes.items() if v is not None}, offset=0)
    continued = continue_schedule(new, epochs_done, last_lr, choice.continuity)
    return lr_plan(continued, epochs_done + 1)


def plan_edit(checkpoint: Path, choice: EditChoice):
    tools = _tools()
    request = tools.EditRequest(t0=choice.t0, lr=choice.lr, schedule=choice.schedule,
                                continuity=choice.continuity)
    return tools.plan_edit(checkpoint, request)


def write_edit(plan, out_path: Path) -> Path:
    """Write to `out_path` (`edited_path`'s choice), or to the next free name when another
    process took it since the dialog; returns the path written."""
    return _tools().write_edit(plan, out_path, free=True)


def plan_rewind(run_dir: Path, to: str | int = "best"):
    return _tools().plan_rewind(run_dir, to=to)


def apply_rewind(plan):
    return _tools().apply_rewind(plan)


def edited_path(checkpoint: Path) -> Path:
    """Where an edit is written: beside its input, under a name not yet taken."""
    return _tools().free_name(checkpoint.parent, f"{checkpoint.stem}-edited", checkpoint.suffix)


def resume_command(checkpoint: Path, config: str | None) -> str:
    """How to continue from an edited checkpoint (the trainer follows its recorded edits)."""
    return f"runwatch train --config {config or 'CONFIG'} --resume-from {checkpoint}"


def describe_plan(plan) -> str:
    """The facts of a rewind or edit plan a user needs before saying yes, one per line."""
    data = plan.to_dict()
    edit = data.pop("edit", None)
    lines = []
    for key in ("to_epoch", "test_acc1", "source", "target", "abandoned_epochs", "mode",
                "first_epoch", "last_lr", "lr_after", "jump_ratio", "warnings", "changes"):
        value = data.get(key)
        if isinstance(value, list) and value and isinstance(value[0], float):
            value = " ".join(f"{v:.3g}" for v in value[:8])
        elif (isinstance(value, list) and len(value) > 2
              and all(isinstance(v, int) for v in value)
              and value == list(range(value[0], value[-1] + 1))):
            value = f"{value[0]}-{value[-1]} ({len(value)} epochs)"
        elif isinstance(value, float):
            value = f"{value:.4g}"  # test_acc1 89.45, not 89.453125
        if value not in (None, [], {}, ""):
            lines.append(f"{key}: {value}")
    if edit:
        lines.append(f"edit: LR {edit.get('last_lr')} -> {edit.get('lr_after', [None])[0]}")
    return "\n".join(lines)
