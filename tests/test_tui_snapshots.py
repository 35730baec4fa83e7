"""Layout snapshots at 80x24 (fixed data, date and clock) of the screens a village clerk uses:
home, roster (the 花名册 view), a person's file, registration refused with its problems, the
quick visit and the full visit form, the summary and export. Each SVG was looked at as a
picture before it was accepted (`--snapshot-update`, then opened in a browser)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))   # tests/ helpers under --import-mode=importlib
from tui_support import press, settle, SIZE, make_app, save_person, until  # noqa: E402


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch):
    """Saves stamp the wall clock (更新于 … in the person's title): fixed for the pictures."""
    import core.engine

    monkeypatch.setattr(core.engine, "now_iso", lambda: "2026-11-30T09:30:00+08:00")


async def steady(pilot):
    """A blinking text cursor is drawn or not depending on the moment: stop it before the shot."""
    for widget in pilot.app.screen.query("*"):
        if hasattr(widget, "cursor_blink"):
            widget.cursor_blink = False
    await pilot.pause()


def shot(snap_compare, app, steps) -> bool:
    async def run(pilot):
        await until(pilot, lambda: pilot.app.screen.query("#home-due-table") or
                    type(pilot.app.screen).__name__ != "HomeScreen")
        await settle(pilot)
        await steps(pilot)
        await settle(pilot)
        await steady(pilot)

    return snap_compare(app, terminal_size=SIZE, run_before=run)


def test_home_snapshot(snap_compare, tmp_path):
    async def home(pilot):
        pass

    assert shot(snap_compare, make_app(tmp_path / "data", persons=30), home)


def test_roster_snapshot(snap_compare, tmp_path):
    async def roster(pilot):
        await pilot.press("r")
        await pilot.pause()
        pilot.app.screen.query_one("#f-list").value = "roster"      # 认定留守老人: the 花名册's people
        await pilot.pause()

    assert shot(snap_compare, make_app(tmp_path / "data", persons=30), roster)


def test_person_file_snapshot(snap_compare, tmp_path):
    app = make_app(tmp_path / "data")
    person = save_person(app.engine)

    async def person_file(pilot):
        pilot.app.open_person(person.id)
        await settle(pilot)

    assert shot(snap_compare, app, person_file)


def test_registration_with_errors_snapshot(snap_compare, tmp_path):
    async def refused(pilot):
        await press(pilot, "n")
        pilot.app.screen.view.rows["id_number"].editor.value = "120116195003040025"
        await settle(pilot)                  # the live values recompute after typing stops
        await pilot.press("ctrl+s")
        await until(pilot, lambda: pilot.app.screen.query_one("#form-problems").display)
        pilot.app.clear_notifications()         # the toast's moment of leaving is not the picture's
        await settle(pilot)

    assert shot(snap_compare, make_app(tmp_path / "data"), refused)


@pytest.mark.parametrize("keys", [["v"], ["v", "f2"], ["s"]], ids=["quick_visit", "visit_form", "summary"])
def test_from_home_snapshot(snap_compare, tmp_path, keys):
    """The quick visit (V on the due list), the full visit form (then F2), the summary (S)."""
    async def go(pilot):
        await press(pilot, *keys)

    assert shot(snap_compare, make_app(tmp_path / "data", persons=30), go)


def test_export_snapshot(snap_compare, tmp_path):
    async def export(pilot):
        await press(pilot, "e")
        pilot.app.screen.query_one("#x-output").value = "导出/花名册-2026-11-30.csv"   # not the tmp path
        await pilot.pause()

    assert shot(snap_compare, make_app(tmp_path / "data", persons=30), export)
