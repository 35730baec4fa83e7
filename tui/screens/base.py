"""What every full screen shares: the header (title, 演示数据, operator), the footer of keys,
Esc to go back, and short-hands to the engine and the error display.
"""
from __future__ import annotations

import functools
import gc
from typing import Any, Callable

from textual.screen import Screen
from textual.widgets import Header

from ..keymap import bind
from ..widgets.footer import KeysFooter


def after_backup(save: Callable[..., Any]) -> Callable[..., None]:
    """A screen's save made through `CarebookApp.after_backup`: now, or, while the day's backup
    is still being made, once it is done under a notice saying why the screen waits (the first
    save of the day at 50,000 people waited 4-5 s with nothing said)."""
    @functools.wraps(save)
    def asked(self, *args: Any, **kwargs: Any) -> None:
        self.app.after_backup(lambda: save(self, *args, **kwargs))
    return asked


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


class KeptScreen(BaseScreen):
    """A screen kept and shown again for the next record (the form entry, the person file),
    possibly built ahead, unseen (`mount_unseen`).

    Textual styles every widget of a screen again each time it is shown (the form's ~500:
    0.4-1.5 s, most of an opening of the kept form; a third of opening the kept person file).
    Only a changed stylesheet (a theme switched meanwhile) needs that; each widget restyles
    itself when its classes or focus change. A subclass's `on_screen_resume` calls
    `skip_restyle` first: it runs before Screen's own handler, which reads the flag."""

    def __init__(self) -> None:
        super().__init__()
        self.built_ahead = False              # mounted and laid out unseen (`mount_unseen`)
        self._styled_with: object = None      # the stylesheet rules last applied

    def on_mount(self) -> None:
        self._styled_with = self.app.stylesheet.rules     # each widget was styled as it mounted

    def skip_restyle(self, event: Any) -> None:
        rules = self.app.stylesheet.rules
        if rules is self._styled_with:
            event.refresh_styles = False
        self._styled_with = rules


def mount_unseen(app: Any, screen: Screen) -> None:
    """Mount an installed screen and lay it out at the terminal's size without showing it, so
    its first opening costs what a later one does (building, styling and the first layout of a
    screen are most of a first opening). `screen.built_ahead` is set once it is laid out."""
    try:
        _, mounted = app._get_screen(screen)     # Textual's own mounting of an installed screen
    except AttributeError:                       # another Textual: built when opened
        return

    async def lay_out() -> None:
        await mounted
        if not app._running or not screen.is_attached:      # (not attached once the app exits)
            # closing (staff quit at once, a test ended): a layout now would send resizes to
            # widgets being taken down, and the tabs' handler fails on its removed underline
            return
        try:
            screen._refresh_layout(app.size)     # the first layout at the terminal's size, too
        except AttributeError:
            pass
        screen.built_ahead = True
        # The screen lives as long as the app: exempt from garbage collection like the list
        # rows (`CarebookApp.settle_memory`). The registration form's ~500 widgets otherwise
        # made every full collection walk them: 60-80 ms in the middle of opening a file.
        gc.freeze()
    app.call_later(lay_out)
