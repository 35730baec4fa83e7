"""What every full screen shares: the header (title, 演示数据, operator), the footer of keys,
Esc to go back, and short-hands to the engine and the error display.
"""
from __future__ import annotations

from typing import Any

from textual.screen import Screen
from textual.widgets import Header

from ..keymap import bind
from ..widgets.footer import KeysFooter


class BaseScreen(Screen):
    """A full screen with the shared header and footer; Esc goes back."""

    BINDINGS = [bind("back", "back")]
    HELP_TEXT = ""          # shown by F1 under the key list

    @property
    def eng(self) -> Any:
        return self.app.engine

    def compose_header(self):
        yield Header(icon="")

    def compose_footer(self):
        yield KeysFooter()

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()

    def attempt(self, fn, *args, **kwargs):
        return self.app.attempt(fn, *args, **kwargs)
