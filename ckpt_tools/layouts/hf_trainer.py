"""Hugging Face Trainer checkpoint folders (`checkpoint-N/`: optimizer.pt, scheduler.pt,
trainer_state.json, training_args.bin, weights).

Its scheduler is a LambdaLR stepped after every optimizer step (`last_epoch` = `global_step`):
`scheduler.pt` holds only `base_lrs` and `last_epoch`. On `resume_from_checkpoint` the Trainer
builds a new LambdaLR from the TrainingArguments passed *now* and loads `scheduler.pt` into it,
so the peak LR comes from the stored `base_lrs` (a new `learning_rate` is silently ignored)
and the shape (type, warmup, max_steps) from the new arguments. The stored arguments
(`training_args.bin`, read as inert data, never constructed) say what the run used. An edit
scales `base_lrs` with each group's `lr`/`initial_lr` and changes the length and warmup the
preview assumes, keeping the step (keep-phase), and prints the TrainingArguments to pass.
"""

from __future__ import annotations

import math

from runwatch.ckpt_tools import hf_sched
from runwatch.ckpt_tools.inert import read_inert
from runwatch.ckpt_tools.layouts.base import (
    CheckpointView,
    Layout,
    optimizer_at,
    scheduler_at,
    whole,
)
from runwatch.ckpt_tools.preview import (
    TABLE_EPOCHS,
    Preview,
    count_and_end,
    jumps_after,
)
from runwatch.ckpt_tools.stepping import EDIT_RECORD, Stepping, edit_record, settle
from runwatch.ckpt_tools.tree import mapping
from runwatch.errors import RunwatchError

SCHEDULER = ("scheduler",)  # scheduler.pt, loaded as the folder's scheduler part


class HfTrainer(Layout):
    name = "hf-trainer"
    uses_hints = frozenset({"steps_per_epoch"})
    schedule_source = ("peak LR: scheduler.pt's base_lrs (a new learning_rate is ignored); "
                       "shape (lr_scheduler_type, warmup, max_steps): the TrainingArguments "
                       "passed on resume")

    def detect(self, loaded) -> bool:
        return loaded.container == "folder" and "trainer_state" in loaded.obj

    def read(self, loaded, hints) -> CheckpointView:
        obj = loaded.obj
        state = mapping(obj["trainer_state"], ("trainer_state.json",))
        view = CheckpointView(self, loaded, model=obj.get("model"),
                              global_step=whole(state.get("global_step")),
                              metrics={k: state[k] for k in ("best_metric",
                                                             "best_model_checkpoint")
                                       if state.get(k) is not None})
        optimizer_at(obj, ("optimizer",), view)
        if view.optimizer is not None:
            view.optimizer.path = ("optimizer.pt",)
        planned = whole(state.get("max_steps"))
        view.planned_steps = planned if planned and planned > 0 else None
        self._epochs(state, view)
        if "training_args.bin" in loaded.files:
            view.args = hf_sched.read_args(read_inert(loaded.files["training_args.bin"]))
            view.found.append(f"training_args.bin: {view.args.cls}, read as data "
                              f"(lr_scheduler_type {view.args.lr_scheduler_type}, "
                              f"learning_rate {view.args.learning_rate})")
        scheduler_at(obj, SCHEDULER, view)
        if view.scheduler is not None and view.scheduler.kind.startswith("LambdaLR"):
            view.scheduler.kind = "LambdaLR"  # what transformers' get_scheduler builds
        if view.scheduler is not None:
            fields = view.scheduler.fields
            if "base_lrs" not in fields or "last_epoch" not in fields:
                raise RunwatchError("scheduler.pt has no base_lrs or last_epoch: not the "
                                    "Trainer's LambdaLR state")
            position = view.scheduler.position
            taken = position - edit_record(view.scheduler.raw).get("offset", 0)
            view.stepping = settle(taken, view.epochs_done, view.global_step,
                                   given=hints.steps_per_epoch,
                                   step_in_epoch=view.step_in_epoch)
            if view.stepping.per_epoch is None and view.global_step == taken:
                view.stepping = Stepping(None, taken, "last_epoch = the global step: stepped "
                                                      "every optimizer step")
            view.found.append(f"scheduler.pt: {view.scheduler.kind} at step {position}, "
                              f"base_lrs {fields['base_lrs']}")
        return view

    def _epochs(self, state: dict, view: CheckpointView) -> None:
        """Epochs done and the steps per epoch, from the fractional `epoch` and the step."""
        epoch, step = state.get("epoch"), view.global_step
        if not isinstance(epoch, (int, float)) or isinstance(epoch, bool) or not step \
                or not 0 < epoch < 1e9:
            return
        per = round(step / epoch)
        if per >= 1 and math.isclose(step / per, epoch, rel_tol=1e-9):
            view.epochs_done, view.step_in_epoch = divmod(step, per)
            view.found.append(f"epoch {epoch:g} at global step {step}: {per} steps per epoch")

    def schedule(self, view: CheckpointView, args=None, total: int | None = None):
        """The HfSchedule the stored (or given) arguments build; an edit's record first."""
        if view.problems:
            raise RunwatchError(view.problems[0])
        if view.optimizer is None or view.scheduler is None or view.stepping is None:
            raise RunwatchError("this Trainer folder has no optimizer.pt or scheduler.pt: "
                                "nothing to preview or edit")
        if args is None:
            args = self._args(view)
        total = total or view.planned_steps
        if total is None:
            raise RunwatchError("trainer_state.json has no max_steps: cannot place the run")
        return hf_sched.schedule_of(args, total)

    def _args(self, view: CheckpointView) -> hf_sched.HfArgs:
        record = edit_record(view.scheduler.raw)
        if view.args is None:
            raise RunwatchError("no training_args.bin: the LambdaLR's shape is not stored, so "
                                "its LRs cannot be previewed")
        kept = record.get("args")
        if isinstance(kept, dict):  # the shape an edit was planned for
            warmup, total = kept.get("warmup_steps"), kept.get("max_steps")
            if not (isinstance(kept.get("lr_scheduler_type"), str) and whole(warmup) is not None
                    and whole(total) is not None):
                raise RunwatchError("scheduler.pt's runwatch_edit record is damaged: inspect "
                                    "the folder the edit was made from")
            return hf_sched.HfArgs(view.args.cls, None, kept["lr_scheduler_type"],
                                   float(warmup), 0.0, total, None,
                                   view.args.lr_scheduler_kwargs)
        return view.args

    def preview(self, view, epochs, bases=None, sched=None, first_lrs=None) -> Preview:
        if view.scheduler is None:
            raise RunwatchError("this Trainer folder has no scheduler.pt: nothing to preview")
        sched = sched or self.schedule(view)
        bases = bases or view.scheduler.fields["base_lrs"]
        lrs = view.optimizer.lrs() if first_lrs is None else first_lrs
        st = view.stepping
        count, end = count_and_end(st.per_epoch, st.taken, st.taken, sched.total, None, epochs)
        if count < 1:
            raise RunwatchError(f"all {sched.total} planned steps are trained: to train "
                                "longer, edit with --total-steps N")
        steps = [lrs[0]] + [bases[0] * sched.factor(st.taken + i) for i in range(1, count)]
        out = Preview(st.per_epoch, st.taken, steps, end=end, last_lr=self._last_lr(view))
        if st.per_epoch and view.epochs_done is not None and not view.step_in_epoch:
            out.first_epoch, out.epochs = view.epochs_done + 1, steps[::st.per_epoch]
        out.jumps = jumps_after(out, sched.warmup - st.taken)
        return out

    def _last_lr(self, view) -> float | None:
        record = edit_record(view.scheduler.raw)
        if record and record["at"] == view.stepping.taken + record["offset"]:
            return record["last_lr"]
        if view.stepping.taken < 1:
            return None
        base = view.scheduler.fields["base_lrs"][0]
        return base * self.schedule(view).factor(view.stepping.taken - 1)

    def plan(self, view, request):
        from runwatch.ckpt_tools.plan import EditPlan
        from runwatch.ckpt_tools.plan_fields import warnings

        others = [k for k in ("t0", "t_mult", "schedule", "milestones", "gamma", "step_size",
                              "eta_min") if getattr(request, k) is not None]
        if others or request.continuity not in (None, "keep-phase"):
            raise RunwatchError("a Trainer folder's schedule is rebuilt from the "
                                "TrainingArguments: edit its peak LR (--lr), length "
                                "(--total-steps/--epochs) and warmup (--warmup-steps/--warmup), "
                                "keeping the step (--continuity keep-phase)")
        if request.is_empty():
            raise RunwatchError("nothing to change: pass --lr, --total-steps or --warmup-steps")
        self.schedule(view)  # refuses a folder it cannot read
        old_args = self._args(view)
        before = self.preview(view, TABLE_EPOCHS)
        st = view.stepping
        total = request.total_steps or (request.epochs * st.per_epoch if request.epochs
                                        and st.per_epoch else None)
        if request.epochs and total is None:
            raise RunwatchError(f"--epochs: the steps per epoch are not known ({st.how}); "
                                "use --total-steps")
        old = self.schedule(view)
        warm = request.warmup_steps if request.warmup_steps is not None else (
            request.warmup * st.per_epoch if request.warmup is not None and st.per_epoch
            else None)
        if request.warmup is not None and warm is None:
            raise RunwatchError("--warmup: the steps per epoch are not known; use "
                                "--warmup-steps")
        new_total = total or old.total
        if new_total <= st.taken:
            raise RunwatchError(f"--total-steps {new_total} is not past the {st.taken} steps "
                                "trained")
        args = hf_sched.HfArgs(old_args.cls, request.lr or old_args.learning_rate,
                               old_args.lr_scheduler_type,
                               float(warm if warm is not None else old.warmup), 0.0, new_total,
                               None, old_args.lr_scheduler_kwargs)
        new = hf_sched.schedule_of(args, new_total)
        if request.lr and not view.scheduler.fields["base_lrs"][0] > 0:
            raise RunwatchError("scheduler.pt's base_lrs[0] is not a positive LR: cannot scale "
                                "it to --lr")
        scale = request.lr / view.scheduler.fields["base_lrs"][0] if request.lr else 1.0
        bases = [b * scale for b in view.scheduler.fields["base_lrs"]]
        position = view.scheduler.position
        first = [b * new.factor(position) for b in bases]
        after = self.preview(view, TABLE_EPOCHS, bases, new, first)
        raw = view.scheduler.raw
        new_state = {**raw, "base_lrs": bases, "_last_lr": first}
        new_state.pop(EDIT_RECORD, None)
        old_peak = view.scheduler.fields["base_lrs"][0]
        changes = {"peak lr (base_lrs)": [old_peak, bases[0]]} if request.lr else {}
        if new_total != old.total:
            changes["max_steps"] = [old.total, new_total]
        if new.warmup != old.warmup:
            changes["warmup steps"] = [old.warmup, new.warmup]
        return EditPlan(
            source=view.loaded.path, layout=self.name, mode="keep-phase",
            first_epoch=after.first_epoch, last_lr=before.last_lr,
            lr_before=[lr for _, lr in before.rows()], lr_after=[lr for _, lr in after.rows()],
            jump_ratio=first[0] / before.last_lr if before.last_lr else None,
            warnings=warnings(before, after, "keep-phase", [], request), changes=changes,
            unit="optimizer step", first_step=st.taken, steps_after=after.steps,
            new_epochs=request.epochs, new_scheduler=new_state,
            new_groups=[{"lr": lr, "initial_lr": b} for lr, b in zip(first, bases, strict=True)],
            new_args={"learning_rate": bases[0], "lr_scheduler_type": new.kind,
                      "warmup_steps": new.warmup, "max_steps": new_total},
            new_record={"at": position, "offset": position - st.taken,
                        "last_lr": before.last_lr},
        )

    def apply(self, view, plan) -> None:
        for group, fields in zip(view.optimizer.groups, plan.new_groups, strict=True):
            group.raw.update(fields)
        raw = view.scheduler.raw
        raw.clear()
        raw.update(plan.new_scheduler)
        raw[EDIT_RECORD] = {**plan.new_record, "args": dict(plan.new_args)}
        view.loaded.obj["trainer_state"]["max_steps"] = plan.new_args["max_steps"]

    def resume_hint(self, view, plan) -> str:
        a = plan.new_args
        return ("resume with Trainer(model, TrainingArguments(..., "
                f"learning_rate={a['learning_rate']!r}, "
                f"lr_scheduler_type={a['lr_scheduler_type']!r}, "
                f"warmup_steps={a['warmup_steps']!r}, max_steps={a['max_steps']!r}), ...)"
                ".train(resume_from_checkpoint=OUT): the peak LR comes from OUT's scheduler.pt, "
                "the shape from these arguments")

    def verify(self, view, plan) -> str:
        from runwatch.ckpt_tools.oracle import check_hf

        return check_hf(view, plan)
