"""The command palette (Ctrl+P) in Chinese, finding screens by pinyin initials and people by name.

Textual's palette is English where it speaks (`Search for commands…`, `No matches found`) and
matches only the letters of a command's title, so `hzb` never finds 汇总表 and nobody is found
at all. Its own hooks fix both without touching Textual's files: the placeholder is a
constructor argument, the empty-result line is the subclass's `_start_no_matches_countdown`, and
extra providers come through `App.COMMANDS`.
"""
from __future__ import annotations

from functools import partial

from rich.align import Align
from rich.text import Text
from textual.command import CommandList, CommandPalette, Hit, Hits, Provider
from textual.widgets.option_list import Option

from core.engine import pinyin_initials

from . import roles

PLACEHOLDER = "查找功能或人员：中文、拼音或拼音首字母"
NO_MATCHES = "没有找到"
PEOPLE = 8          # people listed for one query


class CarebookPalette(CommandPalette):
    def __init__(self) -> None:
        super().__init__(placeholder=PLACEHOLDER, id="--command-palette")

    def _start_no_matches_countdown(self, search_value: str) -> None:
        """Textual's, with the empty-result line in Chinese."""
        self._stop_no_matches_countdown()

        def show() -> None:
            if search_value:
                self.query_one(CommandList).add_option(
                    Option(Align.center(Text(NO_MATCHES, style="not bold")), disabled=True, id=self._NO_MATCHES))
                self._list_visible = True
            else:
                self._list_visible = False

        self._no_matches_timer = self.set_timer(self._NO_MATCHES_COUNTDOWN, show)


class PinyinCommands(Provider):
    """The app's commands by the pinyin initials of their titles: hzb -> 汇总表."""

    async def search(self, query: str) -> Hits:
        letters = query.strip().lower()
        if not letters.isascii() or not letters.isalpha():
            return
        for command in self.app.get_system_commands(self.screen):
            initials = pinyin_initials(command.title)
            if initials.startswith(letters):
                yield Hit(0.9 if initials == letters else 0.7, command.title,
                          command.callback, help=command.help)


class PeopleCommands(Provider):
    """People by name, pinyin (whole or initials) or a whole ID number, as the roster's search
    finds them; choosing one opens the person's file. ID numbers stay masked here."""

    async def search(self, query: str) -> Hits:
        text = query.strip()
        if len(text) < 2:
            return
        app = self.app
        page = app.attempt(app.engine.query, roles.PERSON_FORM, text=text, filters=None, sort=None,
                           desc=False, offset=0, limit=PEOPLE)
        form = roles.form_or_none(app.engine, roles.PERSON_FORM)
        if page is None or form is None:
            return
        divisions = app.engine.divisions
        for row in page.rows:
            name = row.get(form.title_field or "name") or ""
            village = roles.short_village(divisions, row.get("village"))
            status = row.get(roles.status_field(form)) or ""
            line = f"人员：{name}  {village}  {status}"
            # as Text: the palette reads a str as markup, and a name is shown as typed (`tui.literal`)
            yield Hit(0.6, Text(line), partial(app.open_person, row["id"]), text=line, help="打开此人的档案")
