"""The monitor's keys: what each does, and which are offered (a mixin of the app, which
keeps the bindings: Textual reads BINDINGS from its widget classes only)."""

from __future__ import annotations

from textual import work
from textual.widgets import Input, TabbedContent
from textual.worker import get_current_worker

from runwatch.terminal import printable
from runwatch.tui.screens.help_screen import HelpScreen
from runwatch.tui.screens.quit_screen import QuitScreen
from runwatch.tui.surgery_flow import SurgeryRequest, edit_request, fix_request, run_surgery
from runwatch.tui.widgets.alert_list import AlertList
from runwatch.tui.widgets.checkpoint_panel import CheckpointPanel
from runwatch.tui.widgets.epoch_table import EpochTable


class KeyActions:
    """The app's key actions; `self` is the RunwatchApp."""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Keys with nothing to act on are neither shown nor answered: b and e need checkpoint
        files, f a recommended change, c a command to copy."""
        if action in ("rewind_best", "edit"):
            return bool(self._checkpoint_files) and not self.replay
        if action == "fix":
            best = self.advice.recommended
            return best is not None and best.option.choice is not None
        if action == "copy":
            return bool(self.commands)
        return True

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.KEY_HELP))

    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def action_focus_alerts(self) -> None:
        self.action_show_tab("run")
        self.query_one(AlertList).focus()

    def action_follow(self) -> None:
        self.query_one(EpochTable).action_last_row()

    def action_jump(self) -> None:
        bar = self.query_one("#jump", Input)
        bar.display = True
        bar.value = ""
        bar.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "jump":
            return
        event.input.display = False
        table = self.query_one(EpochTable)
        self.action_show_tab("run")
        table.focus()
        missing = table.go(event.value)
        if missing:
            self.notify(missing, markup=False)

    def action_clear_filter(self) -> None:
        """Esc: close the jump bar, else clear the tag filter, else back to the run list."""
        bar = self.query_one("#jump", Input)
        table = self.query_one(EpochTable)
        if bar.display:
            bar.display = False
            table.focus()
        elif table.tag_filter or not self.back:
            table.tag_filter = ""
        else:
            self.exit("back")

    def action_copy(self) -> None:
        if not self.commands:
            return
        text = self.commands[0].text
        self.copy_to_clipboard(text)
        self.notify(f"copied to the clipboard (OSC 52): {printable(text)[:60]}...",
                    markup=False)

    async def action_quit(self) -> None:
        """q and Ctrl+Q: ask first when the app started a training that still runs."""
        if self.training is None or self.training.poll() is not None:
            self.exit(None)
            return

        def decided(choice: str | None) -> None:
            if choice in ("stop", "leave"):
                self.exit(choice)

        self.push_screen(QuitScreen(self.training.pid, str(self.run_dir)), decided)

    def action_rewind_best(self) -> None:
        self.action_show_tab("checkpoints")
        self.surgery(SurgeryRequest("rewind", "best"))

    def action_edit(self) -> None:
        self.action_show_tab("checkpoints")
        row = self.query_one(CheckpointPanel).selected()
        request = edit_request(self, row) if row is not None else None
        if request is None:
            self.report("edit: the stream does not say this run's schedule or the checkpoint's "
                        "epoch on the live branch (only runwatch runs can be edited here)")
            return
        self.surgery(request)

    def action_fix(self) -> None:
        best = self.advice.recommended
        request = fix_request(self, best.option) if best is not None else None
        if request is not None:
            self.surgery(request)

    @work(group="surgery")
    async def surgery(self, request: SurgeryRequest) -> None:
        """One surgery at a time: a second key press while one asks is not queued."""
        if any(w.group == "surgery" and w is not get_current_worker() and not w.is_finished
               for w in self.workers):
            self.report(f"{request.action}: another rewind or edit is still being asked for")
            return
        await run_surgery(self, request)
