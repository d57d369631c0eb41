"""`runwatch watch PATH` and `runwatch demo`: the live monitor's subcommands.

Cheap to import (no textual here): the app is imported by the function that runs it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from runwatch.errors import RunwatchError

SEED_RUN_EPOCHS_PER_S = 0.5  # 31 epochs in about a minute


def _notify_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--notify", action=argparse.BooleanOptionalAction, default=None,
                        help="terminal bell and desktop notification (OSC 9/777, through "
                             "tmux's passthrough) on the alerts that matter, each once "
                             "(default: on, off for replays)")
    parser.add_argument("--notify-cmd", metavar="CMD",
                        help="also run the shell command CMD for each alert, with the alert as "
                             "JSON on its stdin (e.g. curl -d @- https://ntfy.sh/topic)")
    parser.add_argument("--notify-restart-within", type=int, default=3, metavar="EPOCHS",
                        help="notify of an LR restart this many epochs ahead (default 3)")


def register(subparsers: argparse._SubParsersAction) -> None:
    watch = subparsers.add_parser(
        "watch", help="watch a run live: epochs, forecast, what to do, alerts, checkpoints",
        description="Watch a run directory, a metrics.jsonl, or another trainer's log "
                    "(TensorBoard events, a Hugging Face output dir, an MLflow run, DeiT "
                    "log.txt, timm summary.csv, Lightning metrics.csv, any epoch/accuracy CSV).")
    watch.add_argument("path", type=Path, nargs="+",
                       help="run directory or log file (may not exist yet); a folder of runs "
                            "or several paths open the run list")
    watch.add_argument("--target", metavar="PERCENT", default=None,
                       help="target test accuracy in percent (default: the run's, else 75)")
    watch.add_argument("--metric", help="accuracy field to follow (default: detected, e.g. "
                                        "test_acc1)")
    watch.add_argument("--lr-tag", metavar="TAG",
                       help="the LR tag of a TensorBoard/MLflow/Hugging Face log")
    watch.add_argument("--source", metavar="NAME",
                       help="which log of a folder holding several (a format, e.g. "
                            "tensorboard, or a path inside the folder)")
    watch.add_argument("--replay", type=float, nargs="?", const=1.0, default=None,
                       metavar="SPEED", help="replay a finished log at SPEED epochs per second "
                                             "(default 1)")
    _notify_arguments(watch)
    watch.set_defaults(func=run_watch)

    demo = subparsers.add_parser(
        "demo", help="train a small CPU model and watch it live (or replay the seed run)",
        description="Starts the CPU smoke training in the background and opens the monitor "
                    "on it; --seed-run replays the real ResNet50 run instead.")
    demo.add_argument("--seed-run", action="store_true",
                      help="replay the packaged seed run (ResNet50/ImageNet, 31 epochs) in "
                           "about a minute instead of training")
    demo.add_argument("--headless", action="store_true",
                      help="with --seed-run: no terminal (for CI); replays as fast as the "
                           "forecasts allow (or at --speed), then prints a summary")
    demo.add_argument("--speed", type=float, metavar="EPOCHS_PER_S",
                      help=f"with --seed-run: replay speed (default {SEED_RUN_EPOCHS_PER_S}; "
                           "headless: as fast as possible)")
    _notify_arguments(demo)
    demo.set_defaults(func=run_demo)


def notify_settings(args: argparse.Namespace, replay: bool):
    from runwatch.tui.notify import NotifySettings

    if args.notify_restart_within < 0:
        raise RunwatchError(f"--notify-restart-within {args.notify_restart_within}: give a "
                            "number of epochs, 0 or more")
    terminal = (not replay) if args.notify is None else args.notify
    return NotifySettings(terminal=terminal, command=args.notify_cmd,
                          restart_within=args.notify_restart_within)


def run_watch(args: argparse.Namespace) -> int:
    from runwatch.forecast.cli import accuracy_metric, target_percent
    from runwatch.tui.launch import watch, watch_runs

    target, metric = target_percent(args.target), accuracy_metric(args.metric)
    notify = notify_settings(args, replay=args.replay is not None)
    scanner = runs_scanner(args.path, args.source, args.replay)
    if scanner is not None:
        return watch_runs(scanner, target=target, metric=metric, lr_tag=args.lr_tag,
                          notify=notify)
    return watch(args.path[0], target=target, metric=metric, replay=args.replay,
                 lr_tag=args.lr_tag, choice=args.source, notify=notify)


def runs_scanner(paths: list[Path], source: str | None, replay: float | None):
    """The run list's scanner, or None for one run: several paths are the list's runs; one
    folder is a list when it is a folder of runs (stream.runs.is_folder_of_runs: no log of
    its own, two or more sub-folders holding one)."""
    from runwatch.stream.runs import RunScanner, is_folder_of_runs

    if len(paths) > 1:
        if source is not None or replay is not None:
            raise RunwatchError("--source and --replay watch one run: give one path")
        return RunScanner(paths=paths)
    if source is None and replay is None and is_folder_of_runs(paths[0]):
        return RunScanner(paths[0])
    return None


def run_demo(args: argparse.Namespace) -> int:
    from runwatch.tui.launch import demo, demo_seed_run

    if (args.headless or args.speed is not None) and not args.seed_run:
        raise RunwatchError("--headless and --speed replay the seed run: add --seed-run")
    notify = notify_settings(args, replay=args.seed_run)
    if args.seed_run:
        speed = args.speed if args.speed is not None or args.headless else SEED_RUN_EPOCHS_PER_S
        return demo_seed_run(speed, headless=args.headless, notify=notify)
    return demo(notify=notify)
