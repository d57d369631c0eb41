"""`runwatch train` (and `python -m trainer`, which torchrun runs on every rank).

Cheap to import: torch is imported only when a run starts.
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

import tomli_w

from runwatch.errors import RunwatchError
from runwatch.stream import stream_path
from runwatch.trainer.config import load_config


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train", help="train a model from a TOML config, writing a metric stream and checkpoints",
        description="Train from a TOML config (a path, or a built-in name: "
                    "resnet50_imagenet, resnet50_imagenet_recipe, smoke_cpu).")
    add_arguments(parser)
    parser.set_defaults(func=run_train)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True,
                        help="TOML file, or a built-in name such as smoke_cpu")
    parser.add_argument("--run-dir", type=Path,
                        help="where metrics.jsonl and checkpoints/ go (default: "
                             "runs/<config>-<time>; on resume: the checkpoint's run)")
    parser.add_argument("--data-dir", help="dataset root (sets data.data_dir)")
    parser.add_argument("--resume-from", type=Path, metavar="CKPT",
                        help="checkpoint file, or a run directory (its checkpoints/last.pt)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="SECTION.KEY=VALUE", help="override a config key (TOML value)")
    parser.add_argument("--override-schedule", action="store_true",
                        help="on resume, apply the config's [optim]/[schedule]/epochs even "
                             "where they differ from the checkpoint's")


def run_train(args: argparse.Namespace) -> int:
    overrides = list(args.overrides)
    if args.data_dir:
        overrides.append(f"data.data_dir={_toml_string(args.data_dir)}")
    config, config_file = load_config(args.config, overrides)
    if args.override_schedule and args.resume_from is None:
        raise RunwatchError("--override-schedule only applies with --resume-from CKPT")
    run_dir = args.run_dir or default_run_dir(config_file, args.resume_from)
    require_training_extra("runwatch train")
    from runwatch.trainer.train import run  # torch: only now

    return run(config, run_dir, resume_from=args.resume_from,
               override_schedule=args.override_schedule).exit_code


def require_training_extra(command: str) -> None:
    """Training needs torch and torchvision, which a monitor-only install leaves out."""
    missing = [name for name in ("torch", "torchvision") if importlib.util.find_spec(name) is None]
    if missing:
        raise RunwatchError(f"{command} needs {' and '.join(missing)}, which this install does "
                            "not have: pip install 'runwatch[train]'")


def default_run_dir(config_file: Path, resume_from: Path | None) -> Path:
    """The run a checkpoint belongs to, or runs/<config stem>-<timestamp> for a new one."""
    if resume_from is not None:
        path = Path(resume_from)
        if path.is_dir():
            return path.parent if path.name == "checkpoints" else path
        if path.parent.name == "checkpoints":
            return path.parent.parent
        if path.is_file() and not stream_path(path.parent).exists():
            # Guessing its folder would start a second stream there, apart from the run's.
            raise RunwatchError(
                f"{path} is not in a run's checkpoints/ folder: pass --run-dir, the run it "
                f"continues (or a new folder)")
        return path.parent
    return Path("runs") / f"{config_file.stem}-{time.strftime('%Y%m%d-%H%M%S')}"


def _toml_string(text: str) -> str:
    """`text` as a TOML value, for a `--set key=VALUE` (any path, emoji and quotes included)."""
    return tomli_w.dumps({"v": text}).split("=", 1)[1].strip()
