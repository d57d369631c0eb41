"""`?`: every key the app answers to (plain text: a key like `[` is no markup)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


def help_text(keys: list[tuple[str, str]]) -> Text:
    text = Text("Keys\n\n", style="bold")
    for i, (key, what) in enumerate(keys + [("Esc ?", "close this help")]):
        text.append(f"{chr(10) if i else ''}  {key:<10}", style="bold")
        text.append(f" {what}")
    return text


class HelpScreen(ModalScreen[None]):
    BINDINGS = [("escape,question_mark,q", "dismiss", "Close")]

    def __init__(self, keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Static(help_text(self.keys))
