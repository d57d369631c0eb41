"""`?`: every key the app answers to, read from the bindings (so the list cannot go stale)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


class HelpScreen(ModalScreen[None]):
    BINDINGS = [("escape,question_mark,q", "dismiss", "Close")]

    def __init__(self, keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self._keys = keys

    def compose(self) -> ComposeResult:
        lines = ["[b]Keys[/b]", ""] + [f"  [b]{key:<8}[/b] {what}" for key, what in self._keys]
        lines += ["", "  Esc/?    close this help"]
        with VerticalScroll(id="help-body"):
            yield Static("\n".join(lines))
