"""Textual's Footer, rebuilt only when the keys it shows change.

Footer rebuilds all its keys (a widget each, styled and laid out: 15-25 ms on the office PCs)
whenever the focus or the screen stack moves, even when the keys shown stay the same: moving
between widgets of a screen, a screen shown again, home's due table appearing and taking the
focus. This one compares what it would show with what it shows and keeps its keys when they
are the same.
"""
from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer


class KeysFooter(Footer):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._shown: tuple | None = None       # what compose last showed (`_keys`)

    def _keys(self) -> tuple:
        """Everything of the active bindings that Footer.compose draws."""
        app = self.app
        active = self.screen.active_bindings
        shown = tuple((b.key, app.get_key_display(b), b.description, b.action, enabled, tooltip,
                       b.group.description if b.group else None, b.group.compact if b.group else None)
                      for _, b, enabled, tooltip in active.values() if b.show)
        palette = active.get(app.COMMAND_PALETTE_BINDING)
        palette = None if palette is None else (palette[1].key, palette[2], palette[3], palette[1].tooltip)
        return shown, palette, self.show_command_palette, app.ENABLE_COMMAND_PALETTE, self.compact

    def compose(self):
        if self._bindings_ready:
            self._shown = self._keys()
        yield from super().compose()

    def bindings_changed(self, screen: Screen) -> None:
        if (self._shown is not None and self.is_attached and screen is self.screen
                and self.app.app_focus and self._keys() == self._shown):
            return
        super().bindings_changed(screen)
