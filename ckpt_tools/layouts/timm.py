"""timm's train.py checkpoints (CheckpointSaver: `{epoch, arch, state_dict, optimizer, version,
args, metric}`).

timm stores no scheduler state: on `--resume` its train.py rebuilds the scheduler from the
command line and takes each group's `initial_lr` from the checkpoint, so a new `--lr` alone is
ignored (DOMAIN.md). An edit sets `initial_lr` and `lr` in each group and the stored `args`,
keeps the phase, and prints the flags to resume with. `epoch` is the index of the epoch just
finished (version 2 files; version 1 stored the next epoch).
"""

from __future__ import annotations

import argparse
import shlex

from runwatch.ckpt_tools import timm_sched
from runwatch.ckpt_tools.layouts.base import CheckpointView, Layout, args_get, optimizer_at, whole
from runwatch.ckpt_tools.preview import TABLE_EPOCHS, Preview, all_trained, jumps_after
from runwatch.ckpt_tools.stepping import EDIT_RECORD, Stepping
from runwatch.errors import RunwatchError


class Timm(Layout):
    name = "timm"
    schedule_source = "timm's command line (train.py rebuilds the scheduler from its args; " \
                      "the peak LR is each group's initial_lr in the checkpoint)"

    def detect(self, loaded) -> bool:
        obj = loaded.obj
        return (isinstance(obj, dict) and "state_dict" in obj and "optimizer" in obj
                and ("arch" in obj or "version" in obj))

    def read(self, loaded, hints) -> CheckpointView:
        obj = loaded.obj
        metric = obj.get("metric")
        view = CheckpointView(
            self, loaded, model=obj.get("state_dict"), args=obj.get("args"),
            metrics={"metric": metric} if isinstance(metric, (int, float)) else {},
            extra_keys=[k for k in obj if isinstance(k, str)
                        and (k.startswith("state_dict_ema") or k.endswith("scaler"))])
        optimizer_at(obj, ("optimizer",), view)
        epoch = whole(obj.get("epoch"))
        if epoch is not None:
            version = whole(obj.get("version")) or 0
            view.epochs_done = epoch + (1 if version > 1 else 0)
            view.found.append(f"epoch = {epoch} (CheckpointSaver version {version}): "
                              f"{view.epochs_done} done")
            view.stepping = Stepping(1, view.epochs_done, "timm's epoch scheduler "
                                                          "(sched_on_updates off)")
        epochs = whole(args_get(view.args, "epochs"))
        view.planned_steps = epochs
        return view

    def _bases(self, view: CheckpointView) -> list[float]:
        """Each group's initial_lr (timm's scheduler base); a group without one (no scheduler
        ever wrapped the optimizer) takes its lr, as timm's setdefault does."""
        if view.optimizer is None:
            raise RunwatchError("timm checkpoint has no optimizer state: nothing to edit")
        lrs = view.optimizer.lrs()
        return [g.initial_lr if g.initial_lr is not None else lr
                for g, lr in zip(view.optimizer.groups, lrs, strict=True)]

    def _last_lr(self, view: CheckpointView) -> float | None:
        record = view.obj.get(EDIT_RECORD) if isinstance(view.obj, dict) else None
        done = view.epochs_done
        if isinstance(record, dict) and record.get("at") == done \
                and isinstance(record.get("last_lr"), float):
            return record["last_lr"]
        if not done:
            return None
        return timm_sched.timm_cosine(view.args).lr(self._bases(view)[0], done - 1)

    def preview(self, view, epochs) -> Preview:
        if view.epochs_done is None:
            raise RunwatchError("the timm checkpoint stores no epoch: cannot place the resume "
                                "point")
        done = view.epochs_done
        count = epochs if view.planned_steps is None else min(epochs, view.planned_steps - done)
        if count < 1:
            raise all_trained(view.planned_steps, 1, view.loaded.path)
        rows = timm_sched.timm_next_lrs(view.args, self._bases(view), done, count)
        lrs = [r[0] for r in rows]
        out = Preview(1, done, lrs, first_epoch=done + 1, epochs=lrs,
                      last_lr=self._last_lr(view), end="the planned --epochs"
                      if count < epochs else "")
        model = timm_sched.timm_cosine(view.args)
        out.jumps = jumps_after(out, model.warmup_t - done)
        return out

    def plan(self, view, request):
        from runwatch.ckpt_tools.plan import EditPlan
        from runwatch.ckpt_tools.plan_fields import warnings

        unsupported = [k for k in ("t0", "t_mult", "schedule", "total_steps", "warmup_steps",
                                   "milestones", "gamma", "step_size")
                       if getattr(request, k) is not None]
        if unsupported or request.continuity not in (None, "keep-phase"):
            raise RunwatchError(
                "timm rebuilds its cosine from its command line (period = --epochs) and only "
                "takes initial_lr from the checkpoint: use --lr/--epochs/--eta-min/--warmup "
                "with --continuity keep-phase")
        done = view.epochs_done
        # A finished run (every planned epoch trained) has nothing before; --epochs adds more.
        before = Preview(1, done, [], first_epoch=done + 1, last_lr=self._last_lr(view)) \
            if done is not None and view.planned_steps is not None \
            and view.planned_steps <= done else self.preview(view, TABLE_EPOCHS)
        initial = self._bases(view)
        new_args = {k: v for k, v in (("lr", request.lr), ("epochs", request.epochs),
                                      ("min_lr", request.eta_min),
                                      ("warmup_epochs", request.warmup)) if v is not None}
        if not new_args:
            raise RunwatchError("nothing to change: pass --lr, --epochs, --eta-min or --warmup")
        args = dict(vars(view.args)) if isinstance(view.args, argparse.Namespace) \
            else dict(view.args if isinstance(view.args, dict) else {})
        args.update(new_args)
        if request.lr is not None and not initial[0] > 0:
            raise RunwatchError("the first group's initial_lr is not a positive LR: --lr "
                                "cannot scale it")
        scale = (request.lr / initial[0]) if request.lr is not None else 1.0
        new_initial = [v * scale for v in initial]
        total = whole(args.get("epochs"))
        count = TABLE_EPOCHS if total is None else min(TABLE_EPOCHS, total - done)
        if count < 1:
            raise RunwatchError(f"--epochs {total} is not past the {done} epochs trained")
        after_lrs = [r[0] for r in timm_sched.timm_next_lrs(args, new_initial, done, count)]
        after = Preview(1, done, after_lrs, first_epoch=done + 1, epochs=after_lrs,
                        last_lr=before.last_lr)
        after.jumps = jumps_after(after, timm_sched.timm_cosine(args).warmup_t - done)
        model = timm_sched.timm_cosine(args)
        return EditPlan(
            source=view.loaded.path, layout=self.name, mode="keep-phase", first_epoch=done + 1,
            last_lr=before.last_lr, lr_before=before.epochs, lr_after=after_lrs,
            jump_ratio=after_lrs[0] / before.last_lr if before.last_lr else None,
            warnings=warnings(before, after, "keep-phase", [], request),
            changes={k: [args_get(view.args, k), v] for k, v in new_args.items()},
            first_step=done, steps_after=after_lrs, new_epochs=request.epochs,
            new_groups=[{"lr": model.lr(b, done), "initial_lr": b} for b in new_initial],
            new_args=new_args,
            new_record={"at": done, "offset": 0, "last_lr": before.last_lr},
        )

    def apply(self, view, plan) -> None:
        for group, fields in zip(view.optimizer.groups, plan.new_groups, strict=True):
            group.raw.update(fields)
        if isinstance(view.args, dict):
            view.args.update(plan.new_args)
        elif isinstance(view.args, argparse.Namespace):
            for key, value in plan.new_args.items():
                setattr(view.args, key, value)
        view.obj[EDIT_RECORD] = dict(plan.new_record)

    def resume_hint(self, view, plan) -> str:
        flags = " ".join(f"--{k.replace('_', '-')} {shlex.quote(str(v))}"
                         for k, v in plan.new_args.items())
        return ("timm rebuilds its scheduler from its command line: resume with "
                f"--resume OUT {flags}".strip())

    def verify(self, view, plan) -> str:
        from runwatch.ckpt_tools.oracle import check_timm

        return check_timm(view, plan)
