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
import shutil
import sys
from pathlib import Path

from rich.cells import cell_len
from textual.widgets import Button, Checkbox, DataTable, Label, OptionList, Static
from textual.widgets._footer import FooterKey
from textual.widgets._tabbed_content import ContentTab

sys.path.insert(0, str(Path(__file__).parent))   # tests/ helpers under --import-mode=importlib
from tui_support import (SIZE, drive, make_app, press, region_text, save_person, screen_names,  # noqa: E402
                         screen_text, settle, until)

KEY = re.compile(r"(?:(?:Ctrl|Shift|Alt)\+)*(?:F\d{1,2}|Esc|Tab|Insert|Delete|Home|End|PageUp|PageDown|[A-Z0-9])")
NAMES = {"Excel", "CSV", "UTF", "Markdown"}   # software and formats known by these names only
# File paths and file names (the clerk's own, or a form file an admin edits) and ticks ([x]).
PATH = re.compile(r"(?:[A-Za-z]:)?[\w.\-~]*[/\\][^\s，。；）)]*|[\w\-]*\.[A-Za-z]{2,5}\b|\[x\]")
WORD = re.compile(r"[A-Za-z][A-Za-z0-9+]*")


def latin_words(text: str) -> list[str]:
    text = PATH.sub(" ", text)
    return [w for w in WORD.findall(text) if not KEY.fullmatch(w) and w not in NAMES]


def field_ids(app) -> set[str]:
    """Form and field ids, as the form files write them: the admin's own words for where a
    problem is (the form-problem table's 位置 column, and the form it is about)."""
    table = app.screen.query_one("#admin-problems")
    ids = {f.id for f in app.engine.record_forms()}
    return ids | {w for i in range(table.row_count) for w in WORD.findall(str(table.get_row_at(i)[2]))}


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
    strips = app.screen._compositor.render_strips()     # one screen, read region by region
    for widget, (region, clip) in visible.items():
        if not clip.contains_region(region) or not on_top(app, widget, region):
            continue                            # partly scrolled away or covered: not judged here
        text = plain(widget)
        if text:
            lines = region_text(app, widget, strips=strips)
            if not any(text in line for line in lines):
                out.append(f"{type(widget).__name__}: {text!r} shown as {lines!r}")
        if isinstance(widget, OptionList) and widget.id == "form-sections":
            lines = region_text(app, widget, strips=strips)
            for option in widget.options:
                if not any(str(option.prompt) in line for line in lines):
                    out.append(f"section {option.prompt!r} shown as {lines!r}")
        if isinstance(widget, DataTable) and widget.show_header and widget.columns:
            region = widget.content_region              # inside the border
            header = region_text(app, widget, region, strips)[0]
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

    async def look(self, where: str, names: set[str] = frozenset()) -> None:
        """Read the screen as stop `where`; `names`: identifiers this screen must show as they
        are (a plugin's name, which is what an admin writes to switch it off)."""
        await settle(self.pilot)
        text = screen_text(self.app, typed=False)
        self.stops.append(where)
        words = [w for w in latin_words(text) if w not in names]
        if words:
            self.failures.append(f"[{where}] Latin words {sorted(set(words))}:\n{text}")
        cut = cut_words(self.app)
        if cut:
            self.failures.append(f"[{where}] cut:\n  " + "\n  ".join(cut) + f"\n{text}")

    async def press(self, *keys: str) -> None:
        """Each key once the app has done what the one before asked (`tui_support.press`)."""
        await press(self.pilot, *keys)

    async def until(self, name: str) -> None:
        await until(self.pilot, lambda: screen_names(self.app)[-1] == name)
        assert screen_names(self.app)[-1] == name, screen_names(self.app)

    async def go(self, *keys: str, screen: str | None = None, look: str | None = None) -> None:
        """Press `keys`, wait for `screen` to be on top, read the screen as stop `look`."""
        await self.press(*keys)
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
            await settle(pilot)                 # the search and its 没有找到 countdown
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
        await w.go(*["right"] * 12, look="汇总表 向右滚动")
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


@drive
async def test_follow_ups_admin_import_and_every_dialog_are_chinese_and_whole_at_80x24(tmp_path):
    """The rest of the screens: the follow-up list (each filter, the town's referrals), one
    follow-up and each of its dialogs, every admin tab and its checks, the import screen in each
    state (nothing typed, the column mapping, a check with problems, a refused import, a partial
    one), and the dialogs of the form (draft found, warning reason, 改判, delete a row) and of
    the file (恢复在册), with F1 over each kind of screen."""
    from followup_support import REFERRAL_AND_RAISED, person_in, visit
    from test_import_office import village_roster

    forms = tmp_path / "forms"
    shutil.copytree(Path(__file__).resolve().parent.parent / "forms", forms)
    app = make_app(tmp_path / "data", persons=20, forms_dir=forms)
    eng = app.engine
    person = person_in(eng, 1, living_arrangement="独居")
    visit(eng, person.id, "2026-11-20", **REFERRAL_AND_RAISED)
    sheet, _ = village_roster(tmp_path / "翟庄子村花名册.xlsx")
    async with app.run_test(size=SIZE) as pilot:
        w = Walk(app, pilot)
        await until(pilot, lambda: app.screen.query("#home-due-table"))
        await app.workers.wait_for_complete()

        # Follow-ups: the list, its filters, the town's view, one item and its dialogs.
        await w.go("f", screen="FollowupsScreen", look="跟进事项")
        for key, where in (("g", "仅逾期"), ("g", "全部"), ("h", "含已办结"), ("l", "切换层级")):
            await w.go(key, look=f"跟进事项 {where}")
        await w.go("f1", look="跟进事项 帮助")
        await w.press("escape")
        await w.go("t", screen="FollowupsScreen", look="街镇转介")
        await w.press("escape")
        table = app.screen.query_one("#followups-table")
        table.focus()
        table.move_cursor(row=[table.get_row_at(i)[2] for i in range(table.row_count)].index("风险等级复核"))
        await w.go("enter", screen="FollowupScreen", look="一件跟进事项")
        await w.go("f1", look="一件跟进事项 帮助")
        await w.press("escape")
        for key, where in (("p", "办理经过"), ("c", "联系子女"), ("j", "办结"), ("b", "不采纳")):
            await w.go(key, screen="PromptScreen", look=f"对话框 {where}")
            if key == "c":                          # its lists open over the next fields
                await w.go("enter", look="联系子女 列表展开")
                await w.press("escape")
            await w.go("escape", screen="FollowupScreen")
        app.screen.query_one("#followup-body").focus()
        await w.go("ctrl+g", screen="PersonScreen")
        await w.go("5", look="档案 跟进")
        await w.go("f1", look="档案 帮助")
        await w.press("escape")
        await w.go("u", look="在册的人按 U")
        app.go_home()
        await w.until("HomeScreen")

        # Admin: every tab, the data check, the reload.
        await w.go("a", screen="AdminScreen", look="管理 表单检查")
        tabs = app.screen.query_one("TabbedContent")
        plugin_names = {word for p in eng.plugins() for word in WORD.findall(p.name)}
        for tab in ("plugins", "messages", "forms"):
            tabs.active = tab
            await w.look(f"管理 {tab}", names=plugin_names)
        await w.go("f1", look="管理 帮助")
        await w.press("escape")
        await w.press("ctrl+t")
        await app.workers.wait_for_complete()
        await w.look("管理 核对记录")
        await w.go("f5", look="管理 重新加载表单")
        # An admin's slips: a typo in a form file, then a choice renamed that records still use.
        # The 位置 column names the field as the file does (its id), the admin's own word.
        registration = forms / "registration.yaml"
        good = registration.read_text(encoding="utf-8")
        registration.write_text(good.replace("version: 1\ntitle:", "version: 1\ntitle:\n  - oops"), encoding="utf-8")
        await w.press("f5")
        await w.look("管理 表单文件有错", names=field_ids(app))
        registration.write_text(good, encoding="utf-8")
        economy = forms / "lists" / "economy.yaml"
        lists = economy.read_text(encoding="utf-8")
        economy.write_text(lists.replace("低收入, 一般]", "低收入, 非困难]"), encoding="utf-8")
        await w.press("f5", "ctrl+t")
        await app.workers.wait_for_complete()
        await w.look("管理 记录中的旧选项", names=field_ids(app))
        assert "economic_status" in screen_text(app)          # the check found it
        economy.write_text(lists, encoding="utf-8")
        await w.press("f5")

        # Import: nothing typed, the mapping, a check, a refused import, a partial one.
        await w.go("i", screen="ImportScreen", look="导入")
        await w.go("f1", look="导入 帮助")
        await w.press("escape")
        await w.go("ctrl+s", look="导入 未填文件")
        app.screen.query_one("#import-path").value = str(sheet)
        for key, where in (("ctrl+l", "列对应"), ("ctrl+t", "检查")):
            await w.press(key)
            await app.workers.wait_for_complete()
            await w.look(f"导入 {where}")
        app.screen.query_one("#import-path").value = str(tmp_path / "没有这个文件.xlsx")
        await w.press("ctrl+t")
        await app.workers.wait_for_complete()
        await w.look("导入 文件不存在")
        app.screen.query_one("#import-path").value = str(sheet)
        await w.press("ctrl+s")
        await app.workers.wait_for_complete()
        await w.look("导入 完成")
        app.go_home()
        await w.until("HomeScreen")

        # The form's dialogs: 改判, a warning's reason, deleting a row, a draft found.
        app.open_person(person.id)
        await w.until("PersonScreen")
        await w.go("f2", screen="FormEntryScreen")
        await w.go("f1", look="登记表 帮助")
        await w.press("escape")
        await w.go("ctrl+r", screen="PromptScreen", look="改判")
        await w.go("escape", screen="FormEntryScreen")
        app.screen.view.rows["children"].editor.query_one("RepeatTable").focus()
        await w.go("minus", screen="ConfirmScreen", look="删除一行")
        await w.go("escape", screen="FormEntryScreen")
        app.screen.view.rows["living_arrangement"].set_value("与配偶同住")   # 独自生活, not 独居: a warning
        await w.go("ctrl+s", screen="PromptScreen", look="提醒 需要说明理由")
        await w.go("escape", screen="FormEntryScreen")
        app.screen.view.rows["name"].editor.focus()
        await pilot.press("x")
        await settle(pilot, timers_within=1.5)      # the draft is written after typing stops
        app.pop_screen()                            # the window closes without saving
        await w.until("PersonScreen")
        await w.go("f2", screen="ConfirmScreen", look="发现草稿")
        await w.go("escape")

        # A quick visit's help; a person leaves the ledger and is asked back.
        app.go_home()
        await w.until("HomeScreen")
        await w.go("v", screen="QuickVisitScreen")
        await w.go("f1", look="例行探访 帮助")
        app.go_home()
        await w.until("HomeScreen")
        app.open_person(person.id)
        await w.until("PersonScreen")
        await w.go("x", screen="PromptScreen")
        app.screen.query_one("#ask-reason").value = app.screen.asks[0].choices[0][0]
        await w.go("ctrl+s", screen="PersonScreen", look="已退出台账")
        await w.go("u", screen="ConfirmScreen", look="恢复在册")
        assert not w.failures, "\n\n".join(w.failures)
        assert len(w.stops) >= 39, w.stops
