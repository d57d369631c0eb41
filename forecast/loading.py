"""Read a run for `runwatch forecast` / `runwatch report`: records -> history, plan, options.

The I/O edge of the forecast: any log trainer.sources reads (our stream, DeiT/json_stats logs,
timm/Lightning/plain CSVs), cut at `--upto`, with the plan from `--plan`, else the stream's
ScheduleSpec, else the planned LRs the log carries, else (with `--upto` on a longer log) the LRs
the log records for all its epochs, as the backtest does.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from runwatch.errors import RunwatchError
from runwatch.forecast.inputs import EpochLog, history_from_records
from runwatch.forecast.plan_guess import guess_plan
from runwatch.forecast.result import ForecastOptions
from runwatch.forecast.scenarios import parse_plan, standard_scenarios
from runwatch.schedule import ScheduleSpec, lr_plan, spec_from_dict
from runwatch.stream import latest_plan
from runwatch.stream.sources import read_source
from runwatch.terminal import printable

DEFAULT_TARGET = 75.0


@dataclass(frozen=True)
class RunInput:
    """Everything a forecast of one run needs, parsed from its log and the command line."""

    name: str
    source_kind: str
    history: EpochLog
    plan: list[float] | None
    spec: ScheduleSpec | None
    target: float
    options: ForecastOptions
    notes: tuple[str, ...]
    plan_origin: str = "unknown"  # where `plan` comes from, in words
    source_note: str = ""  # how a foreign log was read (which column is the accuracy ...)

    @property
    def source(self) -> str:
        """The log's kind, and how it was read when that was a choice, as headers say it."""
        note = f"; {printable(self.source_note)}" if self.source_note else ""
        return f"{self.source_kind}{note}"


def _start_record(records: list[dict]) -> dict:
    starts = [r for r in records if r.get("type") in ("run_start", "resume")]
    return starts[-1] if starts else {}


def _find_key(tree: object, key: str) -> object:
    """The first value whose key contains `key` anywhere in a nested config dict."""
    if isinstance(tree, dict):
        for name, value in tree.items():
            if key in str(name) and not isinstance(value, dict):
                return value
        for value in tree.values():
            found = _find_key(value, key)
            if found is not None:
                return found
    return None


def optimizer_name(config: object) -> str | None:
    """The optimizer named in a run's config: `[optim] name` (ours), else the first `optimizer`,
    `opt` or `optim` string anywhere in it (the seed run, timm's args, other trainers)."""
    if not isinstance(config, dict):
        return None
    optim = config.get("optim")
    if isinstance(optim, dict) and isinstance(optim.get("name"), str):
        return optim["name"]
    for key in ("optimizer", "opt", "optim"):
        if isinstance(config.get(key), str):
            return config[key]
    return next(filter(None, (optimizer_name(v) for v in config.values())), None)


def _logged_lrs(full: EpochLog) -> list[float] | None:
    """The LR column of a whole log as a plan, when every epoch 1..N has one."""
    if full.lr is None or np.isnan(full.lr).any():
        return None
    if full.epoch.tolist() != list(range(1, len(full) + 1)):
        return None
    return full.lr.tolist()


def _lr_at(history: EpochLog, plan: list[float], epoch: int) -> float:
    """The LR epoch `epoch` ran at: the logged one, else the plan's."""
    at = np.flatnonzero(history.epoch == epoch)
    if history.lr is not None and len(at) and math.isfinite(history.lr[at[-1]]):
        return float(history.lr[at[-1]])
    return float(plan[min(epoch, len(plan)) - 1])


def _best_epoch(history: EpochLog) -> int:
    """The epoch of the best finite accuracy (1 when none is finite)."""
    acc = np.where(np.isfinite(history.test_acc1), history.test_acc1, -np.inf)
    return int(history.epoch[int(np.argmax(acc))]) if np.isfinite(acc).any() else 1


def _checkpoint_epoch(history: EpochLog, checkpoint: int | None) -> int:
    """--checkpoint, checked against the usable epochs of the log (a finite accuracy: the
    forecast starts from it); default the last of them."""
    logged = set(history.epoch.astype(int).tolist())
    epochs = set(history.epoch[np.isfinite(history.test_acc1)].astype(int).tolist()) or logged
    if checkpoint is None:
        return max(epochs)
    if checkpoint not in epochs:
        problem = ("has no finite accuracy in this log" if checkpoint in logged
                   else "is not an epoch of this log")
        raise RunwatchError(f"--checkpoint {checkpoint} {problem}: choose another of "
                            f"{min(epochs)}-{max(epochs)}, or leave it out for the last")
    return checkpoint


def _plan(plan_text: str | None, start: dict, records: list[dict], full: EpochLog,
          history: EpochLog, notes: list[str]
          ) -> tuple[list[float] | None, ScheduleSpec | None, str]:
    """(planned LRs, their schedule when known, where they come from): --plan, else the
    stream's ScheduleSpec (unless an edit starts it later), else the planned LRs it carries,
    else (--upto on a longer log) the LRs the log records, else a plan guessed from the logged
    LRs (forecast.plan_guess)."""
    if plan_text:
        spec = parse_plan(plan_text)
        return lr_plan(spec), spec, plan_text
    if isinstance(start.get("schedule"), dict) and not start.get("synthetic"):
        spec = spec_from_dict(start["schedule"])
        # An edited schedule (`ckpt edit`, rewind) that starts after epoch `offset` is not the
        # one its earlier epochs ran on: the whole plan is the LRs the record carries.
        if not spec.offset:
            return lr_plan(spec), spec, "the run's own schedule"
    planned = latest_plan(records)
    if planned is not None:
        return planned, None, "the run's own planned LRs"
    if len(full) > len(history) and (logged := _logged_lrs(full)) is not None:
        notes.append(f"plan: the LRs the log records for epochs 1-{len(logged)} (a schedule "
                     "is set before a run; only the accuracy after --upto is hidden)")
        return logged, None, "the LRs the log records"
    if history.lr is not None:
        guess = guess_plan(history.epoch.astype(int), history.lr)
        if guess is not None:
            notes.append(guess.note)
            return guess.lrs.tolist(), guess.spec, "assumed from the logged LRs (see the notes)"
    return None, None, "unknown"


def _not_training(records: list[dict]) -> bool:
    """Whether the stream's last word is that nothing trains: a run_end or a rewind."""
    last = next((r for r in reversed(records) if r.get("type") not in ("step", "steps")), {})
    return last.get("type") == "run_end" or last.get("kind") == "rewind"


def load_run(path: str, metric: str | None = None, upto: int | None = None,
             plan_text: str | None = None, target: float | None = None,
             patience: int | None = None, checkpoint: int | None = None, *,
             lr_tag: str | None = None, choice: str | None = None) -> RunInput:
    """Parse one run; RunwatchError (one line) for anything the user can fix."""
    if patience is not None and patience < 0:
        raise RunwatchError(f"--patience {patience} is negative: give the early-stopping "
                            "patience in epochs (0: no early stopping)")
    records, source = read_source(path, metric, lr_tag=lr_tag, choice=choice)
    full = history_from_records(records)
    if not len(full):
        raise RunwatchError(f"{path}: no epoch records yet; wait for the first epoch")
    history = full
    if upto is not None:
        history = full.upto(upto)
        if not len(history):
            raise RunwatchError(f"--upto {upto} leaves no epoch: the run starts at a later "
                                "epoch; raise --upto")
    start = _start_record(records)
    notes: list[str] = []
    if source.state.bad_lines:  # the monitor alerts on these; the forecast says so too
        why = f"{source.state.last_reason}: " if source.state.last_reason else ""
        notes.append(f"{source.state.bad_lines} unreadable line(s) skipped (last: {why}"
                     f"{source.state.last_bad[:40]!r})")
    plan, spec, origin = _plan(plan_text, start, records, full, history, notes)
    if target is None:
        target = float(start.get("target_acc1") or DEFAULT_TARGET)
    if patience is None:
        found = _find_key(start.get("config", {}), "patience")
        patience = int(found) if isinstance(found, (int, float)) and found > 0 else None
    at = _checkpoint_epoch(history, checkpoint)
    scenarios: tuple = ()
    if plan is not None:
        candidates, more = standard_scenarios(plan, at, _lr_at(history, plan, at),
                                              _best_epoch(history), spec)
        scenarios, notes = tuple(candidates), notes + more
    # A stopped or rewound run reaches nothing before now (as the monitor dates it).
    now = time.time() if upto is None and _not_training(records) else None
    options = ForecastOptions(patience=patience, scenarios=scenarios, now=now,
                              optimizer=optimizer_name(start.get("config")))
    name = str(start.get("run_id") or path)
    if start.get("synthetic") and source.path is not None:
        # A folder may hold several logs: say which one (a log in the current folder has no
        # folder name to show).
        name = "/".join(filter(None, (start.get("run_id"), source.path.name)))
    return RunInput(name, source.kind, history, plan, spec, float(target), options, tuple(notes),
                    origin, source.note if start.get("synthetic") else "")
