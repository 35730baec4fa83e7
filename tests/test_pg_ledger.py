"""A ledger moved between a data folder and a real PostgreSQL server, and its reports on both.

`carebook ledger copy` copies records, list rows and every history entry, then checks each
village's count and checksum from a fresh read of both sides; the roster, the quarter's summary
and the due list must come out the same whichever backend the ledger is on, and the district's
summary is the sum of its towns' (each town clerk seeing their own town only).
"""
from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from core.cli import main
from core.engine import Engine
from core.storage.pgstore import PgStore
from core.storage.pgusers import add_operator
from core.transfer import demo
from core.transfer.ledgercopy import village_sums, open_store

AS_OF = dt.date(2026, 11, 30)


@pytest.fixture(scope="module")
def folder_ledger(tmp_path_factory):
    """A demo ledger in a folder (people and visits in several towns), one person edited twice."""
    root = tmp_path_factory.mktemp("folder") / "data"
    with Engine.open(root, operator="测试员", today=lambda: AS_OF) as eng:
        demo.generate(eng, persons=60, seed=5, as_of=AS_OF)
        pid = next(iter(eng.index("registration").rows))
        for addr in ("改过一次的地址", "改过两次的地址"):
            rec = eng.get(pid)
            eng.save("registration", {**rec["data"], "address": addr}, pid)
    return root, pid


@pytest.fixture
def server_copy(pg_server, folder_ledger, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CAREBOOK_DESK", str(tmp_path / "desks"))
    root, pid = folder_ledger
    url = pg_server.url(pg_server.create_db())
    assert main(["ledger", "copy", "--from", str(root), "--to", url]) == 0
    return url, capsys.readouterr().out


def test_copy_to_the_server_and_back_is_verified_village_by_village(folder_ledger, server_copy, tmp_path, capsys):
    root, pid = folder_ledger
    url, out = server_copy
    assert "不一致" not in out and "数量和校验和均一致" in out
    assert "唯一约束（如公民身份号码全台账不重复）：已建立 2 项" in out       # id_number, file_no
    villages = [line for line in out.splitlines() if line.startswith("registration\t")]
    assert len(villages) >= 5 and all(line.endswith("一致") for line in villages)
    with open_store(root, readonly=True) as folder, PgStore(url) as server:
        whole: dict = {}
        for rid, entry in folder.histories("visit"):        # the copy's one read per village file
            whole.setdefault(rid, []).append(entry)
        assert whole and all(whole.get(rid, []) == folder.history("visit", rid) for rid in folder.index("visit"))
        for table in ("registration", "visit", "rollup_visit"):
            assert village_sums(folder, table) == village_sums(server, table), table
        assert [h["changes"] for h in server.history("registration", pid)][1:] == \
               [h["changes"] for h in folder.history("registration", pid)][1:]
        assert len(server.history("registration", pid)) == 3
    back = tmp_path / "back"
    assert main(["ledger", "copy", "--from", url, "--to", str(back)]) == 0
    assert "数量和校验和均一致" in capsys.readouterr().out
    with Engine.open(back, readonly=True) as eng:
        assert eng.get(pid)["data"]["address"] == "改过两次的地址"
        assert len(eng.history(pid)) == 3
    # a second copy into the same server would duplicate records: refused, in Chinese
    assert main(["ledger", "copy", "--from", str(root), "--to", url]) == 2
    assert "已有" in capsys.readouterr().err


def test_a_damaged_copy_is_caught_by_the_checksum(folder_ledger, server_copy, pg_server):
    root, _ = folder_ledger
    url, _ = server_copy
    db = url.split("?")[0].rsplit("/", 1)[1]
    changed = pg_server.psql(db, "UPDATE carebook.records SET doc = jsonb_set(doc, '{data,name}', '\"改坏\"') "
                                 "WHERE id = (SELECT min(id) FROM carebook.records WHERE tbl = 'registration')")
    assert changed.returncode == 0, changed.stderr
    with open_store(root, readonly=True) as folder, PgStore(url) as server:
        assert village_sums(folder, "registration") != village_sums(server, "registration")


def _plain(report) -> tuple:
    return (report.title, [c.key for c in report.columns], list(report.rows), report.total, report.unit)


def test_reports_are_equal_on_both_backends(folder_ledger, server_copy):
    root, _ = folder_ledger
    url, _ = server_copy
    with Engine.open(root, readonly=True, today=lambda: AS_OF) as folder, \
            Engine.open(url, readonly=True, today=lambda: AS_OF) as server:
        for name, params in (("roster", {"as_of": AS_OF}), ("summary", {"as_of": AS_OF, "quarter": "2026Q4"}),
                             ("summary", {"as_of": AS_OF, "quarter": "2026Q4", "by_village": True})):
            assert _plain(folder.report(name, **params)) == _plain(server.report(name, **params)), name
        due_f = [dataclasses.asdict(d) for d in folder.visits_due(as_of=AS_OF)]
        assert due_f and due_f == [dataclasses.asdict(d) for d in server.visits_due(as_of=AS_OF)]
        assert folder.count("registration") == server.count("registration") == 60


def test_the_districts_summary_is_the_sum_of_what_each_town_sees(server_copy, pg_server):
    url, _ = server_copy
    db = url.split("?")[0].rsplit("/", 1)[1]
    with Engine.open(url, readonly=True, today=lambda: AS_OF) as owner:
        district = owner.report("summary", as_of=AS_OF, quarter="2026Q4")
        rows = list(district.rows)
        towns = sorted({row["town"] for row in owner.index("registration").rows.values()})
    summed: dict = {}
    with PgStore(url) as store:
        logins = {t: add_operator(store, f"镇{t[-6:-3]}", "town", t, password="pw").login for t in towns}
    for town, login in logins.items():
        with Engine.open(pg_server.url(db, login, "pw"), readonly=True, today=lambda: AS_OF) as clerk:
            assert {r["town"] for r in clerk.index("registration").rows.values()} == {town}
            own = clerk.report("summary", as_of=AS_OF, quarter="2026Q4", town=town)
            for key, value in (own.total or {}).items():
                if isinstance(value, int) and not isinstance(value, bool):
                    summed[key] = summed.get(key, 0) + value
    assert rows and summed
    numeric = {k: v for k, v in district.total.items() if isinstance(v, int) and not isinstance(v, bool)}
    assert sum(numeric.values()) > 0 and len(towns) >= 2
    assert summed == numeric
