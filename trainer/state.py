"""Where a run stands: epochs and steps done, the best so far, the patience counter.

`RunState` is a value: the loop replaces it (`after_epoch`, `stopped_mid_epoch`), nothing
changes it in place. All of it goes into every checkpoint (`state_fields`) and comes back from
one (`state_from_checkpoint`), so a resumed run continues exactly where the saved one stood.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass, field


@dataclass(frozen=True)
class EpochSums:
    """Train sums of an epoch so far: loss * images, correct top-1, images, seconds."""

    loss: float = 0.0
    correct: float = 0.0
    count: float = 0.0
    seconds: float = 0.0

    def as_list(self) -> list[float]:
        return [self.loss, self.correct, self.count, self.seconds]


@dataclass(frozen=True)
class RunState:
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    epoch: int = 0  # epochs completed
    global_step: int = 0  # optimizer steps taken
    step_in_epoch: int = 0  # steps of epoch + 1 already done (an interrupted epoch)
    partial: EpochSums = field(default_factory=EpochSums)  # that epoch's sums so far
    best_acc1: float = 0.0
    best_epoch: int = 0
    epochs_since_best: int = 0
    edits: tuple[dict, ...] = ()  # `runwatch ckpt edit`s of the schedule followed so far
    last_record: dict | None = None  # the last `epoch` record

    def after_epoch(self, record: dict) -> RunState:
        """The state once `record` (an `epoch` record, trainer/records.py) is written."""
        return dataclasses.replace(
            self, epoch=record["epoch"], global_step=record["global_step"], step_in_epoch=0,
            partial=EpochSums(), best_acc1=record["best_acc1"], best_epoch=record["best_epoch"],
            epochs_since_best=record["epochs_since_best"], last_record=record)

    def stopped_mid_epoch(self, step_in_epoch: int, partial: EpochSums,
                          global_step: int) -> RunState:
        """The state of an epoch cut short after `step_in_epoch` steps (all ranks' sums)."""
        return dataclasses.replace(self, step_in_epoch=step_in_epoch, partial=partial,
                                   global_step=global_step)


def state_fields(state: RunState) -> dict:
    """The checkpoint's loop-state keys (docs/checkpoint-layout.md): plain types only."""
    return {
        "run_id": state.run_id, "edits": list(state.edits), "edits_followed": len(state.edits),
        "epoch": state.epoch, "global_step": state.global_step,
        "step_in_epoch": state.step_in_epoch, "partial": dataclasses.asdict(state.partial),
        "best_acc1": state.best_acc1, "best_epoch": state.best_epoch,
        "epochs_since_best": state.epochs_since_best, "metrics": state.last_record,
    }


def state_from_checkpoint(saved: dict, *, keep_edits: bool) -> RunState:
    """The state a checkpoint stood in; its schedule edits dropped unless `keep_edits` (an
    override replaces the edited schedule by the config's)."""
    return RunState(
        run_id=saved.get("run_id") or uuid.uuid4().hex[:12], epoch=int(saved["epoch"]),
        global_step=int(saved["global_step"]), step_in_epoch=int(saved.get("step_in_epoch", 0)),
        partial=EpochSums(**saved["partial"]) if saved.get("partial") else EpochSums(),
        best_acc1=float(saved["best_acc1"]), best_epoch=int(saved["best_epoch"]),
        epochs_since_best=int(saved["epochs_since_best"]),
        edits=tuple(saved.get("edits", [])) if keep_edits else (),
        last_record=saved.get("metrics"))
