"""What every layout adapter provides, and the view of a checkpoint it reads.

A layout is one trainer family's way of saving: where its optimizer and scheduler states sit,
how it counts epochs and steps, where the schedule comes from when it resumes (the stored
scheduler state, or its own settings rebuilt from arguments), what an edit may change and how
to resume from the edited file. Each lives in one module of this package, registered in
`LAYOUTS` (`layouts/__init__.py`); nothing else in the package knows layouts by name.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

from runwatch.ckpt_tools.load import LoadedCheckpoint
from runwatch.ckpt_tools.schedulers import Scheduler, parse_scheduler, unsupported
from runwatch.ckpt_tools.stepping import Stepping
from runwatch.ckpt_tools.tree import Hints, KeyPath, OptimizerState, parse_optimizer, show
from runwatch.errors import RunwatchError


@dataclass
class CheckpointView:
    """A checkpoint as its layout reads it: the checked parts, and how each was found."""

    layout: Layout
    loaded: LoadedCheckpoint
    epochs_done: int | None = None
    global_step: int | None = None
    model: object = None  # the weights (a dict of tensors, or a safetensors header)
    optimizer: OptimizerState | None = None
    scheduler: Scheduler | None = None
    stepping: Stepping | None = None
    args: object = None  # the run's arguments as stored (Namespace, dict, inert record)
    metrics: dict = field(default_factory=dict)
    found: list[str] = field(default_factory=list)  # where each part was found, and why
    extra_keys: list[str] = field(default_factory=list)
    step_in_epoch: int = 0  # steps of the next epoch done before a stop (mid-epoch files)
    planned_steps: int | None = None  # the run's planned total, in scheduler steps
    schedule: dict | None = None  # runwatch: its ScheduleSpec
    problems: list[str] = field(default_factory=list)  # parts found but unreadable, and why

    @property
    def obj(self) -> object:
        return self.loaded.obj


class Layout:
    """One trainer family's checkpoint; subclasses override what differs."""

    name = ""
    owns_run = False  # runwatch: its checkpoints live in a run directory it can rewind
    # The trainer's code builds the scheduler and then loads the stored fields into it: an
    # edit keeps the scheduler's class and changes its settings.
    code_builds_scheduler = True
    # Where the schedule comes from on resume, said by inspect.
    schedule_source = "the stored scheduler state (the training code builds the same class " \
                      "and load_state_dict overwrites its settings)"
    # The Hints fields its read() takes from the user; any other given is refused.
    uses_hints: frozenset[str] = frozenset()

    def detect(self, loaded: LoadedCheckpoint) -> bool:
        raise NotImplementedError

    def read(self, loaded: LoadedCheckpoint, hints: Hints) -> CheckpointView:
        raise NotImplementedError

    def preview(self, view: CheckpointView, epochs: int):
        """The next LRs (a preview.Preview); RunwatchError saying why not."""
        from runwatch.ckpt_tools.preview import stored_preview

        require_schedule(view)
        return stored_preview(view, epochs)

    def plan(self, view: CheckpointView, request):
        """An EditPlan for `request` (nothing written)."""
        from runwatch.ckpt_tools.plan_fields import plan_fields

        return plan_fields(view, request)

    def apply(self, view: CheckpointView, plan) -> None:
        """Set the plan's fields on the loaded tree (in memory)."""
        from runwatch.ckpt_tools.plan_fields import apply_fields

        apply_fields(view, plan)

    def resume_hint(self, view: CheckpointView, plan) -> str:
        """How to resume from the written file (OUT stands for its path)."""
        return ""

    def verify(self, view: CheckpointView, plan) -> str:
        """The oracle: the edited state replayed in torch; one line saying what it found (or
        why it did not run). RunwatchError on a disagreement."""
        from runwatch.ckpt_tools.oracle import check_plan

        return check_plan(view, plan)


def require_schedule(view: CheckpointView) -> None:
    """Refuse (one line) a view with nothing to preview or edit."""
    if view.problems:
        raise RunwatchError(view.problems[0])
    if view.optimizer is None:
        raise RunwatchError(f"{view.layout.name} checkpoint has no optimizer state: nothing to "
                            "edit (it holds weights only); pick a full training checkpoint")
    if view.scheduler is None:
        lrs = ", ".join(f"{g.lr:.6g}" for g in view.optimizer.groups if g.lr is not None)
        raise RunwatchError(f"{view.layout.name} checkpoint has no scheduler state: the LR stays "
                            f"at the optimizer's lr ({lrs or 'a tensor'}) unless the training "
                            "code changes it; `edit --lr` sets it")
    if not view.scheduler.modelled:
        raise unsupported(view.scheduler)
    if view.scheduler.kind == "ReduceLROnPlateau":
        raise RunwatchError(plateau_note(view.scheduler))
    if view.stepping is None or view.stepping.taken < 0:
        raise RunwatchError("the scheduler's position cannot be read")


def plateau_note(s: Scheduler) -> str:
    """What a ReduceLROnPlateau will do, from its state: it depends on the metric."""
    f = s.fields
    if f["cooldown_counter"] > 0:
        state = f"in cooldown for {f['cooldown_counter']} more epoch(s)"
    else:
        left = f["patience"] - f["num_bad_epochs"] + 1
        state = (f"{f['num_bad_epochs']} epoch(s) without improvement: the LR drops by "
                 f"x{f['factor']:g} after {left} more without improvement")
    return (f"ReduceLROnPlateau: the next LRs depend on the metric it is given ({f['mode']} "
            f"mode, best {f['best']:g}, patience {f['patience']}, cooldown {f['cooldown']}); "
            f"{state}; otherwise the LR stays")


def optimizer_at(obj: object, path: KeyPath, view: CheckpointView, how: str = "") -> None:
    """Parse the optimizer state at `path` into the view (absent: left None; unreadable: a
    problem the view reports, and nothing to edit)."""
    parsed = _parsed_at(obj, path, view, parse_optimizer,
                        lambda o: f"optimizer state at {show(path)} ({how}{o.kind})")
    if parsed is not None:
        view.optimizer = parsed


def scheduler_at(obj: object, path: KeyPath, view: CheckpointView, how: str = "") -> None:
    """Parse the scheduler state at `path` into the view, as `optimizer_at` does."""
    parsed = _parsed_at(obj, path, view, parse_scheduler,
                        lambda s: f"scheduler state at {show(path)} ({how}{s.describe()})")
    if parsed is not None:
        view.scheduler = parsed


def _parsed_at(obj: object, path: KeyPath, view: CheckpointView, parse, found_words):
    """`parse(value, path)` of the value at `path`, said in the view's findings; None when
    absent, or unreadable (then a problem the view reports)."""
    from runwatch.ckpt_tools.tree import at

    value = at(obj, path)
    if value is None:
        return None
    try:
        parsed = parse(value, path)
    except RunwatchError as exc:
        view.problems.append(str(exc))
        return None
    view.found.append(found_words(parsed))
    return parsed


def args_get(args: object, name: str) -> object:
    """A field of stored run arguments (argparse.Namespace, dict, or an inert record)."""
    if isinstance(args, argparse.Namespace):
        return getattr(args, name, None)
    if isinstance(args, dict):
        return args.get(name)
    state = getattr(args, "state", None)
    return state.get(name) if isinstance(state, dict) else None


def whole(value: object) -> int | None:
    """An int field as stored (None for anything else: bools, floats, strings)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 1 << 53:
        return value
    return None
