"""Quick visit rounds (issue 9, item 5): a routine visit from the due list in a few keys, counted
here, and a round through one village's due people."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))   # tests/ helpers under --import-mode=importlib
from tui_support import press, settle, OPERATOR, SIZE, TODAY, drive, make_app, screen_names, screen_text, until  # noqa: E402


class Keyboard:
    """Presses keys through Pilot and counts every one of them."""

    def __init__(self, pilot) -> None:
        self.pilot = pilot
        self.count = 0

    async def press(self, *keys: str) -> None:
        for key in keys:
            self.count += 1
            await press(self.pilot, key)


async def home_ready(app, pilot) -> None:
    await until(pilot, lambda: app.screen.query("#home-due-table"))
    await app.workers.wait_for_complete()
    await pilot.pause()


def visits_of(eng, person_id: str) -> list[dict]:
    return [r for r in eng.related(person_id, "visit")]


@drive
async def test_routine_visit_from_the_due_list_in_at_most_8_keys(tmp_path):
    app = make_app(tmp_path / "data", persons=30)
    eng = app.engine
    async with app.run_test(size=SIZE) as pilot:
        await home_ready(app, pilot)
        keys = Keyboard(pilot)
        await keys.press("down")                         # the second row of the due list
        item = app.screen._selected()
        before = len(visits_of(eng, item.record_id))
        await keys.press("v")
        await until(pilot, lambda: screen_names(app)[-1] == "QuickVisitScreen")
        shown = screen_text(app)
        assert item.name in shown and item.level in shown and OPERATOR in shown and TODAY.isoformat() in shown
        await keys.press("enter")
        await until(pilot, lambda: screen_names(app)[-1] == "HomeScreen")
        assert keys.count <= 8, keys.count
        visits = visits_of(eng, item.record_id)
        assert len(visits) == before + 1
        new = max(visits, key=lambda r: r["created"])["data"]
        assert new["visit_level"] == item.level and new["visitor"] == OPERATOR
        assert new["visit_date"] == TODAY.isoformat() and new["visit_method"] == "入户"
        assert new["saw_person"] == "是" and new["risk_change"] == "无"
        # The saved visit takes the person off the list once home is drawn again.
        await until(pilot, lambda: app.screen.due_items and all(
            i.record_id != item.record_id or i.level != item.level for i in app.screen.due_items))
        assert all(i.record_id != item.record_id or i.level != item.level for i in app.screen.due_items)


@drive
async def test_f2_opens_the_full_form_with_what_is_known(tmp_path):
    app = make_app(tmp_path / "data", persons=30)
    async with app.run_test(size=SIZE) as pilot:
        await home_ready(app, pilot)
        item = app.screen._selected()
        await pilot.press("v")
        await until(pilot, lambda: screen_names(app)[-1] == "QuickVisitScreen")
        await pilot.press("f2")
        await until(pilot, lambda: screen_names(app)[-1] == "FormEntryScreen")
        view = app.screen.view
        assert view.rows["visit_level"].get_value() == item.level
        assert view.rows["visitor"].get_value() == OPERATOR
        assert view.rows["saw_person"].get_value() is None          # findings are the clerk's to give
        assert app.screen.focused is view.rows["saw_person"].editor


@drive
async def test_rounds_walk_the_villages_due_people_one_after_another(tmp_path):
    app = make_app(tmp_path / "data", persons=60)
    eng = app.engine
    async with app.run_test(size=SIZE) as pilot:
        await home_ready(app, pilot)
        items = app.screen.due_items
        # A village with at least two people due at one level.
        village, level = next((i.village, i.level) for i in items
                              if sum(j.village == i.village and j.level == i.level for j in items) >= 2)
        row = next(n for n, i in enumerate(items) if i.village == village and i.level == level)
        people = list(dict.fromkeys(i.record_id for i in items if i.village == village and i.level == level))
        table = app.screen.query_one("#home-due-table")
        table.move_cursor(row=row)
        await pilot.pause()
        before = eng.count("visit")
        await pilot.press("w")
        await until(pilot, lambda: screen_names(app)[-1] == "QuickVisitScreen")
        assert f"第 1/{len(people)} 位" in screen_text(app)
        await pilot.press("f9")                          # the first is not at home: passed by
        await until(pilot, lambda: f"第 2/{len(people)} 位" in screen_text(app))
        for n in range(2, len(people) + 1):
            assert f"第 {n}/{len(people)} 位" in screen_text(app)
            await press(pilot, "enter")
        await until(pilot, lambda: screen_names(app)[-1] == "HomeScreen")
        assert eng.count("visit") == before + len(people) - 1
        assert not visits_of(eng, people[0]) or all(v["data"]["visit_date"] != TODAY.isoformat()
                                                    for v in visits_of(eng, people[0]))
        assert any(f"已记录 {len(people) - 1} 位，跳过 1 位" in n.message for n in app._notifications)


def test_home_due_window_is_the_next_7_days_even_on_a_sunday():
    """On Sunday 2026-12-06 a visit due Monday is listed (the calendar week ended that day)."""
    import datetime as dt

    from core.reporting.schedule import DueItem
    from tui.screens.home import due_window

    sunday = dt.date(2026, 12, 6)
    assert sunday.weekday() == 6

    def item(days: int, status: str = "due") -> DueItem:
        return DueItem("p", "某某", "t", "v", "村委会", None, None, sunday + dt.timedelta(days=days),
                       max(0, -days), status)

    shown = due_window([item(-3, "overdue"), item(0), item(1), item(6), item(7)], sunday)
    assert [i.due_date - sunday for i in shown] == [dt.timedelta(days=d) for d in (-3, 0, 1, 6)]


@drive
async def test_registration_starts_with_the_operator_as_filler(tmp_path):
    app = make_app(tmp_path / "data")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("n")
        await until(pilot, lambda: screen_names(app)[-1] == "FormEntryScreen")
        assert app.screen.view.rows["filler"].get_value() == OPERATOR
        assert not app.screen.dirty                   # a default, not a change to ask about


@drive
async def test_rounds_from_a_village_picked_in_the_roster(tmp_path):
    from tui.screens.home import due_window

    app = make_app(tmp_path / "data", persons=60)
    eng = app.engine
    items = due_window(eng.visits_due(as_of=TODAY), TODAY)
    village = max({i.village for i in items}, key=lambda v: sum(i.village == v for i in items))
    due = list(dict.fromkeys((i.record_id, i.level) for i in items if i.village == village))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("r")
        await until(pilot, lambda: screen_names(app)[-1] == "RosterScreen")
        app.screen.query_one("#f-town").value = eng.divisions.town_of(village)
        await settle(pilot)
        app.screen.query_one("#f-village").value = village
        await settle(pilot)
        app.screen.query_one("#roster-table").focus()
        before = eng.count("visit")
        await pilot.press("w")
        await until(pilot, lambda: screen_names(app)[-1] == "QuickVisitScreen")
        for n in range(1, len(due) + 1):
            await until(pilot, lambda: f"第 {n}/{len(due)} 位" in screen_text(app))
            await pilot.press("enter")
        await until(pilot, lambda: screen_names(app)[-1] == "RosterScreen")
        assert eng.count("visit") == before + len(due)
