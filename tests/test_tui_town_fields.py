"""Town-specific fields in form entry: a 太平镇 overlay field shows once 太平镇 is picked.

A real engine over a copied forms folder with `examples/overlays/taiping-mutual-aid.yaml` in
its `overlays/`, the real app at 80x24 through Pilot. The town is picked the way staff do it:
open the town list, type the name, Enter. Nothing typed before the town is picked may be lost
when the form is redrawn for that town, and no other town ever shows the field.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))   # tests/ helpers under --import-mode=importlib
from test_tui_form import fill_person  # noqa: E402
from tui_support import press, PERSON, SIZE, drive, make_app, screen_names, type_text, until  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OVERLAY = ROOT / "examples" / "overlays" / "taiping-mutual-aid.yaml"
FIELD = "taiping_mutual_aid"
TAIPING, TAIPING_VILLAGE = "120116156000", "120116156201"     # 太平镇 太平村
OTHER = "120116157000"                                          # 小王庄镇


def forms_with_overlay(tmp_path: Path) -> Path:
    """The shipped forms as an admin would have them after activating the example overlay."""
    forms = tmp_path / "forms"
    shutil.copytree(ROOT / "forms", forms)
    shutil.copy(OVERLAY, forms / "overlays")
    return forms


async def pick_town(pilot, name: str) -> None:
    """Open the town list on the form, type the town's name, Enter: as a clerk picks it."""
    app = pilot.app
    app.screen.view.rows["town"].editor.focus()
    await pilot.pause()
    await pilot.press("enter")
    await pilot.pause()
    await type_text(pilot, name)
    await press(pilot, "enter")


async def new_registration(pilot) -> None:
    """From the home screen, 新建 a registration (an empty form: no town picked yet)."""
    await pilot.pause()
    await pilot.press("n")
    await until(pilot, lambda: screen_names(pilot.app)[-1] == "FormEntryScreen")
    assert screen_names(pilot.app)[-1] == "FormEntryScreen"


@drive
async def test_town_field_shows_only_after_taiping_is_picked_and_nothing_typed_is_lost(tmp_path):
    app = make_app(tmp_path / "data", forms_dir=forms_with_overlay(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        await new_registration(pilot)
        assert FIELD not in app.screen.view.rows and not app.screen.query(f"#row-{FIELD}")

        view = app.screen.view
        view.rows["name"].editor.focus()
        await type_text(pilot, "赵桂兰")
        view.rows["address"].editor.focus()
        await type_text(pilot, "太平村三排五号")
        view.rows["ethnicity"].set_value("汉族")
        await pilot.pause()

        await pick_town(pilot, "小王庄")                    # another town: never the field
        assert app.screen.view.rows["town"].get_value() == OTHER
        assert FIELD not in app.screen.view.rows

        await pick_town(pilot, "太平")
        view = app.screen.view
        assert view.rows["town"].get_value() == TAIPING
        row = view.rows[FIELD]
        assert row.display and str(row.query_one(".field-label").render()) == "是否参加互助养老*"
        order = [w.id for w in view.children]                # in the care section, after its fields
        assert order.index("sec-care") < order.index(f"row-{FIELD}")
        assert order.index("row-liaison_phone") < order.index(f"row-{FIELD}")
        for fid, typed in (("name", "赵桂兰"), ("address", "太平村三排五号"), ("ethnicity", "汉族")):
            assert view.rows[fid].get_value() == typed       # the redraw kept what was typed
        assert app.focused is view.rows["town"].editor       # focus stays where the clerk was
        row.editor.focus()
        await until(pilot, lambda: row.region.y < SIZE[1] and row.region.bottom > 0)
        assert row.region.y < SIZE[1] and row.region.bottom > 0   # scrolled into the 80x24 screen

        row.set_value("是")
        await pilot.pause()
        await pick_town(pilot, "小王庄")                    # picked by mistake: the field goes ...
        assert FIELD not in app.screen.view.rows
        assert FIELD not in app.screen.current_data()         # ... and is not sent to another town
        await pick_town(pilot, "太平")                      # ... and comes back with its value
        assert app.screen.view.rows[FIELD].get_value() == "是"
        assert app.screen.view.rows["name"].get_value() == "赵桂兰"

        rest = {k: v for k, v in PERSON.items() if k not in ("name", "address", "ethnicity")}
        rest.update(town=TAIPING, village=TAIPING_VILLAGE, file_no=f"{TAIPING_VILLAGE}-9001")
        await fill_person(app, pilot, rest)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: screen_names(app)[-1] == "PersonScreen")
        assert screen_names(app)[-1] == "PersonScreen", [n.message for n in app._notifications]
        rec = app.engine.get(app.screen.record_id)
        assert rec["data"][FIELD] == "是" and rec["data"]["name"] == "赵桂兰"
        assert "是否参加互助养老：是" in str(app.screen.query_one("#person-info").render())   # the file
        assert rec["data"]["address"] == "太平村三排五号"


@drive
async def test_taiping_record_must_answer_the_town_field_and_opens_with_it(tmp_path):
    app = make_app(tmp_path / "data", forms_dir=forms_with_overlay(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        await new_registration(pilot)
        await pick_town(pilot, "太平")
        data = dict(PERSON, town=TAIPING, village=TAIPING_VILLAGE, file_no=f"{TAIPING_VILLAGE}-9002")
        await fill_person(app, pilot, data)
        await press(pilot, "ctrl+s")
        assert screen_names(app)[-1] == "FormEntryScreen"    # refused: the town field is required
        row = app.screen.view.rows[FIELD]
        assert "必须填写" in str(row.query_one(".field-error").render())
        assert app.engine.count("registration") == 0
        row.set_value("否")
        await pilot.pause()
        await pilot.press("ctrl+s")
        await until(pilot, lambda: screen_names(app)[-1] == "PersonScreen")
        assert screen_names(app)[-1] == "PersonScreen", [n.message for n in app._notifications]
        await press(pilot, "f2")                             # 修改: an existing 太平镇 record
        assert screen_names(app)[-1] == "FormEntryScreen"
        assert app.screen.view.rows[FIELD].get_value() == "否"
