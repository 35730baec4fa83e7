"""Every screen and dialog at 80x24, read as the clerk sees it: no English and nothing cut.

The walk goes where a village clerk goes (home, help, the command palette, roster and its lists,
a person's file and its tabs and dialogs, registration with its errors and a child row, a quick
and a full visit, the record picker, summary, export, admin, import, the operator and first-run
screens) and at each stop reads the rendered screen (`tui_support.screen_text`). It fails on:

- any word of Latin letters that is not a key name written the Chinese way (Ctrl+S, F1, Esc,
  PageDown, a key letter such as V) or one of the names of software and file formats that have
  no Chinese name (Excel, CSV, Markdown); file paths are the clerk's own and are left out;
- any label, button, tab, footer key, section name or column header that does not appear whole
  on one line of the rendered screen (cut at the edge of its box, or wrapped mid-word).
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

from rich.cells import cell_len
from textual.widgets import Button, Checkbox, DataTable, Label, OptionList, Static
from textual.widgets._footer import FooterKey
from textual.widgets._tabbed_content import ContentTab

sys.path.insert(0, str(Path(__file__).parent))   # tests/ helpers under --import-mode=importlib
from tui_support import (SIZE, drive, make_app, region_text, save_person, screen_names,  # noqa: E402
                         screen_text, until)

KEY = re.compile(r"(?:(?:Ctrl|Shift|Alt)\+)*(?:F\d{1,2}|Esc|Tab|Insert|Delete|Home|End|PageUp|PageDown|[A-Z0-9])")
NAMES = {"Excel", "CSV", "UTF", "Markdown"}   # software and formats known by these names only
# File paths and file names (the clerk's own, or a form file an admin edits) and ticks ([x]).
PATH = re.compile(r"(?:[A-Za-z]:)?[\w.\-~]*[/\\][^\s，。；）)]*|[\w\-]*\.[A-Za-z]{2,5}\b|\[x\]")
WORD = re.compile(r"[A-Za-z][A-Za-z0-9+]*")


def latin_words(text: str) -> list[str]:
    text = PATH.sub(" ", text)
    return [w for w in WORD.findall(text) if not KEY.fullmatch(w) and w not in NAMES]


def plain(widget) -> str | None:
    """The one-line text a widget is meant to show whole, or None."""
    if isinstance(widget, FooterKey):
        return f"{widget.key_display} {widget.description}".strip()
    if isinstance(widget, (Button, Checkbox, ContentTab)):
        return str(widget.label).strip()
    if isinstance(widget, Label) or (isinstance(widget, Static) and (
            widget.has_class("dialog-title") or widget.has_class("section-title"))):
        text = str(widget.render()).strip()
        return text if "\n" not in text else None
    return None


def on_top(app, widget, region) -> bool:
    """Whether the widget is what shows at its top-left corner (not under an open list)."""
    try:
        top, _ = app.screen.get_widget_at(region.x, region.y)
    except Exception:        # noqa: BLE001 - nothing there
        return False
    return top is widget or widget in top.ancestors_with_self


def cut_words(app) -> list[str]:
    """Texts meant to be whole that are not whole on one rendered line."""
    out = []
    visible = app.screen._compositor.visible_widgets
    for widget, (region, clip) in visible.items():
        if not clip.contains_region(region) or not on_top(app, widget, region):
            continue                            # partly scrolled away or covered: not judged here
        text = plain(widget)
        if text:
            lines = region_text(app, widget)
            if not any(text in line for line in lines):
                out.append(f"{type(widget).__name__}: {text!r} shown as {lines!r}")
        if isinstance(widget, OptionList) and widget.id == "form-sections":
            lines = region_text(app, widget)
            for option in widget.options:
                if not any(str(option.prompt) in line for line in lines):
                    out.append(f"section {option.prompt!r} shown as {lines!r}")
        if isinstance(widget, DataTable) and widget.show_header and widget.columns:
            region = widget.content_region              # inside the border
            header = region_text(app, widget, region)[0]
            x, fixed = 0, 0
            for i, column in enumerate(widget.columns.values()):
                label = str(column.label)
                width = column.get_render_width(widget)
                left = x if i < widget.fixed_columns else x - int(widget.scroll_x)
                if cell_len(label) > column.width:
                    out.append(f"header {label!r} wider than its column ({column.width})")
                elif left >= fixed and left + width <= region.width - 2 and label not in header \
                        and on_top(app, widget, region.translate((left + 1, 0))):
                    out.append(f"header {label!r} not whole in {header!r}")
                x += width
                if i < widget.fixed_columns:
                    fixed = x
    return out


class Walk:
    def __init__(self, app, pilot) -> None:
        self.app, self.pilot = app, pilot
        self.failures: list[str] = []
        self.stops: list[str] = []

    async def look(self, where: str) -> None:
        await self.pilot.pause(0.2)
        text = screen_text(self.app, typed=False)
        self.stops.append(where)
        words = latin_words(text)
        if words:
            self.failures.append(f"[{where}] Latin words {sorted(set(words))}:\n{text}")
        cut = cut_words(self.app)
        if cut:
            self.failures.append(f"[{where}] cut:\n  " + "\n  ".join(cut) + f"\n{text}")

    async def press(self, *keys: str, wait: float = 0.3) -> None:
        for key in keys:
            await self.pilot.press(key)
            await self.pilot.pause(wait)

    async def until(self, name: str) -> None:
        await until(self.pilot, lambda: screen_names(self.app)[-1] == name)
        assert screen_names(self.app)[-1] == name, screen_names(self.app)

    async def go(self, *keys: str, screen: str | None = None, look: str | None = None,
                 wait: float = 0.3) -> None:
        """Press `keys`, wait for `screen` to be on top, read the screen as stop `look`."""
        await self.press(*keys, wait=wait)
        if screen:
            await self.until(screen)
        if look:
            await self.look(look)


@drive
async def test_every_screen_and_dialog_is_chinese_and_whole_at_80x24(tmp_path):
    app = make_app(tmp_path / "data", persons=40)
    person = save_person(app.engine)
    async with app.run_test(size=SIZE) as pilot:
        w = Walk(app, pilot)
        await until(pilot, lambda: app.screen.query("#home-due-table"))
        await app.workers.wait_for_complete()
        await w.look("首页")
        await w.go("f1", look="首页 帮助")
        await w.press("escape")
        await w.go("ctrl+p", look="命令面板")
        for text in ("hzb", "zzz"):
            for ch in text:
                await pilot.press(ch)
            await pilot.pause(1.0)
            await w.look(f"命令面板 {text}")
            for _ in text:
                await pilot.press("backspace")
        await w.press("escape")

        # Roster, an open list, the person's file, its tabs and dialogs.
        await w.go("r", screen="RosterScreen", look="花名册")
        app.screen.query_one("#f-town").focus()
        await w.go("enter", look="花名册 街镇列表展开")
        await w.press("escape")
        app.screen.query_one("#roster-table").focus()
        await w.go("f1", look="花名册 帮助")
        await w.press("escape")
        app.open_person(person.id)
        await w.until("PersonScreen")
        for tab in "1234":
            await w.press(tab)
            await app.workers.wait_for_complete()
            await w.look(f"档案 第 {tab} 页")
        await w.go("x", look="退出台账")
        await w.press("escape")
        await w.go("f2", screen="FormEntryScreen", look="修改登记表")
        await w.go("escape", screen="PersonScreen")
        await w.go("v", screen="FormEntryScreen", look="探访表（档案中按 V）")
        app.screen.query_one("#pick-person").press()
        await w.until("PickRecordScreen")
        await w.look("选择探访对象")
        await w.press("escape")
        await w.go("escape", screen="PersonScreen")
        await w.press("escape")
        await w.go("escape", screen="HomeScreen")

        # Registration: every section, the errors, a child row, leaving with changes.
        await w.go("n", screen="FormEntryScreen")
        sections = len(app.screen.form.sections)
        await w.look("登记 第 1 节")
        for n in range(2, sections + 1):
            await w.press("f4")
            await w.look(f"登记 第 {n} 节")
        await w.go("ctrl+s", look="登记 保存未通过")
        app.screen.view.rows["children"].editor.query_one("RepeatTable").focus()
        await w.go("plus", screen="RowEditScreen", look="添加子女")
        await w.press("escape")
        app.screen.view.rows["name"].editor.focus()
        await pilot.press("x")
        await w.go("escape", screen="ConfirmScreen", look="离开前确认")
        await w.press("tab", "enter")          # 放弃修改
        await w.until("HomeScreen")

        # Visits from the due list.
        await w.go("v", screen="QuickVisitScreen", look="例行探访")
        await w.press("escape")
        await w.go("w", screen="QuickVisitScreen", look="巡访")
        await w.press("escape")

        # Summary, export, admin, import, operator.
        await w.go("s", screen="SummaryScreen")
        await app.workers.wait_for_complete()
        await w.look("汇总表")
        app.screen.query_one("#summary-table").focus()
        await w.go(*["right"] * 12, wait=0.05, look="汇总表 向右滚动")
        await w.press("escape")
        await w.go("e", screen="ExportScreen", look="导出")
        await w.press("ctrl+s")
        await until(pilot, lambda: "已导出" in str(app.screen.query_one("#x-result").render()))
        await w.look("导出完成")
        await w.press("escape")
        await w.go("a", screen="AdminScreen", look="管理")
        await w.go("i", screen="ImportScreen", look="导入台账")
        await w.press("escape")
        await w.press("escape")
        await w.go("o", screen="OperatorScreen", look="操作员")
        await w.press("escape")
        assert not w.failures, "\n\n".join(w.failures)
        assert len(w.stops) >= 30, w.stops


@drive
async def test_first_run_screen_is_chinese_and_whole(tmp_path):
    from core.engine import Engine
    from tui.app import CarebookApp
    from tui_support import TODAY

    app = CarebookApp(Engine.open(tmp_path / "empty", today=lambda: TODAY), today=TODAY)
    async with app.run_test(size=SIZE) as pilot:
        w = Walk(app, pilot)
        await w.until("StartScreen")
        await w.look("首次使用")
        await w.go("k", screen="OperatorScreen", look="首次使用 操作员")
        assert not w.failures, "\n\n".join(w.failures)


def test_the_check_itself_finds_english_and_keeps_key_names():
    assert latin_words("esc Dismiss menu  🔎 Search for commands…") == ["esc", "Dismiss", "menu", "Search",
                                                                      "for", "commands"]
    assert latin_words("F1 帮助  Ctrl+S 保存  Shift+Tab  PageDown  按 V 登记  从 Excel 导入") == []
    assert latin_words("已导出：/tmp/pytest-of-x/data/exports/花名册-2026-11-30.xlsx") == []
    assert latin_words("YYYY-MM-DD  insert  ^p 命令") == ["YYYY", "MM", "DD", "insert", "p"]


@drive
async def test_palette_finds_screens_by_pinyin_and_people_by_name(tmp_path):
    app = make_app(tmp_path / "data", persons=20)
    person = save_person(app.engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+p")
        await until(pilot, lambda: screen_names(app)[-1] == "CarebookPalette")
        for ch in "hzb":
            await pilot.press(ch)
        await until(pilot, lambda: "汇总表" in screen_text(app, typed=False))
        assert "本季度排查汇总表" in screen_text(app)
        for _ in "hzb":
            await pilot.press("backspace")
        for ch in "zgl":                               # 赵桂兰 by her initials
            await pilot.press(ch)
        await until(pilot, lambda: "人员：赵桂兰" in screen_text(app))
        await pilot.press("down")
        await pilot.press("enter")
        await until(pilot, lambda: screen_names(app)[-1] == "PersonScreen")
        assert app.screen.record_id == person.id
        await pilot.press("ctrl+p")
        await until(pilot, lambda: screen_names(app)[-1] == "CarebookPalette")
        for ch in "qqqq":
            await pilot.press(ch)
        await until(pilot, lambda: "没有找到" in screen_text(app), timeout=5)
        assert "没有找到" in screen_text(app) and "No matches" not in screen_text(app)
