"""Flows staff use every day: a visit straight from home's due list, 改判 with a reason kept in
the history, the roster's columns at 80 columns, and the footer in Chinese."""
from __future__ import annotations

import sys
from pathlib import Path

from rich.cells import cell_len
from textual.widgets import Footer

from tui.screens.home import HomeScreen
from tui.widgets.pagedtable import PagedTable

sys.path.insert(0, str(Path(__file__).parent))   # tests/ helpers under --import-mode=importlib
from tui_support import press, settle, SIZE, TODAY, VISIT, drive, make_app, region_text, save_person, screen_names, type_text, until  # noqa: E402


@drive
async def test_visit_from_home_due_list_is_prefilled_with_that_person(tmp_path):
    app = make_app(tmp_path / "data", persons=40)
    eng = app.engine
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#home-due-table", PagedTable)
        assert table.row_count > 2
        table.focus()
        await pilot.press("down", "down")
        await pilot.pause()
        chosen = app.screen._selected().record_id
        name = eng.get(chosen)["data"]["name"]
        visits_before = eng.count("visit")
        await pilot.press("v")                     # the quick visit; F2 for the full form
        await until(pilot, lambda: screen_names(app)[-1] == "QuickVisitScreen")
        await pilot.press("f2")
        await until(pilot, lambda: screen_names(app)[-1] == "FormEntryScreen")
        assert screen_names(app)[-1] == "FormEntryScreen"
        view = app.screen.view
        assert view.rows["person"].get_value() == chosen
        assert name in str(view.rows["person"].editor.render())
        assert view.rows["visit_date"].get_value() == TODAY.isoformat()
        for fid, value in VISIT.items():
            view.rows[fid].set_value(value)
        assert view.rows["visitor"].get_value() == "张丽"     # the operator, until changed
        view.rows["visitor"].set_value("")
        view.rows["visitor"].editor.focus()
        await type_text(pilot, "刘强")
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, HomeScreen), [n.message for n in app._notifications]
        assert eng.count("visit") == visits_before + 1
        saved = [r for r in eng.related(chosen, "visit") if r["data"].get("visitor") == "刘强"]
        assert len(saved) == 1 and saved[0]["data"]["visit_date"] == TODAY.isoformat()


async def _override_in_form(pilot, app, rid: str, wanted: str, reason: str, typed: bool = True) -> None:
    """From the person file: F2, Ctrl+R, the level and the reason, Ctrl+S: back in the form."""
    await pilot.pause()
    app.open_person(rid)
    await settle(pilot)
    await pilot.press("f2")
    await until(pilot, lambda: screen_names(app)[-1] == "FormEntryScreen")
    await pilot.press("ctrl+r")
    await pilot.pause()
    assert screen_names(app)[-1] == "PromptScreen"
    app.screen.query_one("#ask-value").value = wanted
    app.screen.query_one("#ask-reason").focus()
    if typed:
        await type_text(pilot, reason)
    else:
        app.screen.query_one("#ask-reason").value = reason
    await press(pilot, "ctrl+s")
    assert screen_names(app)[-1] == "FormEntryScreen"


@drive
async def test_a_long_override_reason_is_cut_to_the_live_line_and_shown_as_typed(tmp_path):
    """The live line under the form holds two rows: a long reason is cut with 「…」, so what
    follows it stays on screen; a typed `[/b]` is shown, not read as markup (it crashed)."""
    app = make_app(tmp_path / "data")
    person = save_person(app.engine)
    wanted = next(v for v in ("高", "中", "低") if v != person.record["data"]["risk_level"])
    reason = "子女[/b]长期在外地务工，平时由邻居照看，" * 4
    async with app.run_test(size=SIZE) as pilot:
        await _override_in_form(pilot, app, person.id, wanted, reason, typed=False)
        await settle(pilot)
        drawn = [line.rstrip() for line in region_text(app, app.screen.query_one("#form-live"))]
        whole = "".join(line.strip() for line in drawn)
        assert "已改判：子女[/b]长期在外地务工" in whole, drawn
        assert len(drawn) == 2 and drawn[-1].endswith("…）"), drawn          # its end on screen


@drive
async def test_override_risk_with_reason_is_saved_and_shown_in_history(tmp_path):
    app = make_app(tmp_path / "data")
    eng = app.engine
    person = save_person(eng)
    computed = person.record["data"]["risk_level"]
    wanted = next(v for v in ("高", "中", "低") if v != computed)
    reason = "近期两次跌倒，村医建议提高风险等级"
    async with app.run_test(size=SIZE) as pilot:
        await _override_in_form(pilot, app, person.id, wanted, reason)
        assert "已改判" in str(app.screen.query_one("#form-live").render())
        await press(pilot, "ctrl+s")
        assert screen_names(app)[-1] == "PersonScreen", [n.message for n in app._notifications]
        record = eng.get(person.id)
        assert record["data"]["risk_level"] == wanted
        assert record["meta"]["overrides"]["risk_level"]["reason"] == reason
        assert eng.history(person.id)[-1]["overrides"]["risk_level"]["reason"] == reason
        await pilot.press("4")
        await pilot.pause()
        history = "\n".join(region_text(app, app.screen.query_one("#person-history")))   # as drawn
        assert reason in history and "改判风险等级" in history, history


@drive
async def test_roster_first_eight_columns_fit_80_and_villages_drop_the_town(tmp_path):
    app = make_app(tmp_path / "data", persons=30)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await pilot.pause()
        screen = app.screen
        table = screen.query_one("#roster-table", PagedTable)
        first = [c[0] for c in screen.columns[:8]]
        assert first == ["name", "sex", "age", "village", "risk_level", "status", "id_number", "phone"]
        padding = 2 * table.cell_padding
        assert sum(w + padding for _, _, w in screen.columns[:8]) <= SIZE[0] - 2   # 2: the scroll bar
        assert all(cell_len(label) <= width for _, label, width in screen.columns)
        divisions = app.engine.divisions
        row = app.engine.index("registration").rows[table.current_key()]
        village = str(table.get_row_at(0)[first.index("village")])
        town = divisions.name(row["town"])
        assert village and not village.startswith(town)
        assert divisions.name(row["village"]) in (village, town + village)   # the town dropped if it led


@drive
async def test_footer_and_palette_key_are_chinese(tmp_path):
    app = make_app(tmp_path / "data", persons=5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        footer = app.screen.query_one(Footer)
        keys = [(k.key, k.description) for k in footer.query("FooterKey")]
        assert ("ctrl+p", "命令") in keys
        assert all(not desc.isascii() for _, desc in keys), keys
