"""One ID number once in the whole server ledger, though each village clerk sees only their village.

The folder's duplicate check reads the desk's own list rows; on a server those are one village's.
Two village clerks (their own PostgreSQL logins, row-level security) try to register the same
person: the form says who holds the number and where before saving, and the server's unique
index refuses the second record whatever writes it — a save that skipped the check, or psql.
"""
from __future__ import annotations

import pytest

from binhai_support import TOWN, VILLAGE, person
from core.engine import Engine
from core.problems import ValidationFailed
from core.storage.pgstore import PgStore
from core.storage.pgunique import DuplicateValue, index_name
from core.storage.pgusers import add_operator

VILLAGE_B = "120116157202"           # 小王庄镇, a second village


@pytest.fixture
def clerks(pg_server, tmp_path, monkeypatch):
    monkeypatch.setenv("CAREBOOK_DESK", str(tmp_path / "desks"))
    db = pg_server.create_db()
    owner = pg_server.url(db)
    with Engine.open(owner, operator="管理员") as eng:        # the owner's open makes the unique indexes
        assert not [p for p in eng.store.problems if p.rule == "unique"]
    with PgStore(owner) as store:
        a = add_operator(store, "唯一甲", "village", VILLAGE, password="pw-a").login
        b = add_operator(store, "唯一乙", "village", VILLAGE_B, password="pw-b").login
    return pg_server, db, pg_server.url(db, a, "pw-a"), pg_server.url(db, b, "pw-b"), b


def test_two_villages_cannot_register_the_same_id_number(clerks):
    server, db, url_a, url_b, login_b = clerks
    with Engine.open(url_a) as clerk_a:
        first = clerk_a.save("registration", person(town=TOWN, village=VILLAGE, file_no=None))
    number = first.record["data"]["id_number"]
    with Engine.open(url_b) as clerk_b:
        assert clerk_b.index("registration").rows == {}           # village A is out of B's sight
        data = {**person(town=TOWN, village=VILLAGE_B, file_no=None, name="李桂兰"), "id_number": number}
        problems = [p for p in clerk_b.validate("registration", data) if p.rule == "unique"]
        assert len(problems) == 1 and problems[0].path == "id_number"
        assert first.id in problems[0].message and "渡口村" in problems[0].message
        with pytest.raises(ValidationFailed) as refused:
            clerk_b.save("registration", data)
        assert [p.rule for p in refused.value.problems] == ["unique"] and "公民身份号码" in str(refused.value)
        # Two desks saving at the same moment both pass the check; the server's index decides.
        record = {"id": "R-race", "partition": VILLAGE_B, "form": "registration", "version": 1,
                  "data": {**data, "village": VILLAGE_B}}
        with pytest.raises(DuplicateValue, match="公民身份号码"):
            clerk_b.store.put("registration", record, {"id_number": number, "village": VILLAGE_B}, new=True)
        assert clerk_b.count("registration") == 0
    sql = ("INSERT INTO carebook.records (tbl, id, partition, doc, row) VALUES ('registration', 'R-psql', "
           f"'{VILLAGE_B}', '{{}}', '{{\"id_number\": \"{number}\"}}')")
    done = server.psql(db, sql, user=login_b, password="pw-b")
    assert done.returncode != 0 and "records_unique_" in done.stderr
    # a number nobody holds still saves, and an edit of the holder itself is no duplicate
    with Engine.open(url_b) as clerk_b:
        other = clerk_b.save("registration", person(town=TOWN, village=VILLAGE_B, file_no=None, age=70))
        again = clerk_b.get(other.id)["data"]
        # an edit keeping its own number needs no question to the server: the index stands for it
        assert {index_name("registration", f) for f in ("id_number", "file_no")} <= clerk_b.store.unique_indexed
        assert clerk_b.validate("registration", {**again, "address": "新地址"}, other.id) == []


def test_duplicates_already_in_the_ledger_are_told_to_the_admin(pg_server, tmp_path, monkeypatch):
    monkeypatch.setenv("CAREBOOK_DESK", str(tmp_path / "desks"))
    db = pg_server.create_db()
    owner = pg_server.url(db)
    with PgStore(owner) as store:                       # two folder ledgers copied in, before any index
        number = person()["id_number"]
        for rid, village in (("R-1", VILLAGE), ("R-2", VILLAGE_B)):
            data = {**person(town=TOWN, village=village), "id_number": number}
            store.put("registration", {"id": rid, "partition": village, "data": data},
                      {"id_number": data["id_number"]}, new=True)
    with Engine.open(owner, operator="管理员") as eng:
        said = [p.message for p in eng.store.problems if p.rule == "unique"]
        assert len(said) == 1 and "公民身份号码" in said[0] and "已有重复值" in said[0]
        assert data["id_number"] not in said[0]             # the number itself is masked
