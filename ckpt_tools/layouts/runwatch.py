"""runwatch's own checkpoints (`format: "runwatch"`, docs/checkpoint-layout.md).

`epoch` counts the epochs completed; `schedule` is the ScheduleSpec the trainer builds its
scheduler from (per step when `steps_per_epoch` > 1); `step_in_epoch` marks a stop inside an
epoch; the last epoch's LR is in its `metrics`. Edits continue the spec (`plan_spec`), and the
resume command is exact (`ckpt_tools.rewind.edit_resume_command`).
"""

from __future__ import annotations

from runwatch.ckpt_tools import plan_spec
from runwatch.ckpt_tools.layouts.base import (
    CheckpointView,
    Layout,
    optimizer_at,
    require_schedule,
    scheduler_at,
    whole,
)
from runwatch.ckpt_tools.preview import (
    Preview,
    all_trained,
    jumps_after,
    last_stored_lr,
    stored_preview,
)
from runwatch.ckpt_tools.stepping import Stepping, taken_steps
from runwatch.schedule import lr_plan


class Runwatch(Layout):
    name = "runwatch"
    code_builds_scheduler = False  # the trainer builds it from the stored spec
    owns_run = True
    schedule_source = "the stored schedule (the runwatch trainer builds the scheduler from " \
                      "it and checks the stored state against it)"

    def detect(self, loaded) -> bool:
        return isinstance(loaded.obj, dict) and loaded.obj.get("format") == "runwatch"

    def read(self, loaded, hints) -> CheckpointView:
        obj = loaded.obj
        metrics = dict(obj.get("metrics")) if isinstance(obj.get("metrics"), dict) else {}
        for key in ("best_acc1", "best_epoch", "epochs_since_best"):
            if key in obj:
                metrics[key] = obj[key]
        view = CheckpointView(self, loaded, epochs_done=whole(obj.get("epoch")),
                              global_step=whole(obj.get("global_step")), model=obj.get("model"),
                              args=obj.get("config"), metrics=metrics,
                              step_in_epoch=whole(obj.get("step_in_epoch")) or 0,
                              schedule=obj.get("schedule") if isinstance(obj.get("schedule"),
                                                                         dict) else None)
        view.found.append(f"epoch = {view.epochs_done}: runwatch stores the epochs completed")
        optimizer_at(obj, ("optimizer",), view)
        scheduler_at(obj, ("lr_scheduler",), view)
        if view.scheduler is not None and view.scheduler.modelled and view.schedule:
            spec = plan_spec.spec_of(view)
            n = spec.steps_per_epoch
            taken = taken_steps(view.scheduler.position, view.scheduler.raw)
            view.stepping = Stepping(n, taken, f"the stored schedule steps {n} times an epoch"
                                     if n > 1 else "the stored schedule steps once per epoch")
            view.planned_steps = spec.epochs * n - spec.offset * n
        return view

    def preview(self, view, epochs) -> Preview:
        require_schedule(view)
        done = view.epochs_done or 0
        spec = plan_spec.spec_of(view)
        if spec.epochs - done < 1:
            raise all_trained(spec.epochs, 1, view.loaded.path)
        count = min(epochs, spec.epochs - done)
        if spec.steps_per_epoch > 1:  # each epoch's first step, from the spec
            out = stored_preview(view, count)
            out.first_epoch, out.epochs = done + 1, lr_plan(spec, done + 1, done + count)
            out.last_lr = plan_spec.last_lr(view, spec, done) if done else None
            out.jumps = []
            return out
        out = stored_preview(view, count)
        out.last_lr = plan_spec.last_lr(view, spec, done) if done else last_stored_lr(view)
        out.first_epoch, out.epochs = done + 1, out.steps[:count]
        out.jumps = jumps_after(out, -1)
        return out

    def plan(self, view, request):
        return plan_spec.plan_runwatch(view, request)

    def apply(self, view, plan) -> None:
        plan_spec.apply_runwatch(view, plan)
