"""Apply an EditPlan: set the new fields, write atomically, reload and check the LRs.

Only `data.pkl` changes (momentum buffers and weights are copied byte for byte). For runwatch
checkpoints `schedule` becomes the continued schedule and `edits` gains a record; `config`
stays as the run was first configured (docs/checkpoint-layout.md).
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

from runwatch.ckpt_tools.layouts import EDIT_RECORD, CheckpointView, detect, edit_record
from runwatch.ckpt_tools.load import ensure_unchanged, load_checkpoint
from runwatch.ckpt_tools.plan import EditPlan, upcoming_lrs
from runwatch.ckpt_tools.schedulers import scheduler_type
from runwatch.ckpt_tools.write import write_checkpoint
from runwatch.errors import RunwatchError
from runwatch.runlock import checkpoint_run_dir, ensure_not_live


def apply_plan(view: CheckpointView, plan: EditPlan) -> None:
    """Set the plan's fields on the loaded tree behind `view` (in memory)."""
    groups = view.param_groups
    for group, lr, initial in zip(groups, plan.new_group_lrs, plan.new_initial_lrs,
                                  strict=True):
        group["lr"] = lr
        group["initial_lr"] = initial
    if plan.new_scheduler is not None:
        record = _record(view, plan)
        view.scheduler.clear()
        view.scheduler.update(plan.new_scheduler)
        if record:
            view.scheduler[EDIT_RECORD] = record
    if plan.new_args:
        if isinstance(view.args, argparse.Namespace):
            for key, value in plan.new_args.items():
                setattr(view.args, key, value)
        elif isinstance(view.args, dict):
            view.args.update(plan.new_args)
    if view.layout == "runwatch":
        obj = view.obj
        obj["schedule"] = plan.to_schedule
        obj["lr_scheduler_type"] = scheduler_type(plan.new_scheduler)
        obj["edits"] = [*obj.get("edits", []), {
            "time": time.time(), "mode": plan.mode, "changes": plan.changes,
            "from_schedule": plan.from_schedule, "to_schedule": plan.to_schedule,
        }]


def _record(view: CheckpointView, plan: EditPlan) -> dict:
    """The edit record another trainer's scheduler state keeps (runwatch checkpoints record
    their edits in `edits` and their schedule): the new fields describe the new schedule, not
    the steps taken nor the LR the last epoch ran at."""
    if view.layout == "runwatch":
        return {}
    old = view.scheduler
    taken = int(old["last_epoch"]) - edit_record(old).get("offset", 0)
    at = int(plan.new_scheduler["last_epoch"])
    return {"at": at, "offset": at - taken, "last_lr": plan.last_lr}


def write_edit(plan: EditPlan, out_path: str | Path, in_place: bool = False,
               free: bool = False) -> Path:
    """Write the edited checkpoint to `out_path` (atomic; with `free`, the next free name when
    another process took it since it was chosen), then verify it; returns the path written.
    Refused into the checkpoints of a run whose trainer is running (it replaces and prunes
    them)."""
    ensure_not_live(checkpoint_run_dir(out_path))
    loaded = load_checkpoint(plan.source, check_crc=False)  # the copy checks every CRC
    ensure_unchanged(loaded, plan.source_stamp)
    if loaded.container == "hf-folder":
        raise RunwatchError("Hugging Face Trainer folders cannot be edited (LambdaLR stores no "
                            "formula)")
    view = detect(loaded)
    apply_plan(view, plan)
    out = write_checkpoint(loaded, loaded.obj, Path(out_path), in_place=in_place,
                           free=free)
    try:
        verify_written(out, plan)
    except RunwatchError:
        if not in_place:
            out.unlink(missing_ok=True)
        raise
    return out


def verify_written(out: Path, plan: EditPlan) -> None:
    """Reload `out` with the reader and recompute the next LRs: they must be the preview's."""
    view = detect(load_checkpoint(out, check_crc=False))  # data.pkl's CRC is still checked
    got = upcoming_lrs(view, len(plan.lr_after))
    if not all(math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-15)
               for a, b in zip(got, plan.lr_after, strict=True)):
        raise RunwatchError(f"verification failed: {out} would give LRs {got[:3]}, the preview "
                            f"said {plan.lr_after[:3]}; nothing was kept")
