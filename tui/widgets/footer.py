"""The footer of keys: every key in Chinese style (Ctrl+S, F1, Esc), only as many as fit whole,
rebuilt only when the keys it shows change.

Textual's Footer draws every shown key in a row and lets the last ones run off the edge at 80
columns (`^q 退`, `^p   令`). This one writes keys through `tui.keys` (our names, Textual's
own descriptions in Chinese), puts F1 帮助 first, and leaves out whole keys from the end when
the row is full: F1 lists them all, so nothing is lost and nothing is cut.

Footer also rebuilt all its keys (a widget each, styled and laid out: 15-25 ms on the office
PCs) whenever the focus or the screen stack moved, even when the keys shown stayed the same;
this one compares what it would show with what it shows and keeps its keys when they are equal.
"""
from __future__ import annotations

from rich.cells import cell_len
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from ..keys import describe

HELP_ACTION = "app.help"


def key_width(key_display: str, description: str) -> int:
    """Cells a FooterKey takes: a space each side of the key, a space after the description."""
    return cell_len(key_display) + cell_len(description) + 3


class KeysFooter(Footer):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._shown: tuple | None = None       # what compose last showed (`_keys`)

    def _rows(self) -> tuple[list[tuple], tuple | None]:
        """(shown keys, palette key) as (key, display, description, action, enabled, tooltip),
        one per action, help first, cut to the footer's width at whole keys."""
        app = self.app
        active = self.screen.active_bindings
        keys, actions = [], set()
        for _, b, enabled, tooltip in active.values():
            if not b.show or b.action in actions or b.key == app.COMMAND_PALETTE_BINDING:
                continue
            actions.add(b.action)
            keys.append((b.key, app.get_key_display(b), describe(b.description), b.action, enabled, tooltip))
        keys.sort(key=lambda k: k[3] != HELP_ACTION and k[3] != "help")
        palette = active.get(app.COMMAND_PALETTE_BINDING)
        if palette is not None and self.show_command_palette and app.ENABLE_COMMAND_PALETTE:
            b = palette[1]
            palette = (b.key, app.get_key_display(b), describe(b.description), b.action, palette[2], b.tooltip)
        else:
            palette = None
        room = (self.size.width or app.size.width) - 1
        if palette is not None:
            room -= cell_len(palette[1]) + cell_len(palette[2]) + 2     # its bar, a space between
        fitted = []
        for k in keys:
            room -= key_width(k[1], k[2])
            if room < 0:
                break
            fitted.append(k)
        return fitted, palette

    def _keys(self) -> tuple:
        """Everything that compose draws."""
        shown, palette = self._rows()
        return tuple(shown), palette, self.compact

    def compose(self):
        if not self._bindings_ready:
            return
        shown, palette = self._rows()
        self._shown = (tuple(shown), palette, self.compact)
        self.styles.grid_size_columns = len(shown)
        for key, display, description, action, enabled, tooltip in shown:
            yield FooterKey(key, display, description, action, disabled=not enabled,
                            tooltip=tooltip).data_bind(compact=Footer.compact)
        if palette is not None:
            key, display, description, action, enabled, tooltip = palette
            yield FooterKey(key, display, description, action, classes="-command-palette",
                            disabled=not enabled, tooltip=tooltip or description)

    def bindings_changed(self, screen: Screen) -> None:
        if (self._shown is not None and self.is_attached and screen is self.screen
                and self.app.app_focus and self._keys() == self._shown):
            return
        super().bindings_changed(screen)
