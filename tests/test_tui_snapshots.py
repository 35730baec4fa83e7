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


def test_home_snapshot(snap_compare, tmp_path):
    assert snap_compare(make_app(tmp_path / "data", persons=30), terminal_size=SIZE, run_before=settle)


def test_roster_snapshot(snap_compare, tmp_path):
    async def roster(pilot):
        await settle(pilot)
        await pilot.press("r")
        await pilot.pause()

    assert snap_compare(make_app(tmp_path / "data", persons=30), terminal_size=SIZE, run_before=roster)


def test_form_snapshot(snap_compare, tmp_path):
    async def form(pilot):
        await settle(pilot)
        await pilot.press("n")
        await pilot.pause(0.5)

    assert snap_compare(make_app(tmp_path / "data"), terminal_size=SIZE, run_before=form)
