"""The wait for the day's backup, said on screen while it lasts.

The ledger's daily backup is made on a thread beside the program from the moment it opens
(`core.storage.store`): reading goes on meanwhile, but the first save waits until the backup is
done, so that the backup is the ledger as it was opened. On a district ledger a first backup
copies ~700 MB (4-5 s here, longer on an office PC or a network folder), and the save used to
freeze the screen with nothing on it. A save asked for while the backup runs now shows this
notice, waits on a thread, and is made when the backup is done (`CarebookApp.after_backup`).
"""
from __future__ import annotations

from typing import Any, Callable

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from ..keymap import bind

WAITING = "正在做今天的备份，请稍候……"
THEN = "备份完成后自动保存。\n按 Esc 不等了：这次先不保存，已输入的内容仍在。"
# Closing the program waits for the backup too (the ledger is closed only once it is made):
# said, instead of a screen that stays up with nothing on it (`CarebookApp.action_quit`).
QUIT_THEN = "备份完成后自动退出。\n按 Esc 不退出了，回到程序。"
SAVE_QUIT_THEN = "备份完成后自动保存，然后退出。\n按 Esc 不等了：不保存也不退出，已输入的内容仍在。"


def backup_note(engine: Any) -> str:
    """A second line for a screen's 正在导出…… / 正在导入…… while the day's backup is still
    being made: the import's saves and every export's audit entry wait for it (on a thread)."""
    return f"\n{WAITING}" if engine.backup_running() else ""


class BackupWaitScreen(ModalScreen[None]):
    """Shown while a save waits for the day's backup; closed by the app when it is done."""

    BINDINGS = [bind("back", "cancel", "取消")]

    def __init__(self, then_text: str = THEN) -> None:
        super().__init__()
        self.then: list[Callable[[], Any]] | None = None     # the saves to make once closed (`finish`)
        self.then_text = then_text

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("请稍候", classes="dialog-title")
            yield Static(WAITING, id="backup-wait-text", classes="dialog-body")
            yield Static(self.then_text, id="backup-wait-then", classes="dialog-body")

    def say_then(self, text: str) -> None:
        """What happens once the backup is done, said anew (quitting asked for over a save's wait)."""
        self.then_text = text
        if self.is_mounted:
            self.query_one("#backup-wait-then", Static).update(text)

    def on_mount(self) -> None:
        self.waited = 0
        self.set_interval(1, self.tick)

    def tick(self) -> None:
        """The seconds waited, so a long wait (a network folder) is seen to be alive."""
        self.waited += 1
        self.query_one("#backup-wait-text", Static).update(f"{WAITING}（已等 {self.waited} 秒）")

    def finish(self, then: list[Callable[[], Any]]) -> None:
        """The backup is done: close and make the saves asked for, now, or when this notice is
        on top again (F1's help or the command palette was opened over it), so that each save
        runs with its own screen on top."""
        self.then = then
        if self.app.screen is self:
            self._close()

    def on_screen_resume(self) -> None:
        if self.then is not None:
            self._close()

    def _close(self) -> None:
        then, self.then = self.then or [], None
        self.dismiss(None)
        for action in then:
            action()

    def action_cancel(self) -> None:
        self.app.drop_after_backup()
        self.dismiss(None)
