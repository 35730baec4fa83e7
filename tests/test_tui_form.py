"""Form entry end to end: register a person through the form, find them, edit, history, drafts."""
from __future__ import annotations

import sys
from pathlib import Path

from textual.widgets import Input

sys.path.insert(0, str(Path(__file__).parent))   # tests/ helpers under --import-mode=importlib
from tui_support import press, settle, PERSON, SIZE, save_person, drive, make_app, region_text, screen_names, type_text  # noqa: E402

TYPED = ("name", "address", "file_no", "filler", "liaison_name")   # typed key by key, Chinese included


async def fill_person(app, pilot, data: dict) -> None:
    """Fill the registration form as a clerk does: type text, pick choices, add a child row."""
    view = app.screen.view
    for fid in ("town", "village"):                    # the cascade: town first, then its villages
        view.rows[fid].set_value(data[fid])
        await pilot.pause()
    for fid, value in data.items():
        row = view.rows[fid]
        if fid in ("town", "village"):
            continue
        if row.hint == "repeat":
            row.editor.query_one("RepeatTable").focus()
            for child in value:
                await pilot.press("plus")
                await pilot.pause()
                for cid, cval in child.items():
                    app.screen.query_one(f"#row-{cid}").set_value(cval)
                await pilot.press("ctrl+s")
                await pilot.pause()
            continue
        if fid in TYPED:
            row.editor.focus()
            row.editor.value = ""                      # 填表人 starts as the operator
            await type_text(pilot, str(value))
        else:
            row.set_value(value)
        await pilot.pause()
    await settle(pilot)                              # live values recompute after typing stops


@drive
async def test_register_person_end_to_end_and_find_in_roster(tmp_path):
    app = make_app(tmp_path / "data")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await press(pilot, "n")
        assert screen_names(app)[-1] == "FormEntryScreen"
        await fill_person(app, pilot, PERSON)
        live = str(app.screen.query_one("#form-live").render())
        assert "认定结果" in live and "是" in live          # eligibility shown live with its reason
        assert "风险等级" in live
        # Computed values shown read-only: sex and birth date from the ID number.
        assert "女" in str(app.screen.view.rows["sex"].editor.render())
        await press(pilot, "ctrl+s")
        assert screen_names(app)[-1] == "PersonScreen", [n.message for n in app._notifications]
        eng = app.engine
        assert eng.count("registration") == 1
        rec = eng.get(app.screen.record_id)
        assert rec["data"]["name"] == "赵桂兰" and rec["operator"] == "张丽"
        assert rec["data"]["children"][0]["child_name"] == "赵明"
        assert eng.load_draft("registration", None) is None      # the draft is gone once saved
        await pilot.press("escape")
        await pilot.press("escape")
        await pilot.press("r")
        await pilot.pause()
        await type_text(pilot, "赵桂")
        await pilot.pause()
        table = app.screen.query_one("#roster-table")
        assert table.row_count == 1
        assert "赵桂兰" in [str(c) for c in table.get_row_at(0)]


@drive
async def test_errors_at_field_on_blur_and_all_on_save(tmp_path):
    app = make_app(tmp_path / "data")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await press(pilot, "n")
        row = app.screen.view.rows["id_number"]
        row.editor.focus()
        await type_text(pilot, "110105194912310021")     # wrong check character
        await pilot.press("tab")
        await pilot.pause()
        assert "身份证" in str(row.query_one(".field-error").render())
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert screen_names(app)[-1] == "FormEntryScreen"    # refused, nothing lost
        errors = [r for r in app.screen.view.rows.values() if r.has_class("has-error")]
        assert len(errors) > 3
        assert app.engine.count("registration") == 0
        assert any("未保存" in (n.title or "") for n in app._notifications)


@drive
async def test_duplicate_id_is_caught_at_entry_with_link_to_existing_file(tmp_path):
    app = make_app(tmp_path / "data")
    eng = app.engine
    first = save_person(eng)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await press(pilot, "n")
        row = app.screen.view.rows["id_number"]
        row.editor.focus()
        await type_text(pilot, PERSON["id_number"])
        await pilot.press("tab")
        await pilot.pause()
        assert "已登记" in str(row.query_one(".field-error").render())
        assert "赵桂兰" in str(row.query_one(".field-error").render())
        await pilot.press("ctrl+g")
        await pilot.pause()
        assert screen_names(app)[-1] == "PersonScreen"
        assert app.screen.record_id == first.id


@drive
async def test_warning_needs_a_typed_reason(tmp_path):
    app = make_app(tmp_path / "data")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await press(pilot, "n")
        data = dict(PERSON, living_arrangement="与配偶同住")   # 独自生活 but not 独居: a warning
        await fill_person(app, pilot, data)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert screen_names(app)[-1] == "PromptScreen"
        await type_text(pilot, "老伴常年住院")
        await press(pilot, "enter")
        assert screen_names(app)[-1] == "PersonScreen"
        rec = app.engine.get(app.screen.record_id)
        assert rec["meta"]["warnings_accepted"][0]["reason"] == "老伴常年住院"


@drive
async def test_leaving_with_changes_asks_and_draft_is_offered_back(tmp_path):
    app = make_app(tmp_path / "data")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await press(pilot, "n")
        app.screen.view.rows["name"].editor.focus()
        await type_text(pilot, "钱淑珍")
        await settle(pilot, timers_within=1.5)          # the draft is written after typing stops
        assert app.engine.load_draft("registration", None)["name"] == "钱淑珍"
        await pilot.press("escape")
        await pilot.pause()
        assert screen_names(app)[-1] == "ConfirmScreen"
        await pilot.press("escape")                        # changed my mind: keep typing
        await pilot.pause()
        assert screen_names(app)[-1] == "FormEntryScreen"
        app.screen.app.pop_screen()                        # the window closes without saving
        await pilot.pause()
        await press(pilot, "n")
        assert screen_names(app)[-1] == "ConfirmScreen"    # 发现上次未保存的草稿
        await press(pilot, "enter")                        # 恢复草稿
        assert app.screen.view.rows["name"].editor.value == "钱淑珍"


@drive
async def test_edit_person_and_history_shows_the_change(tmp_path):
    app = make_app(tmp_path / "data")
    saved = save_person(app.engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.open_person(saved.id)
        await pilot.pause()
        await press(pilot, "f2")
        address = app.screen.view.rows["address"].editor
        assert isinstance(address, Input) and address.value == PERSON["address"]
        address.value = ""
        address.focus()
        await type_text(pilot, "小王庄镇渡口村七排二号")
        await press(pilot, "ctrl+s")
        assert screen_names(app)[-1] == "PersonScreen"
        await pilot.press("4")
        await pilot.pause()
        history = "\n".join(region_text(app, app.screen.query_one("#person-history")))   # as drawn
        assert "现居住地址" in history and "七排二号" in history and "张丽" in history, history
        # 退出 with reason and date, then 恢复.
        await pilot.press("x")
        await pilot.pause()
        app.screen.query_one("#ask-reason").value = "子女返乡"
        await press(pilot, "ctrl+s")
        assert app.engine.get(saved.id)["data"]["status"] == "退出"
        await press(pilot, "u")
        assert screen_names(app)[-1] == "ConfirmScreen"        # asked first
        await press(pilot, "enter")
        assert app.engine.get(saved.id)["data"]["status"] == "在册"
        entries = len(app.engine.history(saved.id, "registration"))
        await press(pilot, "u")                                 # already 在册: nothing recorded
        assert screen_names(app)[-1] == "PersonScreen"
        assert len(app.engine.history(saved.id, "registration")) == entries
