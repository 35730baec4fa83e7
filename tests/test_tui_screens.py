"""Visit entry from the person file, the quarter's summary, export and the admin corner."""
from __future__ import annotations

import asyncio
import sys

import pytest
from textual.widgets import Select
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))   # tests/ helpers under --import-mode=importlib
from tui_support import press, settle, PERSON, SIZE, VISIT, save_person, TODAY, drive, held_text, make_app, open_engine, first_run_choice, region_text, screen_names, screen_text, until  # noqa: E402


@drive
async def test_visit_entry_from_person_file_is_prefilled(tmp_path):
    app = make_app(tmp_path / "data")
    eng = app.engine
    person = save_person(eng)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.open_person(person.id)
        await pilot.pause()
        await pilot.press("v")
        await until(pilot, lambda: screen_names(app)[-1] == "FormEntryScreen")
        assert screen_names(app)[-1] == "FormEntryScreen"
        view = app.screen.view
        assert view.rows["visit_date"].get_value() == TODAY.isoformat()
        assert "赵桂兰" in str(view.rows["person"].editor.render())
        for fid, value in {"visit_level": "村委会", "visit_method": "入户", "saw_person": "是",
                           "physical": "良好", "mental": "良好", "daily_care": "正常", "hazards": ["无"],
                           "referral": "否", "risk_change": "无"}.items():
            view.rows[fid].set_value(value)
        assert view.rows["visitor"].get_value() == "张丽"          # the operator visits
        assert view.rows["visit_method"].get_value() == "入户"     # the form's first method
        assert app.screen.focused is view.rows["visit_level"].editor  # the first field left to fill
        await pilot.press("ctrl+s")
        await until(pilot, lambda: screen_names(app)[-1] == "PersonScreen")
        assert screen_names(app)[-1] == "PersonScreen", [n.message for n in app._notifications]
        assert eng.count("visit") == 1
        await pilot.press("3")
        await pilot.pause()
        assert app.screen.query_one("#person-visits").row_count == 1


@drive
async def test_summary_shows_quarter_deadline_and_checks(tmp_path):
    app = make_app(tmp_path / "data", persons=40)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("s")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        head = str(app.screen.query_one("#summary-head").render())
        assert "2026年第4季度" in head and "2026-12-15" in head
        assert app.screen.query_one("#summary-table").row_count >= 2      # towns + 合计
        assert str(app.screen.query_one("#summary-checks").render())


@drive
async def test_export_lists_registered_exporters_and_writes_in_a_worker(tmp_path):
    app = make_app(tmp_path / "data", persons=15)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("e")
        await pilot.pause()
        screen = app.screen
        formats = {v for _, v in screen.query_one("#x-format")._options if v is not Select.NULL}
        assert formats and formats <= {e.name for e in app.engine.exporters()}
        out = tmp_path / "out" / "roster"
        screen.query_one("#x-output").value = str(out) + screen.exporters[screen.query_one("#x-format").value].extension
        await pilot.press("ctrl+s")
        await app.workers.wait_for_complete()
        await pilot.pause()
        result = str(screen.query_one("#x-result").render())
        assert "已导出" in result, result
        assert any((tmp_path / "out").iterdir())


@drive
async def test_admin_corner_shows_form_checks_plugins_and_reloads(tmp_path):
    app = make_app(tmp_path / "data")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("a")
        await pilot.pause()
        head = str(app.screen.query_one("#admin-forms-head").render())
        assert "registration" in head
        assert app.screen.query_one("#admin-plugins").row_count >= 3
        await pilot.press("f5")
        await pilot.pause()
        assert any("表单已重新加载" in n.message for n in app._notifications)


@drive
async def test_person_file_builds_each_tab_when_first_shown(tmp_path):
    """Opening a file builds and fills only 基本信息; the other tabs are made, and the visits and
    the history read, when first shown; a tab hidden during a save shows the new state."""
    from tui import roles

    app = make_app(tmp_path / "data")
    eng = app.engine
    person = save_person(eng)
    eng.save("visit", eng.new_record("visit", **{**roles.visit_context(eng, person.id, TODAY),
                                                "visitor": "刘强", **VISIT}))
    reads: list[str] = []
    related, history = eng.related, eng.history
    eng.related = lambda *a, **k: reads.append("visits") or related(*a, **k)
    eng.history = lambda *a, **k: reads.append("history") or history(*a, **k)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.open_person(person.id)
        await pilot.pause()
        await app.workers.wait_for_complete()
        screen = app.screen
        assert "赵桂兰" in str(screen.query_one("#person-title").render())
        assert PERSON["id_number"] in str(screen.query_one("#person-info").render())
        assert not screen.query("#person-supporters, #person-visits, #person-history")
        assert reads == []
        await pilot.press("2")
        await pilot.pause()
        assert screen.query_one("#person-supporters").row_count == len(PERSON["children"])
        await pilot.press("3")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        visits = screen.query_one("#person-visits")
        assert visits.row_count == 1 and "共 1 次" in visits.border_title
        await pilot.press("4")
        await pilot.pause()
        assert "张丽" in "\n".join(region_text(app, screen.query_one("#person-history")))
        assert reads == ["visits", "history"]
        await pilot.press("2")                      # shown before: nothing is read again
        await pilot.pause()
        assert reads == ["visits", "history"]
        await pilot.press("x")                      # a save while 历史 is hidden
        await pilot.pause()
        app.screen.query_one("#ask-reason").value = "子女返乡"
        await press(pilot, "ctrl+s")
        await pilot.press("4")
        await pilot.pause()
        assert "退出台账" in "\n".join(region_text(app, screen.query_one("#person-history")))


@drive
async def test_next_person_file_reuses_the_screen_and_shows_nothing_of_the_last(tmp_path):
    """Staff open file after file: the kept screen is filled with the next person, on its first
    tab, with no table, history or visit of the person before; a file opened on top of an open
    one (from a form) is a screen of its own."""
    from tui import roles

    app = make_app(tmp_path / "data")
    eng = app.engine
    first = save_person(eng)
    second = save_person(eng, name="钱秀英", id_number="120116194512120025", file_no="120116157201-9002", children_count=2,
                         children=[{"child_name": "钱亮", "child_relation": "子", "child_whereabouts": "河北省沧州市",
                                    "child_phone": "13811112222", "child_contact": "每周"},
                                   {"child_name": "钱红", "child_relation": "女", "child_whereabouts": "北京市",
                                    "child_phone": "13811113333", "child_contact": "每月"}])
    eng.save("visit", eng.new_record("visit", **{**roles.visit_context(eng, first.id, TODAY),
                                                "visitor": "刘强", **VISIT}))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.open_person(first.id)
        await pilot.pause()
        kept = app.screen
        for tab in "234":
            await pilot.press(tab)
            await pilot.pause()
            await app.workers.wait_for_complete()
            await pilot.pause()
        assert kept.query_one("#person-visits").row_count == 1
        await pilot.press("escape")
        await pilot.pause()
        app.open_person(second.id)
        await pilot.pause()
        assert app.screen is kept and screen_names(app) == ["Screen", "HomeScreen", "PersonScreen"]
        assert kept.query_one("#person-tabs").active == "info"
        assert "钱秀英" in str(kept.query_one("#person-title").render())
        info = str(kept.query_one("#person-info").render())
        assert "120116194512120025" in info and PERSON["id_number"] not in info
        assert kept.query_one("#person-visits").row_count == 0
        assert "赵桂兰" not in held_text(kept.query_one("#person-history"))       # its tab not shown
        await pilot.press("2")
        await pilot.pause()
        assert kept.query_one("#person-supporters").row_count == 2
        await pilot.press("3")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert kept.query_one("#person-visits").row_count == 0
        assert "共 0 次" in kept.query_one("#person-visits").border_title
        # From a form over the kept screen, another file opens in a screen of its own.
        app.open_form(roles.PERSON_FORM, second.id)
        await settle(pilot)
        app.open_person(first.id)
        await pilot.pause()
        assert screen_names(app)[-3:] == ["PersonScreen", "FormEntryScreen", "PersonScreen"]
        assert app.screen is not kept and "赵桂兰" in str(app.screen.query_one("#person-title").render())


@drive
async def test_the_person_file_is_built_while_home_is_read_and_the_first_file_shows_on_it(tmp_path):
    """Home builds the person file's screen unseen once the due list is shown, so the first
    file opened is a reuse (no building, no restyling: issue 13's person-file row); what it
    shows on screen is that person's file, drawn from the record, with the file's keys."""
    app = make_app(tmp_path / "data")
    person = save_person(app.engine)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: getattr(app._person_screen, "built_ahead", False), timeout=15)
        kept = app._person_screen
        assert screen_names(app) == ["Screen", "HomeScreen"]            # built, not shown
        app.open_person(person.id)
        await until(pilot, lambda: screen_names(app)[-1] == "PersonScreen")
        await pilot.pause()
        assert app.screen is kept
        shown = screen_text(app)
        assert "赵桂兰  在册" in shown and "1 基本信息" in shown, shown
        assert f"公民身份号码：{PERSON['id_number']}" in shown and "F2 修改" in shown, shown
        assert "没有找到这份档案" not in shown


@pytest.mark.parametrize("quit_key", [False, True], ids=["test_ends", "staff_quit"])
@pytest.mark.parametrize("delay", [0, 0.02])   # at once, and mid-build
@drive
async def test_quitting_while_screens_are_built_ahead_ends_cleanly(tmp_path, delay, quit_key):
    """Staff who quit (or a test that ends) within a second of home showing its due list met
    the screens being built ahead: the exit ended in a traceback (`No nodes match
    'Underline' on ContentTabs()`, the header's title, the file's first tab), which failed
    two TUI tests in CI. Closing now waits for the build, then takes those screens down whole.
    Before the fix, quitting at once (delay 0) failed in each of three runs; staff's quit
    (`App.exit`, Ctrl+Q) failed with the first fix, which covered only a test's end."""
    app = make_app(tmp_path / "data", persons=3)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: screen_names(app)[-1] == "HomeScreen")
        app.screen.build_forms_ahead()                   # what home does 1 s after its due list
        await asyncio.sleep(delay)
        if quit_key:
            app.exit()
            await asyncio.sleep(0)
    # run_test re-raises whatever failed in the app while it closed
    assert app._exception is None
    assert app.return_code in (None, 0)


@drive
async def test_admin_imports_an_excel_ledger_checking_first(tmp_path):
    """F6 in the admin corner: 检查 lists the problems and saves nothing; 导入 with the good rows
    only saves those; the ledger grows by exactly them."""
    source = open_engine(tmp_path / "source", persons=6)
    [xlsx] = source.export("records", "xlsx", tmp_path / "old.xlsx", full=True)
    source.close()
    import openpyxl

    wb = openpyxl.load_workbook(xlsx)
    ws = wb.worksheets[0]
    id_col = [c.value for c in ws[1]].index("公民身份号码") + 1
    ws.cell(3, id_col).value = "120107193801010031"           # the second person: a wrong check digit
    wb.save(xlsx)
    app = make_app(tmp_path / "data")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("a")
        await pilot.pause()
        await pilot.press("i")
        await pilot.pause()
        app.screen.query_one("#import-path").value = str(xlsx)
        await pilot.press("ctrl+t")
        await app.workers.wait_for_complete()
        await pilot.pause()
        result = str(app.screen.query_one("#import-result").render())
        assert "共 6 人，5 人可以导入，1 行有问题" in result and app.engine.count("registration") == 0
        table = app.screen.query_one("#import-problems")
        assert table.row_count >= 1 and "校验码" in str(table.get_row_at(0))
        await pilot.press("ctrl+s")                                  # problems: nothing is saved
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "全部未导入" in str(app.screen.query_one("#import-result").render())
        assert app.engine.count("registration") == 0
        app.screen.query_one("#import-skip").value = True
        await pilot.press("ctrl+s")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "已导入 5 人" in str(app.screen.query_one("#import-result").render())
        assert app.engine.count("registration") == 5
        await pilot.press("escape", "escape")                     # home counts the imported people
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "在册 5 人" in str(app.screen.query_one("#home-counts").render())


@drive
async def test_first_run_can_start_from_the_offices_excel(tmp_path):
    from core.engine import Engine
    from tui.app import CarebookApp

    app = CarebookApp(Engine.open(tmp_path / "data"), today=TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "导入原有台账" in str(app.screen.query_one("#import").label)
        await first_run_choice(pilot, "i", "李秀英")
        assert screen_names(app)[-2:] == ["HomeScreen", "ImportScreen"]
        assert app.engine.settings.get("operator") == "李秀英"


@drive
async def test_the_suggested_export_file_is_accepted_and_written_outside_the_data_folder(tmp_path, monkeypatch):
    """The export screen fills in where the file goes; exporting there, unedited, works: the
    engine refuses any file inside the data folder, where the suggestion used to point."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    app = make_app(tmp_path / "data", persons=15)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("e")
        await until(pilot, lambda: screen_names(app)[-1] == "ExportScreen")
        suggested = Path(app.screen.query_one("#x-output").value)
        assert suggested.parent == tmp_path / "home" / "台账导出"
        await press(pilot, "ctrl+s")
        shown = screen_text(app)
        assert "已导出花名册" in shown and "不能把导出文件写到数据文件夹" not in shown, shown
        assert suggested.is_file()
