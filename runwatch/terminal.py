"""Text from files made safe for a terminal: control characters shown, never obeyed.

A run_end message, a checkpoint value or a zip entry name can carry escape sequences that set a
tmux pane's title or write the clipboard (OSC 52); everything untrusted passes through here
before it is printed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# C0 controls but tab, DEL, and C1 controls (ESC's 8-bit forms).
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def printable(text: object, limit: int | None = None) -> str:
    """`text` with every control character written as its escape (\\x1b, \\n, ...); with
    `limit`, cut to that many characters first (a name from a file can be a megabyte)."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], str(text)[:limit])


def printable_lines(lines: Iterable[str]) -> str:
    """The lines joined, each with its control characters (a newline too) escaped: text from
    files printed line by line, where a newline in a value cannot fake a line."""
    return "\n".join(printable(line) for line in lines)
