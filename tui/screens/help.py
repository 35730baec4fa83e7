"""F1: the keys of the screen underneath, in Chinese, plus what that screen is for."""
from __future__ import annotations

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from ..keymap import bind
from ..keys import describe, key_name


class HelpScreen(ModalScreen[None]):
    BINDINGS = [bind("back", "close", "关闭"), bind("help", "close", "关闭帮助")]

    def __init__(self, under: Screen) -> None:
        super().__init__()
        self.under = under

    def compose(self) -> ComposeResult:
        lines = []
        seen = set()
        # The screen's own keys, then those it inherits from our screens (Esc 返回; not Textual's
        # Tab/Ctrl+C, described in English and known to everyone), then the app's.
        screen_keys = [b for cls in type(self.under).__mro__ if cls.__module__.startswith("tui.")
                       for b in cls.__dict__.get("BINDINGS", [])]
        for binding in screen_keys + list(self.app.BINDINGS):
            if not isinstance(binding, Binding) or not binding.description or binding.key in seen \
                    or binding.action == "noop":
                continue
            seen.add(binding.key)
            keys = key_name(binding.key)
            lines.append(f"  {keys}{' ' * max(1, 16 - cell_len(keys))}{binding.tooltip or describe(binding.description)}")
        text = getattr(self.under, "HELP_TEXT", "") or ""
        with Vertical(classes="dialog wide"):
            yield Static("帮助（Esc 关闭）", classes="dialog-title")
            with VerticalScroll(classes="dialog-fields"):
                if text:
                    yield Static(text + "\n", classes="dialog-body")
                yield Static("\n".join(lines))

    def action_close(self) -> None:
        self.dismiss(None)
