"""Operator accounts and scopes, enforced by PostgreSQL itself (a real server, psql as the clerk).

`carebook users add` makes a login role per person; the row-level security policies then keep a
village clerk to their village and a town clerk to their town's villages — also from psql,
where carebook is not there to check — and history stays insert-only for everyone but the owner.
"""
from __future__ import annotations

import pytest

from binhai_support import TOWN, TOWN2, VILLAGE, VILLAGE2, person
from core.cli import main
from core.engine import Engine
from core.storage import StorageError

VILLAGE_B = "120116157202"           # a second village of the same town as VILLAGE


@pytest.fixture
def ledger(pg_server, tmp_path, monkeypatch):
    """A server ledger with people in two villages of one town and one village of another."""
    monkeypatch.setenv("CAREBOOK_DESK", str(tmp_path / "desks"))
    db = pg_server.create_db()
    owner = pg_server.url(db)
    with Engine.open(owner, operator="管理员") as eng:
        ids = {v: eng.save("registration", person(town=t, village=v, file_no=None)).id
               for t, v in ((TOWN, VILLAGE), (TOWN, VILLAGE_B), (TOWN2, VILLAGE2))}
    return pg_server, db, owner, ids


def add_user(owner: str, name: str, role: str, scope: str | None, password: str, capsys) -> str:
    argv = ["users", "add", name, "--role", role, "--password", password, "--data", owner]
    if scope:
        argv += ["--scope", scope]
    assert main(argv) == 0
    out = capsys.readouterr().out
    return next(line.split("：", 1)[1] for line in out.splitlines() if line.startswith("登录名"))


def test_a_village_clerk_cannot_read_or_write_other_villages_even_from_psql(ledger, capsys):
    server, db, owner, ids = ledger
    login = add_user(owner, "张三", "village", VILLAGE, "cun-mima-1", capsys)
    assert login == "zhangsan"

    def psql(sql):
        return server.psql(db, sql, user=login, password="cun-mima-1")

    seen = psql("SELECT partition FROM carebook.records WHERE tbl = 'registration'")
    assert seen.returncode == 0, seen.stderr
    assert seen.stdout.split() == [VILLAGE]
    assert psql("SELECT count(*) FROM carebook.history").stdout.strip() == "1"
    # writing another village: nothing to update, and no insert into it
    upd = psql(f"UPDATE carebook.records SET doc = '{{}}' WHERE partition = '{VILLAGE2}'")
    assert upd.returncode == 0 and upd.stdout.strip() == "UPDATE 0"
    ins = psql(f"INSERT INTO carebook.records (tbl, id, partition, doc, row) "
               f"VALUES ('registration', 'x', '{VILLAGE2}', '{{}}', '{{}}')")
    assert ins.returncode != 0 and "row-level security" in ins.stderr
    # moving a record of their own village into another one is refused too
    mv = psql(f"UPDATE carebook.records SET partition = '{VILLAGE2}' WHERE partition = '{VILLAGE}'")
    assert mv.returncode != 0 and "row-level security" in mv.stderr
    # history is insert-only: no update, no delete (even of their own village's lines)
    for sql in ("UPDATE carebook.history SET entry = '{}'", "DELETE FROM carebook.history",
                "DELETE FROM carebook.records", "DELETE FROM carebook.audit"):
        done = psql(sql)
        assert done.returncode != 0 and "permission denied" in done.stderr, sql
    # the SCRAM password is checked
    wrong = server.psql(db, "SELECT 1", user=login, password="wrong")
    assert wrong.returncode != 0 and "password authentication failed" in wrong.stderr
    # the owner still sees everything
    assert server.psql(db, "SELECT count(*) FROM carebook.records WHERE tbl = 'registration'").stdout.strip() == "3"


def test_scopes_through_carebook_and_operator_name_from_the_login(ledger, capsys):
    server, db, owner, ids = ledger
    add_user(owner, "李村官", "village", VILLAGE, "pw-village", capsys)
    add_user(owner, "王镇干", "town", TOWN, "pw-town", capsys)
    add_user(owner, "赵区长", "district", None, "pw-district", capsys)
    with Engine.open(server.url(db, "licunguan", "pw-village"), operator="冒充的名字") as eng:
        assert eng.operator == "李村官"
        assert set(eng.index("registration").rows) == {ids[VILLAGE]}
        assert eng.get(ids[VILLAGE2]) is None
        saved = eng.save("registration", person(town=TOWN, village=VILLAGE, file_no=None, name="新登记"),
                         operator="冒充的名字")
        assert eng.history(saved.id)[-1]["operator"] == "李村官"
        with pytest.raises(StorageError, match="没有权限"):
            eng.save("registration", person(town=TOWN2, village=VILLAGE2, file_no=None))
    with Engine.open(server.url(db, "wangzhengan", "pw-town")) as eng:
        assert set(eng.index("registration").rows) == {ids[VILLAGE], ids[VILLAGE_B], saved.id}
        rec = eng.get(ids[VILLAGE_B])
        eng.save("registration", {**rec["data"], "name": "镇里改的"}, ids[VILLAGE_B])
        assert eng.history(ids[VILLAGE_B])[-1]["operator"] == "王镇干"
    with Engine.open(server.url(db, "zhaoquzhang", "pw-district")) as eng:
        assert len(eng.index("registration").rows) == 4
        rec = eng.get(ids[VILLAGE2])
        with pytest.raises(StorageError, match="没有权限"):
            eng.save("registration", {**rec["data"], "name": "区里改的"}, ids[VILLAGE2])
    # the history row's login is the database's, whatever the client wrote
    who = server.psql(db, f"SELECT login FROM carebook.history WHERE rid = '{saved.id}'").stdout.split()
    assert who == ["licunguan"]


def test_users_add_refuses_bad_input_in_chinese(ledger, capsys):
    server, db, owner, ids = ledger
    assert main(["users", "add", "张三", "--role", "village", "--scope", "1201", "--data", owner]) == 2
    assert "12 位村代码" in capsys.readouterr().err
    assert main(["users", "add", "张三", "--role", "town", "--scope", VILLAGE, "--data", owner]) == 2
    assert "以 000 结尾" in capsys.readouterr().err
    login = add_user(owner, "钱七", "village", VILLAGE, "pw-q", capsys)
    # a clerk cannot make accounts
    assert main(["users", "add", "孙八", "--role", "admin", "--data", server.url(db, login, "pw-q")]) == 2
    assert "只有台账所有者" in capsys.readouterr().err
    assert main(["users", "list", "--data", owner]) == 0
    assert "qianqi\t钱七\t村级经办人\t" + VILLAGE in capsys.readouterr().out


def test_a_login_that_is_not_an_operator_of_this_ledger_is_refused(ledger):
    """A login of the same cluster (another ledger's clerk, say) is never taken for the owner."""
    server, db, owner, ids = ledger
    done = server.psql(db, "CREATE ROLE stranger_clerk LOGIN PASSWORD 'pw-stranger'; "
                           "GRANT USAGE ON SCHEMA carebook TO stranger_clerk; "
                           "GRANT SELECT ON ALL TABLES IN SCHEMA carebook TO stranger_clerk")
    assert done.returncode == 0, done.stderr
    with pytest.raises(StorageError, match="不是这本台账的操作员"):
        Engine.open(server.url(db, "stranger_clerk", "pw-stranger"))
