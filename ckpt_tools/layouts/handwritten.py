"""Hand-written training loops: `torch.save({...})` with any key names, found by structure.

An optimizer state is a dict with `state` and `param_groups`; a scheduler state is recognised
by its fields (`schedulers.scheduler_type`); both are looked for at the top of the file and
one level down (`{"train": {"opt": ..., "sched": ...}}`). The epoch counter is an integer
under a key naming an epoch, beside them; whether it is the index of the last epoch finished
or the count of epochs finished is decided by the scheduler's steps (`stepping.
settle_epoch_key`). Where a choice stays open (two schedulers, two epoch counters, a count the
scheduler fits both ways), nothing is guessed: --scheduler-key, --epoch-key or
--steps-per-epoch settle it. The PyTorch tutorial's `{epoch, model_state_dict,
optimizer_state_dict, scheduler_state_dict, loss}` is one such file.
"""

from __future__ import annotations

from runwatch.ckpt_tools.layouts.base import (
    CheckpointView,
    Layout,
    optimizer_at,
    scheduler_at,
    whole,
)
from runwatch.ckpt_tools.schedulers import is_scheduler_state
from runwatch.ckpt_tools.stepping import (
    recorded_steps_per_epoch,
    settle,
    settle_epoch_key,
    taken_steps,
)
from runwatch.ckpt_tools.tree import KeyPath, at, is_optimizer_state, is_tensor, show
from runwatch.errors import RunwatchError

EPOCH_WORDS = ("epoch",)
STEP_KEYS = ("global_step", "step", "steps", "iteration", "iter", "num_updates", "total_steps")
DEPTH = 2


def _places(obj: object, depth: int = DEPTH, path: KeyPath = ()) -> list[tuple[KeyPath, object]]:
    """(path, value) of every value at most `depth` levels down (dict entries, list items)."""
    out = []
    if depth == 0:
        return out
    items = obj.items() if isinstance(obj, dict) else (
        enumerate(obj) if isinstance(obj, (list, tuple)) and len(obj) <= 16 else ())
    for key, value in items:
        if not isinstance(key, (str, int)) or is_tensor(value):
            continue
        out.append(((*path, key), value))
        out += _places(value, depth - 1, (*path, key))
    return out


def find_parts(obj: object) -> tuple[list[KeyPath], list[KeyPath]]:
    """Key paths of the optimizer states and the scheduler states in `obj`."""
    places = _places(obj)
    optimizers = [p for p, v in places if is_optimizer_state(v)]
    schedulers = [p for p, v in places if is_scheduler_state(v)
                  and not any(p[:len(q)] == q for q in optimizers)]
    # A SequentialLR's children are not schedulers of their own.
    schedulers = [p for p in schedulers if not any(p[:len(q)] == q and p != q for q in schedulers)]
    return optimizers, schedulers


def _counters(obj: object, near: KeyPath) -> tuple[list[KeyPath], list[KeyPath]]:
    """Integer epoch counters and global-step counters beside the parts (at the top, and at
    the level of `near`)."""
    levels = {(), near[:-1]}
    epochs, steps = [], []
    for level in levels:
        container = at(obj, level) if level else obj
        if not isinstance(container, dict):
            continue
        for key, value in container.items():
            if whole(value) is None or not isinstance(key, str):
                continue
            if any(w in key.lower() for w in EPOCH_WORDS) and key != "last_epoch":
                epochs.append((*level, key))
            elif key.lower() in STEP_KEYS:
                steps.append((*level, key))
    return sorted(set(epochs), key=len), sorted(set(steps), key=len)


class HandWritten(Layout):
    name = "hand-written"
    uses_hints = frozenset({"epoch_key", "scheduler_key", "steps_per_epoch"})

    def detect(self, loaded) -> bool:
        optimizers, schedulers = find_parts(loaded.obj)
        return bool(optimizers or schedulers)

    def read(self, loaded, hints) -> CheckpointView:
        obj = loaded.obj
        view = CheckpointView(self, loaded)
        optimizers, schedulers = find_parts(obj)
        forced = hints.path_of(hints.scheduler_key)
        if forced is not None:
            if not is_scheduler_state(at(obj, forced)):
                raise RunwatchError(f"--scheduler-key {show(forced)}: no scheduler state there "
                                    f"(found: {', '.join(map(show, schedulers)) or 'none'})")
            schedulers = [forced]
        if len(schedulers) > 1:
            raise RunwatchError(f"{len(schedulers)} scheduler states found "
                                f"({', '.join(map(show, schedulers))}): say which one the run "
                                "uses with --scheduler-key KEY")
        if schedulers:
            scheduler_at(obj, schedulers[0], view, "found by its fields: ")
        optimizer = self._optimizer(obj, optimizers, view)
        if optimizer is not None:
            optimizer_at(obj, optimizer, view, "found by its state and param_groups: ")
        view.model = _model(obj)
        self._epochs(obj, view, hints, optimizer or (schedulers[0] if schedulers else ()))
        return view

    def _optimizer(self, obj, optimizers: list[KeyPath], view) -> KeyPath | None:
        if len(optimizers) <= 1:
            return optimizers[0] if optimizers else None
        # Several: the one whose groups the scheduler was built on (initial_lr = base_lrs).
        if view.scheduler is not None and view.scheduler.modelled:
            bases = view.scheduler.fields.get("base_lrs") or []  # checked numbers
            fits = [p for p in optimizers
                    if [g.get("initial_lr") for g in at(obj, (*p, "param_groups"))] == bases]
            if len(fits) == 1:
                view.found.append(f"{len(optimizers)} optimizer states: "
                                  f"{show(fits[0])} is the scheduler's (its initial_lr)")
                return fits[0]
        raise RunwatchError(f"{len(optimizers)} optimizer states found "
                            f"({', '.join(map(show, optimizers))}) and none is clearly the "
                            "scheduler's: this file cannot be edited")

    def _epochs(self, obj, view: CheckpointView, hints, near: KeyPath) -> None:
        epochs, steps = _counters(obj, near)
        forced = hints.path_of(hints.epoch_key)
        if forced is not None:
            if whole(at(obj, forced)) is None:
                raise RunwatchError(f"--epoch-key {show(forced)}: no whole number there")
            epochs = [forced]
        if len(steps) == 1:
            view.global_step = whole(at(obj, steps[0]))
            view.found.append(f"global step = {view.global_step} ({show(steps[0])})")
        taken, given = None, hints.steps_per_epoch
        if view.scheduler is not None and view.scheduler.modelled:
            taken = taken_steps(view.scheduler.position, view.scheduler.raw)
            recorded = recorded_steps_per_epoch(view.scheduler.raw)
            if given is None and recorded is not None:
                given = recorded
                view.found.append(f"{recorded} scheduler steps per epoch, as settled when this "
                                  "file was edited")
        if len(epochs) > 1:
            view.found.append(f"epoch counters {', '.join(map(show, epochs))}: say which one "
                              "counts the epochs with --epoch-key KEY")
            epochs = []
        if not epochs:
            if taken is not None:
                view.stepping = settle(taken, None, given=given)
                if view.stepping.per_epoch:
                    view.epochs_done, extra = divmod(taken, view.stepping.per_epoch)
                    view.step_in_epoch = extra
            return
        value = whole(at(obj, epochs[0]))
        if taken is None:
            view.found.append(f"{show(epochs[0])} = {value}: the index of the last epoch "
                              "finished or the count of epochs finished (no scheduler tells)")
            return
        view.epochs_done, view.stepping, how = settle_epoch_key(
            taken, value, show(epochs[0]), view.global_step, given)
        view.found.append(how)

    def resume_hint(self, view, plan) -> str:
        return ("resume as the training loop does: build the same optimizer and scheduler, "
                "then load_state_dict the edited states from OUT (their settings and position "
                "come from the file)")


def _model(obj: object) -> object:
    """The largest dict of tensors at the top or one level down (the weights)."""
    best, size = None, 0
    for _, value in [((), obj), *_places(obj, 1)]:
        if isinstance(value, dict):
            n = sum(1 for v in value.values() if is_tensor(v))
            if n > size:
                best, size = value, n
    return best
