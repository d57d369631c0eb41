"""A Hugging Face TrainerCallback that writes runwatch's metric stream.

    from runwatch.hooks.hf import RunwatchTrainerCallback
    trainer = Trainer(..., callbacks=[RunwatchTrainerCallback()])

Into `run_dir` (default: `TrainingArguments.output_dir`) it writes, on the main process:
`run_start` with the planned LR of every epoch (a copy of the Trainer's scheduler stepped over
`max_steps`, read at the first step of each epoch: warmup, decay and restarts as configured by
`lr_scheduler_type`), a `step` record at each logging step (`loss`, `learning_rate`), an
`epoch` record at the end of each epoch with the evaluation that follows it (`eval_accuracy`
... by name, or `metric`; fractions as percent), a `checkpoint` record for each `checkpoint-N`
saved, and `run_end`. A resumed training writes `resume`. Nothing it does raises into training.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from pathlib import Path

try:
    from transformers import TrainerCallback
except ImportError as exc:  # an optional hook: transformers comes with the user's trainer
    raise ImportError("runwatch.hooks.hf needs transformers: pip install transformers "
                      "(or runwatch[hf])") from exc

from runwatch.errors import RunwatchError
from runwatch.hooks.metrics import MetricPicker, as_number
from runwatch.hooks.plan import planned_lrs
from runwatch.stream import RunStream, open_run

_CONFIG_KEYS = ("learning_rate", "lr_scheduler_type", "warmup_steps", "warmup_ratio",
                "num_train_epochs", "max_steps", "per_device_train_batch_size",
                "gradient_accumulation_steps", "weight_decay", "optim", "seed",
                "eval_strategy", "logging_steps")


class RunwatchTrainerCallback(TrainerCallback):
    def __init__(self, run_dir: str | Path | None = None, *, metric: str | None = None,
                 target_acc1: float | None = None,
                 accuracy_in_percent: bool | None = None) -> None:
        self.run_dir = run_dir
        self.target_acc1 = target_acc1
        self.picker = MetricPicker(metric, accuracy_in_percent)
        self.stream: RunStream | None = None
        self.epoch_lr: float | None = None
        self.epoch_started = 0.0
        self.epoch_first_step = 0
        self.losses: list[float] = []
        self.pending: dict | None = None  # an epoch ended, waiting for its evaluation
        self._optimizer = None

    def on_train_begin(self, args, state, control, lr_scheduler=None, optimizer=None,
                       **kwargs) -> None:
        try:
            self.stream = open_run(self.run_dir or args.output_dir,
                                   rank=0 if state.is_world_process_zero else 1)
        except RunwatchError as exc:
            warnings.warn(f"runwatch: {exc}; no stream for this run", RuntimeWarning,
                          stacklevel=2)
            return
        epochs = math.ceil(state.num_train_epochs or args.num_train_epochs)
        done = int(state.epoch or 0)
        plan = None
        if lr_scheduler is not None and epochs > 0 and state.max_steps > 0:
            plan = planned_lrs(lr_scheduler, epochs, math.ceil(state.max_steps / epochs),
                               per_step=True, done_epochs=done)
        config = {k: getattr(args, k) for k in _CONFIG_KEYS if hasattr(args, k)}
        if done:
            self.stream.resume(done, lr_schedule=plan, epochs=epochs, config=config,
                               target_acc1=self.target_acc1)
        else:
            self.stream.run_start(config=config, lr_schedule=plan, epochs=epochs,
                                  target_acc1=self.target_acc1)
        self._optimizer = optimizer

    def on_epoch_begin(self, args, state, control, optimizer=None, **kwargs) -> None:
        self._flush()
        optimizer = optimizer or self._optimizer
        self.epoch_lr = (float(optimizer.param_groups[0]["lr"]) if optimizer is not None
                         else None)
        self.epoch_started = time.time()
        self.epoch_first_step = state.global_step
        self.losses = []

    def on_log(self, args, state, control, logs=None, **kwargs) -> None:
        loss = as_number((logs or {}).get("loss"))
        if self.stream is None or loss is None:
            return
        self.losses.append(loss)
        self.stream.step(max(math.ceil(state.epoch - 1e-6), 1),
                         max(state.global_step - self.epoch_first_step, 1),
                         global_step=state.global_step, loss=loss,
                         lr=as_number(logs.get("learning_rate")))

    def on_epoch_end(self, args, state, control, **kwargs) -> None:
        if self.stream is None:
            return
        self.pending = {"epoch": round(state.epoch), "lr": self.epoch_lr,
                        "epoch_time_s": time.time() - self.epoch_started,
                        "train_loss": sum(self.losses) / len(self.losses) if self.losses
                        else None}

    def on_evaluate(self, args, state, control, metrics=None, **kwargs) -> None:
        if self.stream is not None and self.pending is not None:
            fields = self.picker.fields(metrics or {})
            self.pending.update({k: v for k, v in fields.items() if k.startswith("test_")})
            self._flush()

    def on_save(self, args, state, control, **kwargs) -> None:
        if self.stream is not None:
            # Absolute: output_dir is often relative to the script's folder, not the reader's.
            path = os.path.abspath(os.path.join(args.output_dir,
                                                f"checkpoint-{state.global_step}"))
            self.stream.checkpoint(math.floor(state.epoch + 1e-6), path)

    def on_train_end(self, args, state, control, **kwargs) -> None:
        if self.stream is None:
            return
        self._flush()
        stopped = 0 < state.global_step < state.max_steps
        self.stream.run_end("early_stopped" if stopped else "completed",
                            math.floor(state.epoch + 1e-6))
        self.stream.close()
        self.stream = None

    def _flush(self) -> None:
        """Write the epoch that ended (with its evaluation, when one came)."""
        if self.stream is not None and self.pending is not None:
            fields = {k: v for k, v in self.pending.items() if k != "epoch"}
            self.stream.epoch(self.pending["epoch"], **fields)
            self.pending = None
