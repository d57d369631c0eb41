"""Quitting while a training process the app started still runs: stop it, or leave it."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from runwatch.terminal import printable


class QuitScreen(ModalScreen[str]):
    """Dismisses with "stop", "leave" or "cancel"."""

    BINDINGS = [("s,y", "choose('stop')", "Stop it"), ("l,n", "choose('leave')", "Leave it"),
                ("escape,c", "choose('cancel')", "Cancel")]

    def __init__(self, pid: int, run_dir: str) -> None:
        super().__init__()
        self._pid, self._run_dir = pid, run_dir

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-body"):
            yield Static(f"[b]The training (pid {self._pid}) is still running.[/b]")
            yield Static(f"Stop it (SIGTERM: it checkpoints and stops), or leave it running "
                         f"and re-attach later with: runwatch watch {printable(self._run_dir)}",
                         markup=False)
            with Horizontal(id="confirm-buttons"):
                yield Button("Stop (s)", id="stop", variant="warning")
                yield Button("Leave running (l)", id="leave")
                yield Button("Cancel (esc)", id="cancel")

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id)
