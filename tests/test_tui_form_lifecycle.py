"""A typo saved into registration.yaml while staff work: F5 keeps the last good forms and says
why, and the roster still opens (it used to drop the form and crash on `r`)."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))   # tests/ helpers under --import-mode=importlib
from tui_support import settle, SIZE, drive, make_app, save_person, screen_names, until  # noqa: E402

FORMS = Path(__file__).resolve().parent.parent / "forms"



def screen_text(app) -> str:
    """The lines a person reads on the 80x24 terminal (the compositor's full frame, as text)."""
    update = app.screen._compositor.render_update(full=True)
    return "\n".join("".join(seg.text for seg in strip) for strip in update.strips)


async def _admin_f5(pilot, app) -> None:
    await pilot.press("a")
    await until(pilot, lambda: screen_names(app)[-1] == "AdminScreen")
    await pilot.press("f5")


def _app_on_a_forms_copy(tmp_path):
    """The app on a ledger of one person, over a copy of the forms the test then edits."""
    forms = tmp_path / "forms"
    shutil.copytree(FORMS, forms)
    app = make_app(tmp_path / "data", forms_dir=forms)
    save_person(app.engine)
    return forms, app


@drive
async def test_f5_after_a_typo_keeps_the_last_good_forms_and_the_roster_opens(tmp_path):
    forms, app = _app_on_a_forms_copy(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        path = forms / "registration.yaml"
        path.write_text(path.read_text(encoding="utf-8").replace("version: 1\ntitle:", "version: 1\ntitle:\n  - oops"),
                        encoding="utf-8")
        await _admin_f5(pilot, app)
        await settle(pilot)
        shot = screen_text(app)
        assert "提醒：表单文件有错误，继续使" in shot and "forms/registration.yaml   9" in shot   # the whole file name
        assert "registration.yaml，第1版" in shot
        await pilot.press("escape")
        await until(pilot, lambda: screen_names(app)[-1] == "HomeScreen")
        await pilot.press("r")
        await until(pilot, lambda: screen_names(app)[-1] == "RosterScreen")
        await settle(pilot)
        shot = screen_text(app)
        assert "共 1" in shot and ("赵*兰" in shot or "赵桂兰" in shot), shot


@drive
async def test_preview_opens_the_form_on_a_scratch_ledger_not_the_real_one(tmp_path):
    from core.engine import Engine
    from core.lifecycle.preview import scratch_ledger
    from tui.app import CarebookApp

    forms = tmp_path / "forms"
    shutil.copytree(FORMS, forms)
    real = tmp_path / "data"
    Engine.open(real, forms).close()
    before = sorted(p.relative_to(real) for p in real.rglob("*"))
    scratch, notes = scratch_ledger(forms, persons=5)
    assert notes == [] and not scratch.is_relative_to(real)
    eng = Engine.open(scratch, forms)
    assert eng.count("registration") == 5
    app = CarebookApp(eng, demo=True, start_form="registration")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: screen_names(app)[-1] == "FormEntryScreen")
        shot = screen_text(app)
        assert "演示数据" in shot and "档案编号" in shot
    assert sorted(p.relative_to(real) for p in real.rglob("*")) == before
    shutil.rmtree(scratch)


@drive
async def test_admin_f7_checks_the_stored_records_against_the_forms(tmp_path):
    forms, app = _app_on_a_forms_copy(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        economy = forms / "lists" / "economy.yaml"
        economy.write_text(economy.read_text(encoding="utf-8").replace("低收入, 一般]", "低收入, 非困难]"),
                           encoding="utf-8")
        await _admin_f5(pilot, app)
        await settle(pilot)
        await pilot.press("ctrl+t")
        await app.workers.wait_for_complete()
        await settle(pilot)
        shot = screen_text(app)
        assert "发现 2 个问题" in shot, shot     # the choice in use, and no version bump
        assert "economic_status" in shot
