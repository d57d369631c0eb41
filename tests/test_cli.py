"""The `runwatch` dispatcher: its table of subcommands is what the modules register, and a
command imports only its own part's CLI."""

from __future__ import annotations

import subprocess
import sys

from runwatch.cli import ALL_MODULES, SUBCOMMANDS, build_parser, modules_for


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
