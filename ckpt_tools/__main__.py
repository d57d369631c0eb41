"""`python -m ckpt_tools ACTION ...`: `runwatch ckpt ACTION ...` without loading the other
subcommands' modules (as `python -m trainer` does for `runwatch train`)."""

from __future__ import annotations

import argparse
import sys

from ckpt_tools.cli import register
from trainer.errors import RunwatchError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ckpt_tools")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    register(subparsers)
    args = parser.parse_args(["ckpt", *(sys.argv[1:] if argv is None else argv)])
    try:
        return int(args.func(args) or 0)
    except RunwatchError as exc:
        print(f"runwatch: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
