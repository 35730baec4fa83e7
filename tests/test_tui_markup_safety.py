"""Text typed by staff, written by admins in the form files or read from a file is shown as
typed: never read as Textual/Rich markup (`tui.literal`). A 改判 reason with `[/b]` in it crashed
the form; `[red]…[/red]` lost its brackets and changed colour; `[@click=app.quit]` made a link
that closed the program. Each test drives the real app at 80x24 and reads the drawn screen."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

from rich.cells import set_cell_size

sys.path.insert(0, str(Path(__file__).parent))   # tests/ helpers under --import-mode=importlib
from followup_support import REFERRAL_AND_RAISED, person_in, visit  # noqa: E402
from tui_support import (SIZE, TODAY, drive, make_app, open_engine, press, region_text,  # noqa: E402
                         screen_names, screen_text, settle, type_text, until)
from tui import roles  # noqa: E402
from tui.app import CarebookApp  # noqa: E402
from tui.widgets.pagedtable import PagedTable  # noqa: E402

# A closing tag with nothing open (MarkupError), a colour, and a click action.
HOSTILE = ("张[/b]三", "[red]李四[/red]", "王[@click=app.quit]五")


def fitted(text: str, width: int) -> str:
    """`text` as a table cell `width` wide draws it: cut (or filled) to the width."""
    return set_cell_size(text, width).rstrip()


def table_lines(app, table_id: str) -> list[str]:
    return region_text(app, app.screen.query_one(table_id, PagedTable))


def column_width(table: PagedTable, key: str) -> int:
    return next(c.width for c in table.columns.values() if c.key.value == key)


@drive
async def test_names_addresses_and_children_show_as_typed_on_home_roster_and_file(tmp_path):
    eng = open_engine(tmp_path / "data")
    people = [person_in(eng, n, name=name, address=f"渡口村{name}三排",
                        children=[{"child_name": f"{name}子", "child_relation": "子",
                                   "child_whereabouts": "河北省沧州市", "child_phone": "13812345678",
                                   "child_contact": "每月"}])
              for n, name in enumerate(HOSTILE, 1)]
    app = CarebookApp(eng, today=TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.screen.query("#home-due-table"))
        await settle(pilot)
        due = app.screen.query_one("#home-due-table", PagedTable)
        drawn = table_lines(app, "#home-due-table")
        for name in HOSTILE:
            assert any(fitted(name, column_width(due, "name")) in line for line in drawn), (name, drawn)

        await press(pilot, "r")
        await until(pilot, lambda: screen_names(app)[-1] == "RosterScreen")
        roster = app.screen.query_one("#roster-table", PagedTable)
        drawn = table_lines(app, "#roster-table")
        for name in HOSTILE:
            assert any(fitted(name, column_width(roster, "name")) in line for line in drawn), (name, drawn)

        for person, name in zip(people, HOSTILE):
            app.open_person(person.id)
            await until(pilot, lambda: screen_names(app)[-1] == "PersonScreen")
            await settle(pilot)
            text = screen_text(app)
            assert name in region_text(app, app.screen.query_one("#person-title"))[0], text
            assert f"现居住地址：渡口村{name}三排" in text, text
            await press(pilot, "2")                 # 子女及赡养人
            table = app.screen.query_one("#person-supporters", PagedTable)
            drawn = table_lines(app, "#person-supporters")
            assert any(fitted(f"{name}子", column_width(table, "child_name")) in line for line in drawn), drawn
            await press(pilot, "escape")
        assert app.is_running                        # no link quit it, nothing crashed


@drive
async def test_a_followups_note_steps_and_person_show_as_typed(tmp_path):
    eng = open_engine(tmp_path / "data")
    person = person_in(eng, 1, name="[red]李四[/red]")
    detail = "王[@click=app.quit]五家[/b]做饭困难"
    saved = visit(eng, person.id, "2026-11-20", **dict(REFERRAL_AND_RAISED, referral_detail=detail))
    report = next(r for r in saved.followups if r["data"]["kind"] == "上报街镇")
    eng.followup_advance(report["id"], "已联系[b]村医[/b]，[red]明日[/red]上门", operator="刘[/b]强", on=TODAY)
    app = CarebookApp(eng, today=TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "跟进事项（全部层级）" in screen_text(app))
        assert "[red]李四[/red]  上报街镇" in screen_text(app)          # home's follow-up lines
        await press(pilot, "f")
        await until(pilot, lambda: screen_names(app)[-1] == "FollowupsScreen")
        table = app.screen.query_one("#followups-table", PagedTable)
        drawn = table_lines(app, "#followups-table")
        assert any(fitted("[red]李四[/red]", column_width(table, "name")) in line for line in drawn), drawn
        app.push_screen(__import__("tui.screens.followups", fromlist=["x"]).FollowupScreen(report["id"]))
        await until(pilot, lambda: screen_names(app)[-1] == "FollowupScreen")
        text = screen_text(app)
        assert "老人：[red]李四[/red]" in text, text
        assert f"事项说明：{detail}" in text, text
        assert "刘[/b]强：已联系[b]村医[/b]，[red]明日[/red]上门" in text, text
        assert app.is_running


@drive
async def test_an_override_reason_and_a_question_naming_the_person_show_as_typed(tmp_path):
    app = make_app(tmp_path / "data")
    eng = app.engine
    name = "张[/b]三"
    person = person_in(eng, 1, name=name)
    data = dict(person.record["data"])
    wanted = next(v for v in ("高", "中", "低") if v != data["risk_level"])
    reason = "子女[/b]在外[red]务工[/red]"
    override = {"risk_level": {"value": wanted, "reason": reason}}
    left = eng.form("registration").lists[roles.EXIT_REASON_LIST][0][0]
    eng.save("registration", {**data, roles.STATUS: roles.EXITED, roles.EXIT_REASON: left,
                              roles.EXIT_DATE: "2026-11-25"}, person.id, overrides=override)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open_person(person.id)
        await until(pilot, lambda: screen_names(app)[-1] == "PersonScreen")
        await settle(pilot)
        info = app.screen.query_one("#person-info")
        at = next(y for y, line in enumerate(str(info.render()).split("\n")) if "人工改写" in line)
        info.parent.scroll_to(y=at, animate=False)             # the risk line, below the first rows
        await settle(pilot)
        assert f"（人工改写：{reason}）" in "\n".join(region_text(app, info.parent)), screen_text(app)
        await press(pilot, "u")                      # 恢复在册: the question names the person
        await until(pilot, lambda: screen_names(app)[-1] == "ConfirmScreen")
        assert f"把{name}恢复为在册？" in screen_text(app), screen_text(app)
        await press(pilot, "escape")
        assert app.is_running


@drive
async def test_a_notice_quoting_a_typed_path_and_a_palette_hit_show_as_typed(tmp_path):
    app = make_app(tmp_path / "data")
    person = person_in(app.engine, 1, name="王[@click=app.quit]五")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "ctrl+p")                 # people are found by their whole ID number
        await until(pilot, lambda: screen_names(app)[-1] == "CarebookPalette")
        await type_text(pilot, person.record["data"]["id_number"])
        await until(pilot, lambda: "人员：" in screen_text(app))
        assert "人员：王[@click=app.quit]五  渡口村" in screen_text(app), screen_text(app)
        await press(pilot, "escape")
        await until(pilot, lambda: screen_names(app)[-1] == "HomeScreen")

        from tui.screens.importer import ImportScreen

        app.push_screen(ImportScreen())
        await until(pilot, lambda: screen_names(app)[-1] == "ImportScreen")
        path = "/没有/[red]李四[/red].xlsx"
        app.screen.query_one("#import-path").value = path
        app.screen.action_run(dry_run=True)
        await until(pilot, lambda: app._notifications and "没有完成" in screen_text(app))
        notices = [n.message for n in app._notifications]
        assert any("[red]李四[/red].xlsx" in m for m in notices), notices
        assert "[red]李四[/red]" in screen_text(app), screen_text(app)    # the notice as drawn
        assert app.is_running


@drive
async def test_an_admins_labels_and_section_titles_show_as_written(tmp_path):
    forms = tmp_path / "forms"
    shutil.copytree(Path(__file__).parent.parent / "forms", forms)
    yaml = forms / "registration.yaml"
    text = yaml.read_text(encoding="utf-8")
    text = text.replace("label: 现居住地址,", "label: '住址[/b][red]现居[/red]',", 1)
    text = text.replace("title: 老年人基本信息", "title: '[b]老年人[/b]信息'", 1)
    yaml.write_text(text, encoding="utf-8")
    common = forms / "lists" / "common.yaml"            # a choice, as the select shows it
    common.write_text(common.read_text(encoding="utf-8").replace("离婚, 未说明]", "离婚, '[b]未说明[/b]']", 1),
                      encoding="utf-8")
    app = make_app(tmp_path / "data", forms_dir=forms)
    assert not [p for p in app.engine.forms.problems if p.is_error], app.engine.forms.problems
    person = person_in(app.engine, 1, address="渡口村三排", marital="[b]未说明[/b]")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open_person(person.id)
        await until(pilot, lambda: screen_names(app)[-1] == "PersonScreen")
        await settle(pilot)
        text = screen_text(app)
        assert "[b]老年人[/b]信息" in text and "住址[/b][red]现居[/red]：渡口村三排" in text, text
        assert "婚姻状况：[b]未说明[/b]" in text, text
        await press(pilot, "f2")
        await until(pilot, lambda: screen_names(app)[-1] == "FormEntryScreen")
        await settle(pilot)
        sections = "\n".join(region_text(app, app.screen.query_one("#form-sections")))
        assert "[b]老年人[/b]信息" in sections, sections
        row = app.screen.view.rows["address"]
        app.screen.view.scroll_to_widget(row, animate=False)
        await settle(pilot)
        drawn = "\n".join(region_text(app, row))
        assert "住址[/b][red]现居[/red]" in drawn, drawn
        row = app.screen.view.rows["marital"]
        app.screen.view.scroll_to_widget(row, animate=False)
        await settle(pilot)
        drawn = "\n".join(region_text(app, row))
        assert "[b]未说明[/b]" in drawn, drawn
        assert app.is_running


def test_every_notice_goes_through_the_apps_plain_notify():
    """`CarebookApp.notify` shows a message as written; a screen's or widget's own `notify`
    (Textual's `Widget.notify`) reads it as markup. So no code in tui/ calls anything but the
    app's: a new `self.notify(...)` on a screen fails here before it reaches staff."""
    import re

    root = Path(__file__).parent.parent / "tui"
    calls = []
    for path in sorted(root.rglob("*.py")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for found in re.finditer(r"([\w.]+)\.notify\(", line):
                owner = found.group(1)
                if not (owner.endswith("app") or (path.name == "app.py" and owner == "self")):
                    calls.append(f"{path.relative_to(root)}:{n}: {line.strip()}")
    assert calls == []
    assert CarebookApp.notify.__kwdefaults__["markup"] is False
