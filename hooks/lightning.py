"""A Lightning Callback that writes runwatch's metric stream.

    from runwatch.hooks.lightning import RunwatchCallback
    trainer = L.Trainer(max_epochs=90, callbacks=[RunwatchCallback()])

Into `run_dir` (default: the logger's `log_dir`, else `default_root_dir`) it writes, on rank 0:
`run_start` with the planned LR of every epoch (a copy of the configured scheduler stepped over
the planned epochs or steps: `interval` "epoch" or "step"), a `step` record every
`log_every_n_steps`, an `epoch` record after each epoch (validation metrics by name, e.g.
`val_acc`, or `metric`; fractions as percent), a `checkpoint` record for each file a
ModelCheckpoint saves, and `run_end` (completed, early_stopped, interrupted or failed). A fit
resumed from a checkpoint writes `resume` instead of `run_start`. Nothing it does raises into
training: problems are warned once (runwatch.stream.open_run).
"""

from __future__ import annotations

import math
import time
import warnings
from pathlib import Path

try:
    import lightning.pytorch as pl
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
except ImportError as exc:  # an optional hook: Lightning comes with the user's trainer
    raise ImportError("runwatch.hooks.lightning needs Lightning: pip install lightning "
                      "(or runwatch[lightning])") from exc

from runwatch.errors import RunwatchError
from runwatch.hooks.metrics import MetricPicker, as_number
from runwatch.hooks.plan import constant_plan, planned_lrs
from runwatch.stream import RunStream, open_run


class RunwatchCallback(pl.Callback):
    def __init__(self, run_dir: str | Path | None = None, *, metric: str | None = None,
                 target_acc1: float | None = None, log_every_n_steps: int | None = None,
                 accuracy_in_percent: bool | None = None) -> None:
        self.run_dir = run_dir
        self.target_acc1 = target_acc1
        self.log_every_n_steps = log_every_n_steps
        self.picker = MetricPicker(metric, accuracy_in_percent)
        self.stream: RunStream | None = None
        self.completed = 0
        self.epoch_lr: float | None = None
        self.epoch_started = 0.0
        self.saved: set[str] = set()

    # --- start and plan ---------------------------------------------------------------------

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        run_dir = self.run_dir or trainer.log_dir or trainer.default_root_dir
        try:
            self.stream = open_run(run_dir, rank=0 if trainer.is_global_zero else 1)
        except RunwatchError as exc:
            warnings.warn(f"runwatch: {exc}; no stream for this run", RuntimeWarning,
                          stacklevel=2)
            return
        self.completed = trainer.current_epoch
        epochs, plan = self._plan(trainer)
        config = {"hparams": dict(pl_module.hparams), "max_epochs": trainer.max_epochs,
                  "max_steps": trainer.max_steps,
                  "accumulate_grad_batches": trainer.accumulate_grad_batches}
        if self.completed:
            self.stream.resume(self.completed, lr_schedule=plan, epochs=epochs, config=config,
                               target_acc1=self.target_acc1)
        else:
            self.stream.run_start(config=config, lr_schedule=plan, epochs=epochs,
                                  target_acc1=self.target_acc1)

    def _plan(self, trainer: pl.Trainer) -> tuple[int | None, list[float] | None]:
        batches = trainer.num_training_batches
        if not trainer.optimizers or not math.isfinite(batches):
            return None, None
        steps = math.ceil(batches / trainer.accumulate_grad_batches)
        epochs = trainer.max_epochs
        if epochs is None or epochs < 0:
            epochs = math.ceil(trainer.max_steps / steps) if trainer.max_steps > 0 else None
        if epochs is None:
            return None, None
        configs = trainer.lr_scheduler_configs
        if not configs:
            return epochs, constant_plan(trainer.optimizers[0].param_groups[0]["lr"], epochs)
        config = configs[0]
        per_step = config.interval == "step"
        if config.frequency != 1 and not per_step:
            return epochs, None  # stepped every few epochs: not planned here
        return epochs, planned_lrs(config.scheduler, epochs,
                                   math.ceil(steps / config.frequency), per_step=per_step,
                                   done_epochs=self.completed)

    # --- steps and epochs -------------------------------------------------------------------

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._checkpoints(trainer)
        self.epoch_lr = _lr(trainer)
        self.epoch_started = time.time()

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                           outputs: object, batch: object, batch_idx: int) -> None:
        every = self.log_every_n_steps or trainer.log_every_n_steps
        if self.stream is None or (batch_idx + 1) % max(every, 1):
            return
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        self.stream.step(trainer.current_epoch + 1, batch_idx + 1,
                         global_step=trainer.global_step, loss=as_number(loss), lr=_lr(trainer))

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.stream is None:
            return
        self.completed = trainer.current_epoch + 1
        fields = self.picker.fields(trainer.callback_metrics)
        fields.update(lr=self.epoch_lr, epoch_time_s=time.time() - self.epoch_started)
        self.stream.epoch(self.completed, **fields)

    def _checkpoints(self, trainer: pl.Trainer) -> None:
        """Checkpoint records for the files ModelCheckpoint saved since the last look."""
        if self.stream is None:
            return
        for callback in trainer.checkpoint_callbacks:
            if not isinstance(callback, ModelCheckpoint):
                continue
            paths = {*callback.best_k_models, callback.last_model_path, callback.best_model_path}
            for path in sorted(p for p in paths if p and p not in self.saved):
                if Path(path).is_file():
                    self.saved.add(path)
                    self.stream.checkpoint(self.completed, path,
                                           is_best=path == callback.best_model_path)

    # --- the end ----------------------------------------------------------------------------

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.stream is None:
            return
        self._checkpoints(trainer)
        stopped = any(isinstance(c, EarlyStopping) and c.stopped_epoch > 0
                      for c in trainer.callbacks)
        status = ("interrupted" if trainer.interrupted else "early_stopped" if stopped
                  else "completed")
        self.stream.run_end(status, self.completed)
        self.stream.close()
        self.stream = None

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                     exception: BaseException) -> None:
        if self.stream is None:
            return
        interrupted = isinstance(exception, KeyboardInterrupt)
        self.stream.run_end("interrupted" if interrupted else "failed", self.completed,
                            None if interrupted else f"{type(exception).__name__}: "
                                                     f"{exception}"[:500])
        self.stream.close()
        self.stream = None


def _lr(trainer: pl.Trainer) -> float | None:
    return float(trainer.optimizers[0].param_groups[0]["lr"]) if trainer.optimizers else None
