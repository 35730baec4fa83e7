"""The registration form's screen is built once and shown again for the next person: what one
person's opening left on it (typed values, errors, the problems list, live results, a child
row, a file being corrected) must never show in the next one."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))   # tests/ helpers under --import-mode=importlib
from test_tui_form import fill_person  # noqa: E402
from tui_support import press, settle, PERSON, SIZE, drive, make_app, save_person, screen_names, screen_text, until  # noqa: E402


def form_text(app) -> str:
    """Every field of the form as drawn, top to bottom (the view scrolled through), plus the
    lines under it: what a clerk could read on the screen while paging down."""
    view = app.screen.view
    seen = []
    for y in range(0, max(1, view.virtual_size.height), max(1, view.size.height)):
        view.scroll_to(y=y, animate=False, immediate=True)
        app.screen._compositor.reflow(app.screen, app.screen.size)
        seen.append(screen_text(app))
    view.scroll_home(animate=False, immediate=True)
    return "\n".join(seen)


async def open_new(app, pilot):
    """新建登记 from wherever the app is (home), once the screen before has settled; the form
    entry screen shown."""
    await pilot.pause()
    await pilot.press("n")
    await until(pilot, lambda: screen_names(app)[-1] == "FormEntryScreen" and app.screen.is_mounted)
    await settle(pilot)                              # live values after the first compute
    return app.screen


def values(screen) -> dict:
    """Every field's value as the screen holds it, hidden and computed fields included."""
    return {fid: row.get_value() for fid, row in screen.view.rows.items()}


@drive
async def test_next_registration_shows_nothing_of_the_person_saved_before(tmp_path):
    app = make_app(tmp_path / "data")
    async with app.run_test(size=SIZE) as pilot:
        first = await open_new(app, pilot)
        blank = values(first)                          # a new registration as first built
        live_blank = str(first.query_one("#form-live").render())
        await fill_person(app, pilot, PERSON)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: screen_names(app)[-1] == "PersonScreen")
        assert screen_names(app)[-1] == "PersonScreen"
        await pilot.press("escape")
        await pilot.pause()
        await open_new(app, pilot)
        assert app.screen is first                     # the kept screen, not a new one
        assert values(app.screen) == blank
        shown = form_text(app)
        for typed in ("赵桂兰", "120116194003150023", "渡口村三排五号", "赵明", "刘强", "13987654321",
                      "120116157201-9001", "王芳"):
            assert typed not in shown, typed
        assert "新建：" in shown
        assert str(app.screen.query_one("#form-live").render()) == live_blank   # 赵桂兰's results gone
        assert not app.screen.dirty
        assert app.screen.view.rows["name"].editor.has_focus or app.screen.focused is not None


@drive
async def test_errors_and_problem_list_of_a_refused_save_are_gone_next_time(tmp_path):
    app = make_app(tmp_path / "data")
    async with app.run_test(size=SIZE) as pilot:
        first = await open_new(app, pilot)
        first.view.rows["id_number"].set_value("120116194003150099")     # a wrong check digit
        await press(pilot, "ctrl+s")
        assert first.problems_panel.display
        assert any(r.has_class("has-error") for r in first.view.rows.values())
        await pilot.press("escape")
        await until(pilot, lambda: screen_names(app)[-1] == "ConfirmScreen")
        await pilot.press("d")                          # 放弃修改
        await pilot.pause()
        if screen_names(app)[-1] == "ConfirmScreen":    # the keys are the buttons' order
            app.screen.dismiss("discard")
        await until(pilot, lambda: screen_names(app)[-1] == "HomeScreen")
        await open_new(app, pilot)
        assert app.screen is first
        assert not first.problems_panel.display and not first.problems_panel.active
        assert not [r.field.id for r in first.view.rows.values() if r.has_class("has-error")]
        shown = form_text(app)
        assert "！" not in shown and "需要改正" not in shown
        assert "120116194003150099" not in shown
        assert app.engine.load_draft("registration", None) is None


@drive
async def test_a_file_corrected_then_a_new_registration(tmp_path):
    app = make_app(tmp_path / "data")
    saved = save_person(app.engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.open_form("registration", saved.id)
        await until(pilot, lambda: screen_names(app)[-1] == "FormEntryScreen")
        await settle(pilot)
        edit = app.screen
        assert edit.view.rows["name"].get_value() == "赵桂兰"
        assert "修改：" in screen_text(app)
        await pilot.press("escape")
        await until(pilot, lambda: screen_names(app)[-1] == "HomeScreen")
        await open_new(app, pilot)
        assert app.screen is edit                      # one kept screen per form version
        assert app.screen.record_id is None and app.screen.record is None
        shown = form_text(app)
        assert "新建：" in shown and "修改：" not in shown
        assert "赵桂兰" not in shown and "赵明" not in shown
        assert app.screen.view.rows["children"].get_value() is None
        # Saving the new one makes a second person, never an edit of the first.
        await fill_person(app, pilot, dict(PERSON, name="钱淑珍", id_number="120116194505050049",
                                           file_no="120116157201-9002"))
        await pilot.press("ctrl+s")
        await until(pilot, lambda: screen_names(app)[-1] == "PersonScreen")
        assert screen_names(app)[-1] == "PersonScreen", [n.message for n in app._notifications]
        assert app.engine.count("registration") == 2
        assert app.engine.get(saved.id)["data"]["name"] == "赵桂兰"
