"""Two clerks, one server, the same person: the second save is refused, naming who and when.

Real PostgreSQL, two logins, two engines (as two desks would have); and the real Textual form
on the second desk, which keeps what its clerk typed when the save is refused.
"""
from __future__ import annotations

import re

import pytest

from binhai_support import TOWN, VILLAGE, person
from core.engine import Engine
from core.storage.contract import EditConflict
from core.storage.pgstore import PgStore
from core.storage.pgusers import add_operator
from tui_support import press, settle, SIZE, drive, screen_names, type_text


@pytest.fixture
def desks(pg_server, tmp_path, monkeypatch):
    """A server ledger with one person and two clerks of the same town."""
    monkeypatch.setenv("CAREBOOK_DESK", str(tmp_path / "desks"))
    owner = pg_server.url(pg_server.create_db())
    with Engine.open(owner, operator="管理员") as eng:
        pid = eng.save("registration", person(town=TOWN, village=VILLAGE, file_no=None, name="王秀英")).id
    db = owner.split("?")[0].rsplit("/", 1)[1]
    with PgStore(owner) as store:
        a = add_operator(store, "甲经办", "town", TOWN, password="pw-a").login   # logins are server-wide:
        b = add_operator(store, "乙经办", "town", TOWN, password="pw-b").login   # jiajingban, jiajingban2, …
    return pg_server.url(db, a, "pw-a"), pg_server.url(db, b, "pw-b"), pid


def test_second_save_of_the_same_person_is_refused_with_who_and_when(desks):
    url_a, url_b, pid = desks
    with Engine.open(url_a) as a, Engine.open(url_b) as b:
        opened_a, opened_b = a.get(pid), b.get(pid)          # both open the person's form
        a.save("registration", {**opened_a["data"], "address": "甲改的地址"}, pid, base=opened_a)
        with pytest.raises(EditConflict) as refused:
            b.save("registration", {**opened_b["data"], "address": "乙改的地址"}, pid, base=opened_b)
        assert "甲经办" in str(refused.value) and "修改，您的修改未保存" in str(refused.value)
        assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", str(refused.value))
        assert b.get(pid)["data"]["address"] == "甲改的地址"       # nothing lost, nothing overwritten
        assert [h["operator"] for h in b.history(pid)] == ["管理员", "甲经办"]
        # after reopening, the second clerk's edit goes through
        fresh = b.get(pid)
        b.save("registration", {**fresh["data"], "address": "乙改的地址"}, pid, base=fresh)
        assert a.get(pid)["data"]["address"] == "乙改的地址"


def test_the_server_refuses_a_write_racing_between_read_and_save(desks):
    """Below the engine: the revision read by `get` is the one an update must still find."""
    url_a, url_b, pid = desks
    with PgStore(url_a) as a, PgStore(url_b) as b:
        rec_a, rec_b = a.get("registration", pid), b.get("registration", pid)
        a.put("registration", {**rec_a, "data": {**rec_a["data"], "name": "甲"}}, {"name": "甲"}, {"by": "a"})
        with pytest.raises(EditConflict, match="甲经办"):
            b.put("registration", {**rec_b, "data": {**rec_b["data"], "name": "乙"}}, {"name": "乙"}, {"by": "b"})
        assert b.get("registration", pid)["data"]["name"] == "甲"
        assert [h.get("by") for h in b.history("registration", pid)] == [None, "a"]


def screen_text(app) -> str:
    """What the terminal shows, as text: the lines of the 80x24 screen."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


@drive
async def test_the_form_keeps_what_the_clerk_typed_when_the_save_is_refused(desks):
    from tui.app import CarebookApp

    url_a, url_b, pid = desks
    b = Engine.open(url_b)
    b.settings.set("ledger_created", "2026-11-30")
    app = CarebookApp(b)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            app.open_person(pid)
            await pilot.pause()
            await pilot.press("f2")                                # 修改
            await settle(pilot)
            assert screen_names(app)[-1] == "FormEntryScreen"
            address = app.screen.view.rows["address"].editor
            address.value = ""
            address.focus()
            await type_text(pilot, "乙在表单里输入的地址")
            with Engine.open(url_a) as a:                         # meanwhile, on the other desk
                rec = a.get(pid)
                a.save("registration", {**rec["data"], "address": "甲改的地址"}, pid, base=rec)
            await press(pilot, "ctrl+s")
            assert screen_names(app)[-1] == "FormEntryScreen"    # still on the form
            assert app.screen.view.rows["address"].editor.value == "乙在表单里输入的地址"
            shown = [f"{n.title}：{n.message}" for n in app._notifications]
            assert any(m.startswith("出错了") and "已被 甲经办" in m and "您的修改未保存" in m for m in shown), shown
            assert "现居住地址* 乙在表单里输入的地址" in screen_text(app)
            assert b.load_draft("registration", pid)["address"] == "乙在表单里输入的地址"
            assert b.get(pid)["data"]["address"] == "甲改的地址"
    finally:
        b.close()


@drive
async def test_counts_on_the_home_screen_follow_what_other_desks_save(desks, monkeypatch):
    from tui.app import CarebookApp
    from tui_support import until

    url_a, url_b, pid = desks
    monkeypatch.setattr(CarebookApp, "SERVER_POLL_SECONDS", 0.5)
    b = Engine.open(url_b)
    b.settings.set("ledger_created", "2026-11-30")
    app = CarebookApp(b)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: "在册 1 人" in screen_text(app))
            assert "在册 1 人" in screen_text(app)
            with Engine.open(url_a) as a:                       # another desk registers two people
                for name in ("李桂芝", "刘淑珍"):
                    a.save("registration", person(town=TOWN, village=VILLAGE, file_no=None, name=name))
            await until(pilot, lambda: "在册 3 人" in screen_text(app))
            assert "在册 3 人" in screen_text(app)
            assert b.count("registration") == 3 and len(b.query("registration", text="李桂芝").rows) == 1
    finally:
        b.close()


def test_a_recompute_leaves_a_record_another_desk_saved_while_it_ran(desks, monkeypatch):
    """A re-evaluation (the day's, or `records reevaluate`) reads a village, works out what
    changes, then writes it: a clerk at another desk who saves the same person in between
    keeps that save — not overwritten with the values read before it — and the run says so.
    With nobody saving meanwhile it writes, with its history entry."""
    import datetime as dt

    from core.lifecycle import reevaluate

    url_a, url_b, pid = desks
    year = dt.date.today() + dt.timedelta(days=400)           # everyone a year older
    with Engine.open(url_a, today=lambda: year) as a, Engine.open(url_b, today=lambda: year) as b:
        before = a.get(pid)["data"]["age"]
        res = reevaluate.run(a, "registration", apply=True, operator="甲经办")
        assert res.changed == 1 and res.kept_theirs == 0
        assert b.get(pid)["data"]["age"] == before + 1 and b.history(pid)[-1]["action"] == "重新计算"
    two = year + dt.timedelta(days=366)                       # and another
    real = reevaluate.village_records
    with Engine.open(url_a, today=lambda: two) as a, Engine.open(url_b, today=lambda: two) as b:

        def racing(*args, **kw):
            records = list(real(*args, **kw))               # read ...
            opened = b.get(pid)                             # ... and the other desk saves now
            b.save("registration", {**opened["data"], "address": "乙刚改的地址"}, pid, base=opened)
            yield from records
        monkeypatch.setattr(reevaluate, "village_records", racing)
        res = reevaluate.run(a, "registration", apply=True, operator="甲经办")
        assert res.changed == 1 and res.kept_theirs == 1
        rec = b.get(pid)
        assert rec["data"]["address"] == "乙刚改的地址" and rec["data"]["age"] == before + 2
        assert [h["operator"] for h in b.history(pid)][-1] == "乙经办"     # no 重新计算 over it
