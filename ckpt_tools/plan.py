"""Plan a schedule edit: the LRs before and after, the jump at the resume point, the new fields.

Planning never writes; `ckpt_tools.edit.write_edit` applies a plan. Each layout plans in its
own terms (`Layout.plan`): a stored torch scheduler gets new settings in its own unit
(`plan_fields`), a runwatch checkpoint a continued ScheduleSpec (`plan_spec`), timm and the
Hugging Face Trainer new arguments for the scheduler they rebuild. Every plan's "after" LRs are
recomputed from the new fields the way the scheduler will step them, and where torch is
installed the oracle replays them in torch (`ckpt_tools.oracle`): a disagreement is a refusal.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field, fields
from pathlib import Path

from runwatch.ckpt_tools.knobs import Knobs
from runwatch.ckpt_tools.layouts import detect
from runwatch.ckpt_tools.load import LoadedCheckpoint, file_stamp, load_checkpoint
from runwatch.ckpt_tools.preview import JUMP_WARN_RATIO, TABLE_EPOCHS  # noqa: F401 - API
from runwatch.ckpt_tools.tree import Hints
from runwatch.errors import RunwatchError
from runwatch.schedule import CONTINUITY_MODES, SCHEDULE_NAMES

REL_TOL = 1e-9


@dataclass
class EditRequest:
    """What to change; None leaves a field as the checkpoint has it. Lengths in epochs
    (`epochs`, `t0`, `warmup`, `milestones`, `step_size`) are converted to the scheduler's own
    steps; `total_steps` and `warmup_steps` are in its steps already."""

    t0: int | None = None
    t_mult: int | None = None
    eta_min: float | None = None
    lr: float | None = None
    schedule: str | None = None
    epochs: int | None = None
    warmup: int | None = None
    continuity: str | None = None
    total_steps: int | None = None
    warmup_steps: int | None = None
    milestones: tuple[int, ...] | None = None
    gamma: float | None = None
    step_size: int | None = None
    oracle: bool = True  # replay the edit in torch when torch is installed

    def validated(self) -> EditRequest:
        """Itself, after checking each value's range (RunwatchError naming the flag)."""
        for name, low in (("t0", 1), ("t_mult", 1), ("epochs", 1), ("warmup", 0),
                          ("total_steps", 1), ("warmup_steps", 0), ("step_size", 1)):
            value = getattr(self, name)
            if value is not None and value < low:
                raise RunwatchError(f"--{name.replace('_', '-')} {value} is out of range: it "
                                    f"must be at least {low}")
        if self.lr is not None and not (self.lr > 0 and math.isfinite(self.lr)):
            raise RunwatchError(f"--lr {self.lr} is out of range: it must be a positive number")
        if self.eta_min is not None and not (self.eta_min >= 0 and math.isfinite(self.eta_min)):
            raise RunwatchError(f"--eta-min {self.eta_min} is out of range: it must be >= 0")
        if self.gamma is not None and not (self.gamma > 0 and math.isfinite(self.gamma)):
            raise RunwatchError(f"--gamma {self.gamma} is out of range: it must be above 0")
        if self.milestones is not None and any(m < 1 for m in self.milestones):
            raise RunwatchError("--milestones: each must be an epoch of at least 1")
        if self.schedule is not None and self.schedule not in SCHEDULE_NAMES:
            raise RunwatchError(f"--schedule {self.schedule!r}: use one of "
                                f"{', '.join(SCHEDULE_NAMES)}")
        if self.continuity is not None and self.continuity not in CONTINUITY_MODES:
            raise RunwatchError(f"--continuity {self.continuity!r}: use one of "
                                f"{', '.join(CONTINUITY_MODES)}")
        return self

    def is_empty(self) -> bool:
        return all(v is None for k, v in vars(self).items() if k != "oracle")

    def knobs(self) -> Knobs:
        return Knobs(lr=self.lr, eta_min=self.eta_min, epochs=self.epochs,
                     total_steps=self.total_steps, t0=self.t0, t_mult=self.t_mult,
                     warmup=self.warmup, warmup_steps=self.warmup_steps,
                     milestones=self.milestones, gamma=self.gamma, step_size=self.step_size,
                     schedule=self.schedule)


@dataclass
class EditPlan:
    """A previewed edit. Rows are epochs (`first_epoch`, `lr_before`, `lr_after`) where the
    steps per epoch are known, else scheduler steps (`first_step`, `steps_before`,
    `steps_after`, 0-based); `unit` says which the scheduler counts in."""

    source: Path
    layout: str
    mode: str
    first_epoch: int | None
    last_lr: float | None
    lr_before: list[float]
    lr_after: list[float]
    jump_ratio: float | None
    warnings: list[str]
    changes: dict
    unit: str = "epoch"
    first_step: int = 0
    steps_after: list[float] = field(default_factory=list)
    from_schedule: dict | None = None
    to_schedule: dict | None = None
    resume_hint: str = ""
    oracle: str = ""  # what the torch replay said (or why it did not run)
    new_epochs: int | None = None  # the planned total in epochs, when the edit set it
    resume_in_run: bool = False  # runwatch: resumed by an exact command in its run directory
    source_stamp: tuple = field(default=(), repr=False)
    hints: Hints = field(default_factory=Hints, repr=False)  # what settled the layout's reading
    # The checkpoint as planned, reused by the first write while the file is unchanged (a
    # second read of a 200 MB checkpoint's data.pkl costs as much as the copy of its tensors).
    loaded: LoadedCheckpoint | None = field(default=None, repr=False, compare=False)
    # What write_edit sets: the scheduler state, each group's fields, run arguments, and the
    # record the edited file keeps (ckpt_tools.stepping.edit_record).
    new_scheduler: dict | None = field(default=None, repr=False)
    new_groups: list[dict] = field(default_factory=list, repr=False)
    new_args: dict = field(default_factory=dict, repr=False)
    new_record: dict | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        out = {f.name: copy.deepcopy(getattr(self, f.name)) for f in fields(self)
               if not f.name.startswith("new_")
               and f.name not in ("source_stamp", "hints", "loaded")}
        out["source"] = str(self.source)
        out["new_epochs"] = self.new_epochs
        return out

    def take_loaded(self) -> LoadedCheckpoint | None:
        """The checkpoint as planned, once (a write changes it), if its file is unchanged."""
        loaded, self.loaded = self.loaded, None
        if loaded is None or not loaded.stamp or file_stamp(loaded.path) != loaded.stamp:
            return None
        return loaded


def plan_edit(path: str | Path, request: EditRequest, hints: Hints | None = None) -> EditPlan:
    """Plan `request` on the checkpoint at `path` (nothing is written).

    Tensor CRCs are checked when the plan is written (the copy streams them through a CRC
    check and refuses a corrupt record), not here: the preview needs only data.pkl.
    """
    return plan_loaded(load_checkpoint(path, check_crc=False), request, hints)


def plan_loaded(loaded: LoadedCheckpoint, request: EditRequest,
                hints: Hints | None = None) -> EditPlan:
    request = request.validated()
    hints = hints or Hints()
    view = detect(loaded, hints)
    plan = view.layout.plan(view, request)
    plan.source, plan.source_stamp, plan.layout = loaded.path, loaded.stamp, view.layout.name
    plan.hints = hints
    plan.resume_in_run = view.layout.owns_run
    plan.loaded = loaded
    plan.resume_hint = view.layout.resume_hint(view, plan)
    plan.oracle = view.layout.verify(view, plan) if request.oracle else \
        "not run (--no-oracle)"
    return plan


def same(a: list[float], b: list[float], rel: float = REL_TOL) -> bool:
    return len(a) == len(b) and all(math.isclose(x, y, rel_tol=rel, abs_tol=1e-15)
                                    for x, y in zip(a, b, strict=True))
