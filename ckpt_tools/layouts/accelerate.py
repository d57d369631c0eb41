"""Accelerate `save_state` folders (optimizer.bin, scheduler.bin, model.safetensors,
random_states_N.pkl).

They hold the states the user's code prepared: `accelerator.load_state(folder)` loads them
into the optimizer and scheduler built again by that code. Nothing in the folder counts epochs
or optimizer steps (Accelerate may step a scheduler once per process per step), so the
preview is in the scheduler's own steps; epoch-valued edits need --steps-per-epoch.
"""

from __future__ import annotations

from runwatch.ckpt_tools.layouts.base import CheckpointView, Layout, optimizer_at, scheduler_at
from runwatch.ckpt_tools.stepping import settle, taken_steps


class Accelerate(Layout):
    name = "accelerate"
    uses_hints = frozenset({"steps_per_epoch"})

    def detect(self, loaded) -> bool:
        return loaded.container == "folder" and "trainer_state" not in loaded.obj

    def read(self, loaded, hints) -> CheckpointView:
        obj = loaded.obj
        view = CheckpointView(self, loaded, model=obj.get("model"))
        optimizer_at(obj, ("optimizer",), view)
        scheduler_at(obj, ("scheduler",), view)
        if view.scheduler is not None and view.scheduler.modelled:
            taken = taken_steps(view.scheduler.position, view.scheduler.raw)
            view.stepping = settle(taken, None, given=hints.steps_per_epoch)
            if view.stepping.per_epoch:
                view.epochs_done, view.step_in_epoch = divmod(taken, view.stepping.per_epoch)
        return view

    def resume_hint(self, view, plan) -> str:
        return ("resume with accelerator.load_state(OUT) after preparing the same optimizer "
                "and scheduler: their settings and position come from OUT")
