"""Layout snapshots at 80x24 of home, roster and the registration form (fixed data and date)."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))   # tests/ helpers under --import-mode=importlib
from tui_support import SIZE, make_app  # noqa: E402


async def settle(pilot):
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def steady(pilot):
    """A blinking text cursor is drawn or not depending on the moment: stop it before the shot."""
    for widget in pilot.app.screen.query("*"):
        if hasattr(widget, "cursor_blink"):
            widget.cursor_blink = False
    await pilot.pause()


def test_home_snapshot(snap_compare, tmp_path):
    async def home(pilot):
        await settle(pilot)
        await steady(pilot)

    assert snap_compare(make_app(tmp_path / "data", persons=30), terminal_size=SIZE, run_before=home)


def test_roster_snapshot(snap_compare, tmp_path):
    async def roster(pilot):
        await settle(pilot)
        await pilot.press("r")
        await pilot.pause()
        await steady(pilot)

    assert snap_compare(make_app(tmp_path / "data", persons=30), terminal_size=SIZE, run_before=roster)


def test_form_snapshot(snap_compare, tmp_path):
    async def form(pilot):
        await settle(pilot)
        await pilot.press("n")
        await pilot.pause(0.5)
        await steady(pilot)

    assert snap_compare(make_app(tmp_path / "data"), terminal_size=SIZE, run_before=form)
