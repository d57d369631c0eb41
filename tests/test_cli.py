"""The `runwatch` dispatcher: its table of subcommands is what the modules register, and a
command imports only its own part's CLI."""

from __future__ import annotations

import subprocess
import sys

import pytest

from runwatch.cli import ALL_MODULES, SUBCOMMANDS, build_parser, main, modules_for, part_main


def test_the_table_names_exactly_the_commands_the_modules_register():
    parser = build_parser(ALL_MODULES)
    registered = next(a for a in parser._actions if a.dest == "command").choices
    assert list(registered) == list(SUBCOMMANDS)


def test_a_command_imports_only_its_own_part():
    assert modules_for(["ckpt", "inspect", "x.pt"]) == ("runwatch.ckpt_tools.cli",)
    assert modules_for(["--help"]) == ALL_MODULES
    assert modules_for(["tarin"]) == ALL_MODULES  # argparse then lists every command
    code = ("import sys; from runwatch.cli import main; "
            "sys.argv = ['runwatch', 'ckpt', 'inspect', '/nonexistent.pt']; "
            "status = main(); "
            "print(status, sorted(m for m in sys.modules if m.startswith('runwatch.') "
            "and m.endswith('.cli') and m != 'runwatch.cli'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["2", "['runwatch.ckpt_tools.cli']"]


@pytest.mark.parametrize("entry, argv, line", [
    (main, ["forecast", "X", "--patience", "abc"],
     "runwatch forecast: argument --patience: invalid int value: 'abc' "
     "(runwatch forecast --help lists the options)"),
    (main, ["watch", "X", "--replay", "abc"],
     "runwatch watch: argument --replay: invalid float value: 'abc' "
     "(runwatch watch --help lists the options)"),
    (main, ["ckpt", "edit", "X", "--epochs", "abc"],
     "runwatch ckpt edit: argument --epochs: invalid int value: 'abc' "
     "(runwatch ckpt edit --help lists the options)"),
    (main, ["ckpt", "edit", "X", "--continuity", "bogus"],
     "runwatch ckpt edit: argument --continuity: invalid choice: 'bogus' (choose from "
     "'keep-phase', 'match-lr', 'anneal-from-current', 'restart') "
     "(runwatch ckpt edit --help lists the options)"),
    (main, ["ckpt", "edit", "X", "--milestones", "a,b"],
     "runwatch ckpt edit: argument --milestones: 'a,b': use epochs separated by commas, "
     "e.g. 30,60,80 (runwatch ckpt edit --help lists the options)"),
    # An unknown argument is the subcommand's to report, escaped for the terminal.
    (main, ["ckpt", "inspect", "X", "--bogus\x1b]0;x\x07"],
     "runwatch ckpt inspect: unrecognized arguments: --bogus\\x1b]0;x\\x07 "
     "(runwatch ckpt inspect --help lists the options)"),
    # The parts' own entry points name themselves as they were run.
    (lambda argv: part_main("runwatch.ckpt_tools.cli", "ckpt", "python -m runwatch.ckpt_tools",
                            argv),
     ["edit", "X", "--epochs", "abc"],
     "python -m runwatch.ckpt_tools edit: argument --epochs: invalid int value: 'abc' "
     "(python -m runwatch.ckpt_tools edit --help lists the options)"),
    (lambda argv: part_main("runwatch.trainer.cli", "train", "python -m runwatch.trainer",
                            argv),
     ["--config"],
     "python -m runwatch.trainer: argument --config: expected one argument "
     "(python -m runwatch.trainer --help lists the options)"),
])
def test_a_bad_argument_is_one_line_naming_it_and_where_the_options_are(entry, argv, line,
                                                                         capsys):
    with pytest.raises(SystemExit) as exit_:
        entry(argv)
    assert exit_.value.code == 2
    assert capsys.readouterr().err == line + "\n"


def test_help_still_prints_the_usage_and_the_options(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["ckpt", "edit", "--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0
    assert out.startswith("usage: runwatch ckpt edit [-h]") and "--continuity" in out
