"""PyTorch Lightning `.ckpt` files (ModelCheckpoint, or `trainer.save_checkpoint`).

`optimizer_states` and `lr_schedulers` are lists (the first of each is previewed). `epoch`
means two things: a ModelCheckpoint file saved at the end of epoch index 3 stores 3, a file
`trainer.save_checkpoint` wrote after fitting 4 epochs stores 4; the fit loop's progress
counters (`loops.fit_loop.epoch_progress.current.processed`) are the truth for both. Lightning
steps a scheduler per epoch or per optimizer step (`interval`), which is not stored: its
last_epoch against the epochs done and `global_step` tells. On `Trainer.fit(ckpt_path=...)`
it builds the scheduler in `configure_optimizers` and loads the stored state into it.
"""

from __future__ import annotations

from runwatch.ckpt_tools import zipfmt
from runwatch.ckpt_tools.layouts.base import (
    CheckpointView,
    Layout,
    optimizer_at,
    scheduler_at,
    whole,
)
from runwatch.ckpt_tools.placeholders import TensorRef
from runwatch.ckpt_tools.stepping import settle, taken_steps
from runwatch.ckpt_tools.tree import at


class Lightning(Layout):
    name = "lightning"
    uses_hints = frozenset({"steps_per_epoch"})

    def detect(self, loaded) -> bool:
        obj = loaded.obj
        return isinstance(obj, dict) and ("optimizer_states" in obj
                                          or "pytorch-lightning_version" in obj)

    def read(self, loaded, hints) -> CheckpointView:
        obj = loaded.obj
        view = CheckpointView(self, loaded, model=obj.get("state_dict"),
                              args=obj.get("hyper_parameters"),
                              global_step=whole(obj.get("global_step")),
                              metrics=_metrics(obj, loaded))
        optimizer_at(obj, ("optimizer_states", 0), view)
        scheduler_at(obj, ("lr_schedulers", 0), view)
        for key in ("optimizer_states", "lr_schedulers"):
            value = obj.get(key)
            if isinstance(value, list) and len(value) > 1:
                view.found.append(f"{key} holds {len(value)}: the first is previewed and edited")
        loop = ("loops", "fit_loop")
        processed = whole(at(obj, (*loop, "epoch_progress", "current", "processed")))
        epoch = whole(obj.get("epoch"))
        last_batch = at(obj, (*loop, "epoch_loop.batch_progress", "is_last_batch"))
        # Optimizer steps of the current epoch (not batches: gradient accumulation).
        steps_now = whole(at(obj, (*loop, "epoch_loop.automatic_optimization.optim_progress",
                                   "optimizer", "step", "current", "completed")))
        per_epoch_hint = None
        if processed is not None:
            if last_batch is True and _saved_in_batch_end(obj, loop):
                # ModelCheckpoint(every_n_train_steps) on the last batch: the epoch's steps
                # are all done, its end is not counted yet; fit resumes at the next epoch.
                processed += 1
            view.epochs_done = processed
            view.found.append(f"epochs done = {processed}, from the fit loop's progress "
                              f"(the epoch key is {epoch})")
            if last_batch is True:
                per_epoch_hint = steps_now
            elif last_batch is False:
                view.step_in_epoch = steps_now or 0
                view.found.append(f"saved mid-epoch, {view.step_in_epoch} optimizer steps "
                                  "into the next epoch")
        elif epoch is not None:
            view.epochs_done = epoch + 1
            view.found.append(f"epoch = {epoch}: the index of the epoch the file ends (no loop "
                              f"progress stored), {epoch + 1} done")
        if view.scheduler is not None and view.scheduler.modelled:
            view.stepping = settle(taken_steps(view.scheduler.position, view.scheduler.raw),
                                   view.epochs_done, view.global_step, per_epoch_hint,
                                   hints.steps_per_epoch, view.step_in_epoch)
        return view

    def resume_hint(self, view, plan) -> str:
        longer = f" with max_epochs of at least {plan.new_epochs}" if plan.new_epochs else ""
        return ("resume with Trainer(...).fit(model, ckpt_path=OUT)" + longer + ": Lightning "
                "builds the scheduler in configure_optimizers (keep its class and interval) "
                "and loads the edited state into it")


def _saved_in_batch_end(obj: dict, loop: tuple) -> bool:
    """Saved inside on_train_batch_end: the batch is counted processed, not yet completed."""
    batches = at(obj, (*loop, "epoch_loop.batch_progress", "current"))
    if not isinstance(batches, dict):
        return False
    processed, completed = whole(batches.get("processed")), whole(batches.get("completed"))
    return processed is not None and completed is not None and processed > completed


def _metrics(obj: dict, loaded) -> dict:
    metrics = {}
    callbacks = obj.get("callbacks")
    for state in (callbacks.values() if isinstance(callbacks, dict) else ()):
        score = state.get("best_model_score") if isinstance(state, dict) else None
        if score is None:
            continue
        if isinstance(score, TensorRef) and loaded.archive is not None:
            score = zipfmt.read_scalar(loaded.archive, score)
        if isinstance(score, (int, float)) and not isinstance(score, bool):
            metrics["best_model_score"] = float(score)
        metrics["best_model_path"] = state.get("best_model_path")
        metrics["monitor"] = state.get("monitor")
    return metrics
