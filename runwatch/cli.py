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
from typing import NoReturn

from runwatch.errors import RunwatchError
from runwatch.terminal import printable

# Each subcommand and the module that registers it, in the order `--help` lists them. Only the
# module of the command given is imported, so `runwatch ckpt inspect X` starts as fast as
# `python -m runwatch.ckpt_tools inspect X`; `runwatch --help` (or a typo) imports them all.
SUBCOMMANDS = {
    "train": "runwatch.trainer.cli",
    "watch": "runwatch.tui.commands",
    "demo": "runwatch.tui.commands",
    "ckpt": "runwatch.ckpt_tools.cli",
    "forecast": "runwatch.forecast.cli",
    "report": "runwatch.forecast.cli",
}
ALL_MODULES = tuple(dict.fromkeys(SUBCOMMANDS.values()))


def modules_for(argv: list[str]) -> tuple[str, ...]:
    """The modules to import for `argv`: the command's own, or all of them."""
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    return (SUBCOMMANDS[command],) if command in SUBCOMMANDS else ALL_MODULES


class Parser(argparse.ArgumentParser):
    """argparse's parser whose usage errors are one line, as a RunwatchError is: the problem
    and where the fix is, exit status 2 (argparse prints the whole usage block). Subcommands'
    parsers are of the class of the parser they hang from, so every parser here is one."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {printable(message)} "
                     f"({self.prog} --help lists the options)\n")

    def parse_args(self, args: list[str] | None = None,  # type: ignore[override]
                   namespace: argparse.Namespace | None = None) -> argparse.Namespace:
        """As argparse's, but an unknown argument is reported by the subcommand it was given
        to, whose --help lists the ones it knows."""
        parsed, extra = self.parse_known_args(args, namespace)
        if extra:
            _chosen(self, parsed).error(f"unrecognized arguments: {' '.join(extra)}")
        return parsed


def build_parser(modules: tuple[str, ...] = ALL_MODULES,
                 prog: str = "runwatch") -> argparse.ArgumentParser:
    parser = Parser(
        prog=prog,
        description="Watch a training run, forecast it, and repair its checkpoints.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in modules:
        importlib.import_module(name).register(subparsers)
    return parser


def _subparsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    return [sub for action in parser._actions if isinstance(action, argparse._SubParsersAction)
            for sub in dict.fromkeys(action.choices.values())]


def _chosen(parser: argparse.ArgumentParser,
            parsed: argparse.Namespace) -> argparse.ArgumentParser:
    """The innermost subcommand's parser that `parsed` went through."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            name = getattr(parsed, action.dest, None)
            if name in action.choices:
                return _chosen(action.choices[name], parsed)
    return parser


def _rename(parser: argparse.ArgumentParser, old: str, new: str) -> None:
    """Call `parser` and the parsers under it by `new` in place of the `old` start of their
    names, in their usage lines and errors."""
    parser.prog = new + parser.prog[len(old):]
    for sub in _subparsers(parser):
        _rename(sub, old, new)


def run_command(args: argparse.Namespace) -> int:
    """Run a parsed command the one way every entry point does: a RunwatchError is one line on
    stderr and exit status 2, Ctrl-C is 130, a closed pipe ends quietly."""
    try:
        return int(args.func(args) or 0)
    except RunwatchError as exc:
        print(f"runwatch: error: {printable(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader closed the pipe (`runwatch forecast ... | head`): stop quietly, as cat
        # does, and point stdout at devnull so the exit flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    return run_command(build_parser(modules_for(argv)).parse_args(argv))


def part_main(module: str, command: str, prog: str, argv: list[str] | None = None) -> int:
    """`python -m runwatch.PART ...`: one part's subcommand alone (no other part's modules
    imported, so it starts faster), e.g. `python -m runwatch.ckpt_tools inspect X`."""
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser((module,), prog)
    # The command is implied: its usage lines and errors name the way it was run.
    (part,) = _subparsers(parser)
    _rename(part, part.prog, prog)
    return run_command(parser.parse_args([command, *argv]))


if __name__ == "__main__":
    sys.exit(main())
