"""`runwatch forecast PATH` and `runwatch report PATH`.

Cheap to import: numpy and the forecast are imported only when a command runs.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from runwatch.atomic import write_text_atomic
from runwatch.errors import RunwatchError
from runwatch.terminal import printable_lines

if TYPE_CHECKING:  # the heavy modules load only when a command runs
    from runwatch.forecast.loading import RunInput
    from runwatch.forecast.result import ForecastResult

MAX_INCIDENTS = 5


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="PATH",
                        help="run directory, metrics.jsonl, or another trainer's log/CSV")
    parser.add_argument("--target", metavar="PERCENT", help="target test acc1 in percent "
                        "(default: the run's target_acc1, else 75)")
    parser.add_argument("--upto", type=int, metavar="EPOCH",
                        help="forecast as if only the epochs up to EPOCH were known")
    parser.add_argument("--metric", metavar="NAME", help="the log's accuracy field to use")
    parser.add_argument("--lr-tag", metavar="TAG",
                        help="the LR tag of a TensorBoard/MLflow/Hugging Face log")
    parser.add_argument("--source", metavar="NAME",
                        help="which log of a folder holding several (a format, e.g. "
                             "tensorboard, or a path inside the folder)")
    parser.add_argument("--plan", metavar="SPEC",
                        help="planned schedule, e.g. cosine_restarts:lr=0.05,t0=30,"
                             "eta_min=1e-5,epochs=100 ('seed' = the seed run's plan); "
                             "default: the run's own")
    parser.add_argument("--patience", type=int, help="early-stopping patience in epochs")
    parser.add_argument("--checkpoint", type=int, metavar="EPOCH",
                        help="epoch the scenarios start from (default: the last)")


def target_percent(text: str | None) -> float | None:
    """--target as a percentage in (0, 100]; parsed here, not by argparse, so that a bad one
    is a one-line RunwatchError that says what to write."""
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value <= 100:  # also refuses nan
        raise RunwatchError(f"--target {text} is not a percentage: give the target test "
                            "accuracy in percent, e.g. --target 75")
    return value


def accuracy_metric(name: str | None) -> str | None:
    """--metric, refused when it names a loss: the forecast reads an accuracy in percent
    (higher is better), and a loss read as one gives a confident nonsense forecast."""
    if name is not None and "loss" in name.lower():
        raise RunwatchError(f"--metric {name} is a loss, and the forecast needs an accuracy: "
                            "pick an accuracy field such as test_acc1 or test_acc5")
    return name


def register(subparsers: argparse._SubParsersAction) -> None:
    fc = subparsers.add_parser(
        "forecast", help="forecast a run's accuracy, events ahead and what-if scenarios",
        description="Forecast test accuracy for every planned epoch with 80%%/95%% intervals, "
                    "the chance of reaching the target, LR restarts ahead and scenarios.")
    _add_common(fc)
    fc.add_argument("--json", action="store_true", help="print the full result as JSON")
    fc.set_defaults(func=run_forecast_command)
    rp = subparsers.add_parser(
        "report", help="write a Markdown report of a run (forecast, incidents, scenarios)",
        description="A Markdown report like the team's hand-written one, every number computed.")
    _add_common(rp)
    rp.add_argument("-o", "--output", type=Path, help="write the report here (default: stdout)")
    rp.add_argument("--force", action="store_true", help="replace an existing -o file")
    rp.set_defaults(func=run_report_command)


def _load_and_forecast(args: argparse.Namespace) -> tuple[RunInput, ForecastResult]:
    from runwatch.forecast.engine import forecast_run
    from runwatch.forecast.loading import load_run

    run = load_run(args.path, accuracy_metric(args.metric), args.upto, args.plan,
                   target_percent(args.target), args.patience, args.checkpoint,
                   lr_tag=args.lr_tag, choice=args.source)
    result = forecast_run(run.history, run.plan, run.target, run.options)
    return run, result


def _summary(run: RunInput, result: ForecastResult, metric: str | None = None) -> str:
    lines = [f"{run.name} ({run.source_kind}): epoch {result.last_epoch}, "
             f"{metric or 'test acc1'} {result.last_acc1:.2f} (best {result.best_acc1:.2f} at "
             f"epoch {result.best_epoch})"]
    if run.source_note:  # how the log was read: which column is the accuracy, ...
        lines.append(f"read as: {run.source_note}")
    if result.predictions:
        end = result.predictions[-1]
        lines.append(f"forecast at epoch {end.epoch}: {end.acc1:.2f}  80% {end.lo80:.2f}-"
                     f"{end.hi80:.2f}  95% {end.lo95:.2f}-{end.hi95:.2f}")
    if result.eta_epoch is not None and result.eta_epoch <= result.last_epoch:
        lines.append(f"target {result.target:g}%: reached at epoch {result.eta_epoch}")
    else:
        eta = f", more likely than not from epoch {result.eta_epoch}" if result.eta_epoch else ""
        when = f" ({result.eta_time})" if result.eta_time else ""
        lines.append(f"target {result.target:g}%: probability {result.probability_reach:.0%}"
                     f"{eta}{when}")
    step = max(1, len(result.predictions) // 10)
    for p in result.predictions[::step]:
        lines.append(f"  epoch {p.epoch:4d}: {p.acc1:6.2f}  [{p.lo80:6.2f}, {p.hi80:6.2f}]")
    for e in result.events:
        numbers = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                            for k, v in e.fields.items())
        lines.append(f"event {e.kind} @ {e.epoch}: {numbers}")
    for s in result.scenarios:
        lines.append(f"scenario {s.name!r} from epoch {s.checkpoint_epoch}: {s.final_acc1:.2f} "
                     f"at epoch {s.final_epoch} (80% {s.lo80:.2f}-{s.hi80:.2f})")
    lines += [f"note: {n}" for n in (*run.notes, *result.notes)]
    return printable_lines(lines)  # names and notes come from the log


def run_forecast_command(args: argparse.Namespace) -> int:
    run, result = _load_and_forecast(args)
    if args.json:
        data = result.to_dict()
        data["notes"] = list(run.notes) + data["notes"]
        print(json.dumps(data, indent=1))
    else:
        print(_summary(run, result, args.metric))
    return 0


def _check_output(out: Path, src: Path, force: bool) -> None:
    if out.is_dir() or not out.parent.is_dir():
        raise RunwatchError(f"-o {out}: name a file in an existing folder")
    if out.exists() and src.exists() and os.path.samefile(out, src):
        raise RunwatchError(f"-o {out} is the input log: choose another file name")
    if out.exists() and not force:
        raise RunwatchError(f"-o {out} already exists: choose a new name or pass --force")


def run_report_command(args: argparse.Namespace) -> int:
    if args.output is not None:
        _check_output(args.output, Path(args.path), args.force)
    from runwatch.forecast.inputs import prepare_history
    from runwatch.forecast.report import incident_checks, render_report

    run, result = _load_and_forecast(args)
    h = prepare_history(run.history, run.plan)
    checks = incident_checks(run.history, run.plan, run.target, h, result, MAX_INCIDENTS)
    plan_text = run.plan_origin
    if args.metric:  # every "test acc1" of the report is this field
        plan_text += f". Accuracy: {args.metric} (the report's 'test acc1')"
    result = replace(result, notes=run.notes + result.notes)
    text = printable_lines(render_report(run.name, run.source, h, result, checks,
                                       plan_text).split("\n"))
    if args.output is None:
        sys.stdout.write(text)
    else:
        write_text_atomic(args.output, text, replace=args.force)
        print(f"report written to {args.output}")
    return 0
