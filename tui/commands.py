"""`runwatch watch PATH` and `runwatch demo`: the live monitor's subcommands.

Cheap to import (no textual here): the app is imported by the function that runs it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

SEED_RUN_EPOCHS_PER_S = 0.5  # 31 epochs in about a minute


def register(subparsers: argparse._SubParsersAction) -> None:
    watch = subparsers.add_parser(
        "watch", help="watch a run live: epochs, forecast, alerts, checkpoints",
        description="Watch a run directory, a metrics.jsonl, or another trainer's log "
                    "(TensorBoard events, a Hugging Face output dir, an MLflow run, DeiT "
                    "log.txt, timm summary.csv, Lightning metrics.csv, any epoch/accuracy CSV).")
    watch.add_argument("path", type=Path, help="run directory or log file (may not exist yet)")
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
    watch.set_defaults(func=run_watch)

    demo = subparsers.add_parser(
        "demo", help="train a small CPU model and watch it live (or replay the seed run)",
        description="Starts the CPU smoke training in the background and opens the monitor "
                    "on it; --seed-run replays the real ResNet50 run instead.")
    demo.add_argument("--seed-run", action="store_true",
                      help="replay the packaged seed run (ResNet50/ImageNet, 31 epochs) in "
                           "about a minute instead of training")
    demo.set_defaults(func=run_demo)


def run_watch(args: argparse.Namespace) -> int:
    from runwatch.forecast.cli import accuracy_metric, target_percent
    from runwatch.tui.launch import watch

    return watch(args.path, target=target_percent(args.target),
                 metric=accuracy_metric(args.metric), replay=args.replay,
                 lr_tag=args.lr_tag, choice=args.source)


def run_demo(args: argparse.Namespace) -> int:
    from runwatch.tui.launch import demo, demo_seed_run

    return demo_seed_run(SEED_RUN_EPOCHS_PER_S) if args.seed_run else demo()
