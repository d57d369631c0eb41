"""The `runwatch` command: one subcommand per part, each defined next to the code it runs.

Every subcommand module registers itself with `register(subparsers)` and must be cheap to
import (no torch, no textual at import time), so `runwatch --help` and the torch-free tools
start fast. Errors the user can cause are a RunwatchError: one line, exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from trainer.errors import RunwatchError

# Modules that define subcommands, in the order `--help` lists them.
SUBCOMMAND_MODULES = (
    "trainer.cli",
    "tui.commands",
    "ckpt_tools.cli",
    "forecast.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="runwatch",
        description="Watch a training run, forecast it, and repair its checkpoints.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except RunwatchError as exc:
        print(f"runwatch: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader closed the pipe (`runwatch forecast ... | head`): stop quietly, as cat
        # does, and point stdout at devnull so the exit flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
