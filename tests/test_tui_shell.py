"""The shell: first-run choice, the operator, home counts, help, errors shown not raised."""
from __future__ import annotations

import sys
from pathlib import Path

from core.engine import Engine
from core.problems import CarebookError
from tui.app import CarebookApp
from tui.screens.home import DUE_TITLE, HomeScreen

sys.path.insert(0, str(Path(__file__).parent))   # tests/ helpers under --import-mode=importlib
from tui_support import settle, drive, region_text, OPERATOR, SIZE, TODAY, make_app, open_engine, first_run_choice, screen_names, type_text, until  # noqa: E402


@drive
async def test_empty_ledger_offers_new_or_demo_and_new_asks_operator(tmp_path):
    app = CarebookApp(Engine.open(tmp_path / "data"), today=TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert screen_names(app)[-1] == "StartScreen"
        assert "新建空台账" in str(app.screen.query_one("#new").label)
        await first_run_choice(pilot, "k", "李秀英")
        assert isinstance(app.screen, HomeScreen)
        assert "李秀英" in app.sub_title
    # Remembered in the ledger: the next start does not ask again.
    eng = Engine.open(tmp_path / "data")
    assert eng.settings.get("operator") == "李秀英"
    eng.close()


@drive
async def test_demo_choice_switches_ledger_and_marks_every_screen(tmp_path):
    def opener():
        return open_engine(tmp_path / "demo", persons=30)

    app = CarebookApp(Engine.open(tmp_path / "data"), today=TODAY, demo_opener=opener)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("d")
        await pilot.pause()
        assert app.demo
        assert "演示数据" in app.sub_title
        assert app.engine.count("registration") == 30
        await pilot.press("r")
        await pilot.pause()
        assert screen_names(app)[-1] == "RosterScreen"
        assert "演示数据" in app.sub_title


@drive
async def test_home_counts_and_deadline(tmp_path):
    app = make_app(tmp_path / "data", persons=40)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        drawn = {name: "\n".join(region_text(app, app.screen.query_one(f"#home-{name}")))   # as drawn
                 for name in ("counts", "deadline", "due")}
        counts = drawn["counts"]
        active = app.engine.count("registration", {"status": "在册"})
        assert f"在册 {active} 人" in counts, counts
        high = app.engine.count("registration", {"status": "在册", "risk_level": "高"})
        assert f"风险 高 {high}  中 " in counts and "  低 " in counts     # 高风险 中风险 低风险, one line
        assert "2026-12-15" in drawn["deadline"] and "还有 15 天" in drawn["deadline"], drawn["deadline"]
        assert "7 天内应探访" in drawn["due"] and "已逾期" in drawn["due"], drawn["due"]
        assert OPERATOR in app.sub_title


@drive
async def test_home_draws_before_the_due_list_and_makes_its_table_when_ready(tmp_path):
    """Home is usable while the due list computes (no table yet, V gives a hint); when the
    list is ready its table appears, focused, and Enter opens the first person."""
    import threading

    app = make_app(tmp_path / "data", persons=40)
    eng = app.engine
    release = threading.Event()
    visits_due = eng.visits_due

    def held(*args, **kwargs):
        release.wait(30)
        return visits_due(*args, **kwargs)

    eng.visits_due = held
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        home = app.screen
        assert isinstance(home, HomeScreen)
        assert "正在计算应探访人员" in str(home.query_one("#home-due").render())
        assert not home.query("DataTable")
        assert home.query_one("#home-due-wait").border_title == DUE_TITLE
        await pilot.press("v")
        await pilot.pause()
        assert screen_names(app)[-1] == "HomeScreen"
        assert any("请先在应探访列表中选中" in n.message for n in app._notifications)
        release.set()
        await app.workers.wait_for_complete()
        await pilot.pause()
        table = home.query_one("#home-due-table")
        assert table.row_count > 0 and home.focused is table
        assert not home.query("#home-due-wait")
        await pilot.press("enter")
        await pilot.pause()
        assert screen_names(app)[-1] == "PersonScreen"


@drive
async def test_f1_help_lists_keys_in_chinese(tmp_path):
    app = make_app(tmp_path / "data", persons=5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("f1")
        await pilot.pause()
        assert screen_names(app)[-1] == "HelpScreen"
        text = " ".join(str(s.render()) for s in app.screen.query("Static"))
        assert "花名册" in text and "新建登记" in text
        await pilot.press("escape")
        assert isinstance(app.screen, HomeScreen)


@drive
async def test_command_palette_finds_screens_by_chinese_name(tmp_path):
    app = make_app(tmp_path / "data", persons=5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert {"花名册", "新建登记", "汇总表", "导出", "管理", "帮助"} <= set(titles)
        await pilot.press("ctrl+p")
        await type_text(pilot, "花名册")
        await settle(pilot)
        await pilot.press("enter")
        await until(pilot, lambda: screen_names(app)[-1] == "RosterScreen")
        assert screen_names(app)[-1] == "RosterScreen"


@drive
async def test_engine_error_is_a_message_and_the_app_keeps_running(tmp_path):
    app = make_app(tmp_path / "data", persons=5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()

        def broken(*a, **k):
            raise CarebookError("存储文件被占用（测试）")

        assert app.attempt(broken) is None
        await pilot.pause()
        assert any("存储文件被占用" in n.message for n in app._notifications)
        await pilot.press("r")
        await pilot.pause()
        assert screen_names(app)[-1] == "RosterScreen"


@drive
async def test_low_spec_turns_animation_off(tmp_path):
    app = make_app(tmp_path / "data", low_spec=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.animation_level == "none"
