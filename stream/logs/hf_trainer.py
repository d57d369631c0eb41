"""Hugging Face Trainer output directories: `trainer_state.json`, in the output directory
(`Trainer.save_state()`) and in every `checkpoint-N/` the Trainer saves. The one with the most
steps wins (the newest checkpoint, or the final state beside them); it is rewritten whole, so it
is re-read when it changes.

Its `log_history` is a list of dicts: `loss`, `learning_rate`, `grad_norm` every
`logging_steps`, `eval_*` (`eval_accuracy`, `eval_loss` ...) at each evaluation, each with
`step` and `epoch` (fractional epochs completed). They are read as scalars by tag
(stream/logs/scalars.py): eval metrics that are fractions are shown as percent; the
end-of-training summary (`train_runtime`, the run's mean `train_loss`) is left out.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from runwatch.stream.logs.base import Head, LogFormat, ReadOptions
from runwatch.stream.logs.scalars import ScalarLog, Series
from runwatch.stream.reader import MAX_LINE_BYTES, FollowState, loads, stat_log

NAME = "trainer_state.json"
KIND = "Hugging Face trainer_state.json"
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
MAX_STATE_BYTES = 8 * MAX_LINE_BYTES  # a million log entries; larger is no trainer state
_SUMMARY_KEYS = {"train_runtime", "train_samples_per_second", "train_steps_per_second",
                 "total_flos", "train_loss"}


def output_dir(path: Path) -> Path:
    """The Trainer's output directory of a trainer_state.json (its checkpoint's parent)."""
    return path.parent.parent if _CHECKPOINT.match(path.parent.name) else path.parent


def candidates(out: Path) -> list[Path]:
    """The final state and the newest checkpoint's, where they exist."""
    checkpoints = [(int(m.group(1)), p) for p in out.glob(f"checkpoint-*/{NAME}")
                   if (m := _CHECKPOINT.match(p.parent.name))]
    newest = [max(checkpoints)[1]] if checkpoints else []
    return [p for p in (out / NAME, *newest) if p.is_file()]


def series_of(state: dict) -> Series:
    """The scalars of a trainer state's log_history, by tag, keyed by global step."""
    series = Series()
    history = state.get("log_history")
    if not isinstance(history, list):
        raise ValueError("no log_history list")
    for entry in history:
        if not isinstance(entry, dict) or _SUMMARY_KEYS & set(entry):
            continue
        step = entry.get("step")
        if type(step) is not int:
            continue
        for key, value in entry.items():
            if key != "step" and isinstance(value, (int, float)) and not isinstance(value, bool):
                series.add(str(key), step, float(value))
    return series


class HfTrainerLog(ScalarLog):
    kind_name = KIND

    def __init__(self, path: Path, options: ReadOptions, state: FollowState) -> None:
        super().__init__(path, options, state)
        self.out = output_dir(path)
        self.seen: dict[Path, tuple] = {}
        self.states: dict[Path, dict] = {}
        self.chosen: dict = {}

    def feed(self) -> bool:
        changed = False
        for path in candidates(self.out):
            st = stat_log(path, self.state)
            if st is None:
                continue
            key = (st.st_ino, st.st_size, st.st_mtime_ns)
            if self.seen.get(path) == key:
                continue
            loaded = self._load(path, st.st_size)
            if loaded is None:  # being written: read it when it changes again
                continue
            self.seen[path], self.states[path] = key, loaded
            changed = True
        if changed and self.states:
            steps = {p: s.get("global_step") for p, s in self.states.items() if p.exists()}
            best = max(steps, key=lambda p: (steps[p] if type(steps[p]) is int else -1,
                                             p.name == NAME and p.parent == self.out))
            if self.states[best] is not self.chosen:
                self.chosen = self.states[best]
                try:
                    self.series = series_of(self.chosen)
                except ValueError as exc:
                    self.state.problem = f"{best}: {exc}"
                self.path = best
        self.state.missing = not self.states
        return True

    def _load(self, path: Path, size: int) -> dict | None:
        if size > MAX_STATE_BYTES:
            self.state.problem = f"{path}: larger than {MAX_STATE_BYTES >> 20} MiB, not read"
            return None
        try:
            state = loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return state if isinstance(state, dict) else None

    def info(self) -> dict:
        epochs = self.chosen.get("num_train_epochs")
        config = {k: v for k, v in self.chosen.items()
                  if k in ("max_steps", "num_train_epochs", "logging_steps", "eval_steps",
                           "save_steps", "train_batch_size") and isinstance(v, (int, float))}
        planned = (math.ceil(epochs) if isinstance(epochs, (int, float))
                   and math.isfinite(epochs) and 0 < epochs <= 1e5 else None)
        return {"config": config, "epochs": planned, "run_id": self.out.name}


def sniff(head: Head) -> bool | None:
    if not head.text:
        return None
    return head.text[0] == "{" and any(line.startswith('"log_history"') for line in head.text)


def open_log(path: Path, options: ReadOptions, state: FollowState) -> HfTrainerLog:
    return HfTrainerLog(path, options, state)


FORMAT = LogFormat("hf_trainer", KIND, "a Hugging Face Trainer output dir (trainer_state.json)",
                   (NAME,), sniff, open_log, unit=output_dir)
