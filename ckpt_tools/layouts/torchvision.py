"""torchvision's classification reference (references/classification/train.py).

It saves `{model, optimizer, lr_scheduler, epoch, args}` (+ `model_ema`, `scaler`) after each
epoch, `epoch` being the index of the epoch just finished, and resumes with `start_epoch =
checkpoint["epoch"] + 1` after building its scheduler from the command line
(`--lr-scheduler steplr|cosineannealinglr|exponentiallr`, `--lr-warmup-method linear|constant`,
`--lr-warmup-epochs`) and loading the stored state into it. Its loop steps the scheduler once
per epoch; a torchvision-style file whose scheduler stepped per batch says so by its
last_epoch.
"""

from __future__ import annotations

import shlex

from runwatch.ckpt_tools.layouts.base import (
    CheckpointView,
    Layout,
    args_get,
    optimizer_at,
    scheduler_at,
    whole,
)
from runwatch.ckpt_tools.stepping import settle, taken_steps


class Torchvision(Layout):
    name = "torchvision"
    uses_hints = frozenset({"steps_per_epoch"})

    def detect(self, loaded) -> bool:
        obj = loaded.obj
        return (isinstance(obj, dict) and "model" in obj and "optimizer" in obj
                and args_get(obj.get("args"), "lr_scheduler") is not None)

    def read(self, loaded, hints) -> CheckpointView:
        obj = loaded.obj
        view = CheckpointView(self, loaded, model=obj.get("model"), args=obj.get("args"),
                              extra_keys=[k for k in ("model_ema", "scaler") if k in obj])
        optimizer_at(obj, ("optimizer",), view)
        scheduler_at(obj, ("lr_scheduler",), view)
        epoch = whole(obj.get("epoch"))
        if epoch is not None:
            view.epochs_done = epoch + 1
            view.found.append(f"epoch = {epoch}: the index of the last epoch finished (train.py "
                              f"resumes at epoch + 1), {epoch + 1} done")
        if view.scheduler is not None and view.scheduler.modelled:
            view.stepping = settle(taken_steps(view.scheduler.position, view.scheduler.raw),
                                   view.epochs_done, given=hints.steps_per_epoch)
        epochs = whole(args_get(view.args, "epochs"))
        if epochs and view.stepping and view.stepping.per_epoch:
            view.planned_steps = epochs * view.stepping.per_epoch
        return view

    def plan(self, view, request):
        plan = super().plan(view, request)
        if request.epochs is not None:  # its own preview reads the planned total from args
            plan.new_args = {"epochs": request.epochs}
        return plan

    def resume_hint(self, view, plan) -> str:
        args = view.args
        flags = [("--lr-scheduler", args_get(args, "lr_scheduler"))]
        warmup = args_get(args, "lr_warmup_epochs")
        if warmup:
            flags += [("--lr-warmup-epochs", warmup),
                      ("--lr-warmup-method", args_get(args, "lr_warmup_method"))]
        epochs = plan.new_epochs or args_get(args, "epochs")
        flags.append(("--epochs", epochs))
        text = " ".join(f"{k} {shlex.quote(str(v))}" for k, v in flags if v is not None)
        return ("torchvision's train.py builds its scheduler from the command line, then loads "
                f"the edited state into it: resume with --resume OUT {text} (the scheduler "
                "flags as first run; torch >= 2.6 loads it only with argparse.Namespace "
                "allowed: torch.serialization.add_safe_globals([argparse.Namespace]))")
