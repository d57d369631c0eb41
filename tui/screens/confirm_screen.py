"""Asks before anything is written or stopped: the action, what it will do, y / n.

The question and the details are plain text (file names may hold `[`, which markup would
read); long details scroll while the buttons stay on screen.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS = [("y", "answer(True)", "Yes"), ("n,escape", "answer(False)", "No")]

    def __init__(self, question: str, details: str = "", yes: str = "Yes", no: str = "No") -> None:
        super().__init__()
        self.question, self.details, self.yes, self.no = question, details, yes, no

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-body"):
            with VerticalScroll(id="confirm-text"):
                yield Static(Text(self.question, style="bold"), id="confirm-question")
                if self.details:
                    yield Static(Text(self.details), id="confirm-details")
            with Horizontal(id="confirm-buttons"):
                yield Button(f"{self.yes} (y)", id="yes", variant="warning")
                yield Button(f"{self.no} (n)", id="no")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")
