"""Apply an EditPlan: set the new fields, write atomically, reload and check the LRs.

Only `data.pkl` changes (momentum buffers and weights are copied byte for byte); a checkpoint
folder becomes a new folder (`ckpt_tools.folder`). What changes is the layout's business
(`Layout.apply`): a stored scheduler's state and the groups' LRs, timm's args, runwatch's
schedule and `edits` record. The written file is then read back like any input and its
preview must be the plan's.
"""

from __future__ import annotations

import math
from pathlib import Path

from runwatch.ckpt_tools.folder import write_folder
from runwatch.ckpt_tools.layouts import detect
from runwatch.ckpt_tools.load import ensure_unchanged, load_checkpoint
from runwatch.ckpt_tools.plan import EditPlan
from runwatch.ckpt_tools.preview import TABLE_EPOCHS
from runwatch.ckpt_tools.write import write_checkpoint
from runwatch.errors import RunwatchError
from runwatch.runlock import checkpoint_run_dir, ensure_not_live


def write_edit(plan: EditPlan, out_path: str | Path, in_place: bool = False,
               free: bool = False) -> Path:
    """Write the edited checkpoint to `out_path` (atomic; with `free`, the next free name when
    another process took it since it was chosen), then verify it; returns the path written.
    Refused into the checkpoints of a run whose trainer is running (it replaces and prunes
    them)."""
    ensure_not_live(checkpoint_run_dir(out_path))
    loaded = plan.take_loaded() or load_checkpoint(plan.source, check_crc=False)  # the copy
    ensure_unchanged(loaded, plan.source_stamp)  # checks every CRC
    view = detect(loaded, plan.hints)
    view.layout.apply(view, plan)
    if loaded.container == "folder":
        out = write_folder(loaded, Path(out_path), in_place)
    else:
        out = write_checkpoint(loaded, loaded.obj, Path(out_path), in_place=in_place,
                               free=free)
    try:
        verify_written(out, plan)
    except RunwatchError:
        if not in_place and out.is_file():
            out.unlink(missing_ok=True)
        raise
    return out


def verify_written(out: Path, plan: EditPlan) -> None:
    """Reload `out` with the reader and preview it again: the LRs must be the plan's."""
    view = detect(load_checkpoint(out, check_crc=False), plan.hints)
    if plan.new_scheduler is None and not plan.new_args:  # an LR-only edit: the groups' lr
        got = view.optimizer.lrs()[:1]
    else:
        got = [lr for _, lr in view.layout.preview(view, TABLE_EPOCHS).rows()]
    want = plan.lr_after
    if not all(math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-15)
               for a, b in zip(got, want, strict=False)) or len(got) < len(want):
        raise RunwatchError(f"verification failed: {out} would give LRs {got[:3]}, the preview "
                            f"said {want[:3]}; nothing was kept")
