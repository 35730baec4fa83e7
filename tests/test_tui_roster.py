"""Roster: search as you type (Chinese, ID digits, pinyin initials), filters, paging, masking."""
from __future__ import annotations

import sys
from pathlib import Path

from core.records.recordindex import pinyin_initials
from tui.screens.roster import PAGE
from tui.widgets.pagedtable import PagedTable

sys.path.insert(0, str(Path(__file__).parent))   # tests/ helpers under --import-mode=importlib
from tui_support import settle, drive, SIZE, make_app, type_text  # noqa: E402


def table_rows(app) -> list[list[str]]:
    table = app.screen.query_one("#roster-table", PagedTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def open_roster(pilot):
    await pilot.pause()
    await pilot.press("r")
    await pilot.pause()


@drive
async def test_search_by_typed_chinese_name(tmp_path):
    app = make_app(tmp_path / "data", persons=120)
    async with app.run_test(size=SIZE) as pilot:
        await open_roster(pilot)
        eng = app.engine
        some = next(iter(eng.index("registration").rows.values()))
        surname = some["name"][0]
        await type_text(pilot, some["name"])
        await pilot.pause()
        rows = table_rows(app)
        assert rows and all(some["name"] in " ".join(r) for r in rows)
        status = str(app.screen.query_one("#roster-status").render())
        assert "共" in status
        # Backspace widens the search again.
        for _ in some["name"][1:]:
            await pilot.press("backspace")
        await pilot.pause()
        assert all(surname in " ".join(r) for r in table_rows(app))


@drive
async def test_search_by_id_digits_and_pinyin_and_ids_are_masked(tmp_path):
    app = make_app(tmp_path / "data", persons=80)
    async with app.run_test(size=SIZE) as pilot:
        await open_roster(pilot)
        row = next(r for r in app.engine.index("registration").rows.values() if r.get("status") == "在册")
        # A number is found by its last four after the name (the four the mask shows) ...
        await type_text(pilot, row["name"] + row["id_number"][-4:])
        await pilot.pause()
        rows = table_rows(app)
        assert any(row["name"] in r for r in rows)
        joined = " ".join(" ".join(r) for r in rows)
        assert row["id_number"] not in joined            # never the full number in a list
        masked = row["id_number"][:6] + "********" + row["id_number"][-4:]
        assert masked in joined
        search = app.screen.query_one("#search")
        search.value = ""
        # ... never by a part of it, which would spell out the masked digits (issue 14).
        await type_text(pilot, row["id_number"][-8:-2])
        await pilot.pause()
        assert masked not in " ".join(" ".join(r) for r in table_rows(app))
        search.value = ""
        await type_text(pilot, pinyin_initials(row["name"]))
        await pilot.pause()
        assert any(row["name"] in r for r in table_rows(app))


@drive
async def test_filters_sort_and_paging(tmp_path):
    app = make_app(tmp_path / "data", persons=130)
    async with app.run_test(size=SIZE) as pilot:
        await open_roster(pilot)
        eng = app.engine
        active = eng.count("registration", {"status": "在册"})
        assert f"共 {active} 人" in str(app.screen.query_one("#roster-status").render())
        assert app.screen.query_one("#roster-table", PagedTable).row_count == min(PAGE, active)
        # Next page from the table with PageDown.
        app.screen.query_one("#roster-table").focus()
        await pilot.press("pagedown")
        await pilot.pause()
        assert app.screen.page_start == PAGE
        assert "第 2/" in str(app.screen.query_one("#roster-status").render())
        # Filter by risk.
        app.screen.query_one("#f-risk").value = "高"
        await pilot.pause()
        high = eng.count("registration", {"status": "在册", "risk_level": "高"})
        assert f"共 {high} 人" in str(app.screen.query_one("#roster-status").render())
        assert table_rows(app) and all("高" in r for r in table_rows(app))   # 高风险 under the 风险 header
        # Town then village: the village list follows the town.
        town = next(iter(eng.index("registration").rows.values()))["town"]
        app.screen.query_one("#f-town").value = town
        await pilot.pause()
        villages = app.screen.query_one("#f-village")._options
        assert len(villages) > 1
        # Sort by a column (F6 cycles columns, F7 flips).
        await pilot.press("f6")
        await pilot.pause()
        assert app.screen.sort == app.screen.columns[0][0]
        await pilot.press("f7")
        await pilot.pause()
        assert app.screen.desc is True
        assert "降序" in str(app.screen.query_one("#roster-status").render())


@drive
async def test_enter_opens_person_file_with_full_id(tmp_path):
    app = make_app(tmp_path / "data", persons=20)
    async with app.run_test(size=SIZE) as pilot:
        await open_roster(pilot)
        app.screen.query_one("#roster-table").focus()
        await pilot.press("enter")
        await pilot.pause()
        assert type(app.screen).__name__ == "PersonScreen"
        rec = app.engine.get(app.screen.record_id)
        info = str(app.screen.query_one("#person-info").render())
        assert rec["data"]["id_number"] in info           # full only in the person's own file


@drive
async def test_roster_view_lists_the_people_the_exported_roster_holds(tmp_path):
    """认定留守老人 on screen and the exported 花名册 count the same people; the screen says which
    people it lists."""
    from openpyxl import load_workbook

    app = make_app(tmp_path / "data", persons=120)
    eng = app.engine
    out = tmp_path / "花名册.xlsx"
    written = eng.export("roster", "xlsx", out)
    sheet = load_workbook(written[0], read_only=True).worksheets[0]
    seqs = [r[0] for r in sheet.iter_rows(values_only=True) if isinstance(r[0], (int, float))]
    assert seqs and seqs == list(range(1, len(seqs) + 1))      # the 序号 column: one per person
    async with app.run_test(size=SIZE) as pilot:
        await open_roster(pilot)
        status = app.screen.query_one("#roster-status")
        active = app.screen.query_one("#roster-table", PagedTable)
        assert "在册人员（含未认定为留守老年人的）" in str(status.render())
        all_active = int(str(status.render()).split("共 ")[1].split(" 人")[0])
        app.screen.query_one("#f-list").value = "roster"
        await settle(pilot)
        text = str(status.render())
        assert "与导出的花名册相同" in text
        shown = int(text.split("共 ")[1].split(" 人")[0])
        assert shown == len(seqs) < all_active
        assert active.row_count == min(shown, PAGE)
