"""Which LRs the resumed run will use: the preview of a stored torch scheduler.

The preview steps the scheduler's own state (`schedulers.simulate`) from the resume point:
per step, and per epoch (each epoch's first step) where the steps per epoch are known. It stops
at the run's planned total or where the schedule itself is planned to end (a cosine's T_max,
a OneCycleLR's total_steps), whichever comes first, so nothing is shown (or warned about) past
the end of training. Jumps are rises of 3x or more from one step to the next, the first
measured from the LR the last step trained with; the end of a warmup is not one.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

from runwatch.ckpt_tools import sched_forms, specs
from runwatch.ckpt_tools.schedulers import Scheduler, check_groups, simulate
from runwatch.ckpt_tools.stepping import Stepping, edit_record
from runwatch.errors import RunwatchError
from runwatch.schedule import Jump, find_jumps
from runwatch.terminal import printable

TABLE_EPOCHS = 10
TABLE_STEPS = 10
JUMP_WARN_RATIO = 3.0


@dataclass
class Preview:
    """The next LRs (first param group) from the resume point.

    `steps[i]` is the LR of scheduler step `first_step + i` (0-based: the steps taken so far
    are 0 .. first_step - 1); `epochs[i]` that of epoch `first_epoch + i`'s first step."""

    per_epoch: int | None
    first_step: int
    steps: list[float]
    first_epoch: int | None = None
    epochs: list[float] = field(default_factory=list)
    last_lr: float | None = None  # the last step trained before the resume point
    end: str = ""  # why it stops where it does
    jumps: list[Jump] = field(default_factory=list)  # in scheduler steps (Jump.epoch: a step)

    def rows(self) -> list[tuple[int, float]]:
        """(epoch or 1-based step, LR) rows of the table the reports print."""
        if self.first_epoch is not None and self.epochs:
            return [(self.first_epoch + i, lr) for i, lr in enumerate(self.epochs)]
        return [(self.first_step + 1 + i, lr) for i, lr in enumerate(self.steps[:TABLE_STEPS])]


def count_and_end(per_epoch: int | None, position: int, taken: int, planned: int | None,
                  natural: int | None, epochs: int = TABLE_EPOCHS) -> tuple[int, str]:
    """How many steps to preview from `position` (the scheduler's own counter; `taken` steps
    really trained) and why it stops there."""
    count = per_epoch * epochs if per_epoch else TABLE_STEPS
    end = ""
    if planned is not None and planned - taken < count:
        count, end = planned - taken, f"the run's planned total ({planned} steps)"
    if natural is not None and natural - position + 1 < count:
        count, end = natural - position + 1, "the end the schedule is planned for"
    return max(count, 0), end


def stored_preview(view, epochs: int = TABLE_EPOCHS) -> Preview:
    """The preview of a view whose optimizer and scheduler states are stored (torchvision,
    Lightning, hand-written loops, Accelerate)."""
    view.optimizer.lrs()  # a tensor LR is refused here, in one line
    groups = [g.schedule_fields() for g in view.optimizer.groups]
    return make_preview(view.scheduler, groups, view.stepping, view.epochs_done,
                        view.planned_steps, last_stored_lr(view), epochs, view.loaded.path)


def all_trained(planned: int, per_epoch: int | None, path: Path | str) -> RunwatchError:
    """Nothing left to resume: said in the run's unit, with the edit that trains it longer
    (the real path, shown safely and quoted for the shell)."""
    if per_epoch and planned % per_epoch == 0:
        steps = f" ({planned} steps)" if per_epoch > 1 else ""
        what, flag = f"{planned // per_epoch} planned epochs{steps}", "--epochs N"
    else:
        what, flag = f"{planned} planned steps", "--total-steps N"
    return RunwatchError(f"all {what} are trained: nothing to resume; to train longer, preview "
                         f"it with `runwatch ckpt edit {shlex.quote(printable(path))} {flag} "
                         "--dry-run`")


def make_preview(sched: Scheduler, groups: list[dict], stepping: Stepping,
                 epochs_done: int | None, planned: int | None, last_lr: float | None,
                 epochs: int = TABLE_EPOCHS, path: Path | str = "PATH") -> Preview:
    """Step `sched` from its position: the next epochs' (or steps') LRs and the jumps."""
    check_groups(sched, len(groups))
    per_epoch = stepping.per_epoch
    position = sched.position
    positioned = sched.kind in sched_forms.POSITIONED
    count, end = count_and_end(per_epoch, position, stepping.taken, planned,
                               sched_forms.natural_end(sched) if positioned else None, epochs)
    if count < 1:
        raise all_trained(planned or stepping.taken, per_epoch, path)
    steps = [row[0] for row in simulate(sched, groups, count)]
    preview = Preview(per_epoch, stepping.taken, steps, end=end, last_lr=last_lr)
    if per_epoch and epochs_done is not None:
        preview.first_epoch = epochs_done + 1
        preview.epochs = steps[::per_epoch]
    ramp = sched_forms.ramp_end(sched) - position if positioned else -1
    preview.jumps = jumps_after(preview, ramp)
    return preview


def last_stored_lr(view) -> float | None:
    """The LR the last step before the resume point ran at: an edit's record while its
    position holds, else the schedule at the step before (its fields describe the run)."""
    sched = view.scheduler
    check_groups(sched, len(view.optimizer.groups))
    record = edit_record(sched.raw)
    if record and record["at"] == sched.position:
        return record["last_lr"]
    if sched.position < 1:
        return None
    if sched_forms.main_child(sched).kind == "CosineAnnealingWarmRestarts":
        # The period in use is T_i, whatever T_0 says (an edit of T_0 alone changes nothing).
        try:
            from_fields = specs.last_lr_from_fields(sched.raw)
        except RunwatchError:
            from_fields = None
        if from_fields is not None:
            return from_fields
    groups = [g.schedule_fields() for g in view.optimizer.groups]
    try:
        return sched_forms.lr_at(sched, groups, sched.position - 1)[0]
    except RunwatchError:  # a ChainedScheduler of forms that do not multiply
        return None


def jumps_after(preview: Preview, ramp: int) -> list[Jump]:
    """Rises of JUMP_WARN_RATIO or more between consecutive steps (Jump.epoch is the 0-based
    step), the first from the last trained LR; none inside a planned ramp (`ramp`: steps from
    the resume point to the end of a warmup)."""
    found = find_jumps(preview.steps, preview.first_step, JUMP_WARN_RATIO,
                       prev_lr=preview.last_lr)
    return [j for j in found if j.epoch - preview.first_step > ramp]


def epoch_of(preview: Preview, step: int) -> int | None:
    """The 1-based epoch a 0-based scheduler step belongs to, when known."""
    if preview.first_epoch is None or not preview.per_epoch:
        return None
    return preview.first_epoch + (step - preview.first_step) // preview.per_epoch
