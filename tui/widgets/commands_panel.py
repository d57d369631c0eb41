"""The commands the monitor has given (resume after a rewind, the same fix on the real run of a
replay), newest first, each on lines a shell accepts as they are: a command wider than the
panel breaks between its arguments with a trailing backslash, never in the middle of a path.
`c` copies the newest to the clipboard (the app's key)."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from runwatch.terminal import printable

INDENT = "    "


@dataclass(frozen=True)
class Command:
    what: str  # e.g. "resume the rewound run"
    text: str  # the command line, one line


def shell_lines(command: str, width: int) -> list[str]:
    """`command` broken between arguments into lines of at most `width` (a longer argument
    gets a line of its own), continued with a backslash, so the lines paste into a shell."""
    try:
        words = shlex.split(command)
    except ValueError:
        return [command]
    words = [shlex.quote(w) for w in words]
    lines, line = [], ""
    for word in words:
        candidate = f"{line} {word}" if line else word
        if line and len(candidate) + 2 > width:
            lines.append(line + " \\")
            line = INDENT + word
        else:
            line = candidate
    return lines + [line]


class CommandsPanel(Widget):
    commands: reactive[tuple[Command, ...]] = reactive((), layout=True)

    def render(self) -> Text:
        if not self.commands:
            return Text("no commands yet: a rewind or edit puts its resume command here "
                        "(c copies it)", style="dim")
        width = max(self.size.width - 1, 20)
        text = Text()
        for i, command in enumerate(self.commands):
            if i:
                text.append("\n")
            text.append(f"{printable(command.what)}{' (c copies it)' if i == 0 else ''}:\n",
                        style="bold" if i == 0 else "dim")
            text.append("\n".join("  " + line for line in
                                  shell_lines(printable(command.text), width - 2)))
        return text
