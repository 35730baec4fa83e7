"""KeysFooter: rebuilt when the keys shown change, kept when the focus moves between widgets
that show the same keys."""
from __future__ import annotations

import sys
from pathlib import Path

from textual.app import App
from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import Input

from tui.widgets.footer import KeysFooter

sys.path.insert(0, str(Path(__file__).parent))   # tests/ helpers under --import-mode=importlib
from tui_support import SIZE, drive  # noqa: E402


class Deletable(Widget, can_focus=True):
    BINDINGS = [Binding("delete", "noop", "删除")]

    def action_noop(self) -> None:
        """The key only has to be shown."""


class Keys(App):
    BINDINGS = [Binding("f2", "noop", "保存")]
    AUTO_FOCUS = "#a"

    def compose(self):
        yield Input(id="a")
        yield Input(id="b")
        yield Deletable(id="c")
        yield KeysFooter()

    def action_noop(self) -> None:
        """The key only has to be shown."""


def shown(app) -> list[tuple[str, str, bool]]:
    return [(k.key, k.description, k.disabled) for k in app.query_one(KeysFooter).query("FooterKey")]


@drive
async def test_footer_follows_the_keys_and_keeps_its_widgets_otherwise():
    app = Keys()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        first = list(app.query_one(KeysFooter).query("FooterKey"))
        assert ("f2", "保存", False) in shown(app) and not any(k == "delete" for k, _, _ in shown(app))
        app.query_one("#b").focus()                 # the same keys: the same key widgets
        await pilot.pause()
        assert list(app.query_one(KeysFooter).query("FooterKey")) == first
        app.query_one("#c").focus()                 # a key more
        await pilot.pause()
        assert ("delete", "删除", False) in shown(app)
        app.query_one("#a").focus()                 # and gone again
        await pilot.pause()
        assert not any(k == "delete" for k, _, _ in shown(app))
