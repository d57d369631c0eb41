"""How often a scheduler was stepped, decided from the checkpoint's own evidence.

A scheduler stepped once per epoch has `last_epoch` = epochs done; one stepped after every
optimizer step has `last_epoch` = the global step (DOMAIN.md, "Stepping unit"). Each layout
passes what its file says (epochs done, global step, steps per epoch) and `settle` compares:
a match decides the unit and says how; no match leaves it open (`per_epoch` None) with the
one line that would settle it, and nothing is previewed per epoch or edited in epochs from a
guess. An edit that moved `last_epoch` (restart, match-lr) recorded by how much
(`edit_record`), so the steps really taken are `last_epoch - offset`.
"""

from __future__ import annotations

from dataclasses import dataclass

from runwatch.ckpt_tools.tree import is_number

EDIT_RECORD = "runwatch_edit"


@dataclass(frozen=True)
class Stepping:
    """Scheduler steps per epoch (1: stepped once per epoch; None: not known), the steps
    taken, and how that was decided (one line for the report)."""

    per_epoch: int | None
    taken: int
    how: str
    exact: bool = True  # False: inferred from last_epoch being a multiple of the epochs

    @property
    def unit(self) -> str:
        if self.per_epoch is None:
            return "scheduler step"
        return "epoch" if self.per_epoch == 1 else "optimizer step"


def edit_record(scheduler_raw: object) -> dict:
    """What an edit recorded in a scheduler state: `at` (last_epoch after the edit), `offset`
    (how far the edit moved last_epoch from the steps really taken), `last_lr` (the LR the
    last step before the edit ran at); {} when none or malformed."""
    record = scheduler_raw.get(EDIT_RECORD) if isinstance(scheduler_raw, dict) else None
    if not isinstance(record, dict):
        return {}
    ints = all(isinstance(record.get(k), int) and not isinstance(record.get(k), bool)
               for k in ("at", "offset"))
    last = record.get("last_lr")
    return record if ints and (last is None or is_number(last)) else {}


def recorded_steps_per_epoch(scheduler_raw: object) -> int | None:
    """The steps per epoch an earlier edit settled (a user's --steps-per-epoch included)."""
    value = edit_record(scheduler_raw).get("steps_per_epoch")
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 1 \
        else None


def taken_steps(position: int, scheduler_raw: object) -> int:
    """Steps the scheduler really took: its last_epoch less an edit's recorded shift."""
    return position - edit_record(scheduler_raw).get("offset", 0)


def settle(taken: int, epochs: int | None, global_step: int | None = None,
           per_epoch_hint: int | None = None, given: int | None = None,
           step_in_epoch: int = 0) -> Stepping:
    """The stepping unit from the evidence.

    `epochs`: epochs done, when the file says; `global_step`: optimizer steps taken;
    `per_epoch_hint`: optimizer steps per epoch the file records; `given`: the user's
    --steps-per-epoch, which settles what the file leaves open; `step_in_epoch`: steps of the
    next epoch done before a mid-epoch save.
    """
    if given is not None:
        return Stepping(given, taken, f"--steps-per-epoch {given}")
    if epochs is None or epochs < 1:
        return Stepping(None, taken, "the file does not say how many epochs it trained: "
                                     "pass --steps-per-epoch N (1 if stepped once per epoch)")
    if taken == epochs:
        return Stepping(1, taken, f"last_epoch {taken} = the {epochs} epochs done: stepped "
                                  "once per epoch")
    if global_step is not None and taken == global_step:
        whole_epochs = global_step - step_in_epoch
        if whole_epochs % epochs:
            return Stepping(None, taken, f"last_epoch {taken} = the global step, which is not "
                                         f"a whole number of steps per epoch over {epochs} "
                                         "epochs: pass --steps-per-epoch N")
        n = whole_epochs // epochs
        return Stepping(n, taken, f"last_epoch {taken} = the global step: stepped every "
                                  f"optimizer step, {n} per epoch")
    if per_epoch_hint and taken == per_epoch_hint * epochs + step_in_epoch:
        return Stepping(per_epoch_hint, taken, f"last_epoch {taken} = {per_epoch_hint} steps x "
                                               f"{epochs} epochs: stepped every optimizer step")
    if global_step is None and per_epoch_hint is None and taken > epochs and taken % epochs == 0:
        n = taken // epochs
        return Stepping(n, taken, f"last_epoch {taken} = {n} x the {epochs} epochs done: "
                                  f"stepped {n} times per epoch", exact=False)
    step = f", global step {global_step}" if global_step is not None else ""
    return Stepping(None, taken, f"last_epoch {taken} matches neither the {epochs} epochs "
                                 f"done nor a whole number of steps per epoch{step}: pass "
                                 "--steps-per-epoch N if it steps N times an epoch")


def settle_epoch_key(taken: int, value: int, key: str, global_step: int | None = None,
                     given: int | None = None) -> tuple[int | None, Stepping, str]:
    """(epochs done, stepping, how the epoch count was decided) for a hand-written loop's
    epoch counter `key` = `value`, which is either the index of the last epoch finished (the
    loop resumes at value + 1) or the count of epochs finished: the one the scheduler's steps
    agree with, exactly if possible."""
    readings = []
    for done, meaning in ((value + 1, "the index of the last epoch finished"),
                          (value, "the count of epochs finished")):
        if done >= 1:
            stepping = settle(taken, done, global_step, None, given)
            if stepping.per_epoch is not None and (given is None or taken == given * done):
                readings.append((done, stepping, f"{key} = {value} is {meaning} ({done} done): "
                                                 f"{stepping.how}"))
    exact = [r for r in readings if r[1].exact]
    chosen = exact if exact else readings
    if len(chosen) == 1:
        return chosen[0]
    if chosen:
        how = (f"{key} = {value} could be the index of the last epoch finished or the count "
               f"of epochs finished, and last_epoch {taken} fits both: pass --steps-per-epoch "
               "N to settle it")
    else:
        how = (f"last_epoch {taken} fits neither {value} nor {value + 1} epochs done "
               f"({key} = {value}): pass --steps-per-epoch N")
    return None, Stepping(None, taken, how), how
