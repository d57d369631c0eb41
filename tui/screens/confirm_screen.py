"""Asks before anything is written or stopped: the action, what it will do, y / n."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS = [("y", "answer(True)", "Yes"), ("n,escape", "answer(False)", "No")]

    def __init__(self, question: str, details: str = "", yes: str = "Yes", no: str = "No") -> None:
        super().__init__()
        self._question, self._details, self._yes, self._no = question, details, yes, no

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-body"):
            yield Static(f"[b]{self._question}[/b]", id="confirm-question")
            if self._details:
                yield Static(self._details, id="confirm-details", markup=False)
            with Horizontal(id="confirm-buttons"):
                yield Button(f"{self._yes} (y)", id="yes", variant="warning")
                yield Button(f"{self._no} (n)", id="no")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")
