"""Reports computed by SQL on the server equal the Python reports of the same ledger in a folder.

One seeded demo ledger lives in a data folder and, copied with `carebook ledger copy`, on a real
PostgreSQL. On the server the summary is a GROUP BY built from `forms/summary.yaml`, the roster's
people are chosen by its `where`, the due lists come from one query (`core.reporting.sqlreports`);
each must equal the folder's answer to the row. An admin's new summary columns — one the SQL
builder translates, one it cannot — still come out equal, the second counted in Python and said so.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from pathlib import Path

import pytest
import yaml

from core.cli import main
from core.engine import Engine
from core.reporting import sqlreports
from core.transfer import demo

AS_OF = dt.date(2026, 11, 30)
FORMS = Path(__file__).resolve().parent.parent / "forms"


@pytest.fixture(scope="module")
def ledgers(pg_server, tmp_path_factory):
    """(folder, server URL) holding the same seeded demo ledger, one person moved out."""
    root = tmp_path_factory.mktemp("folder") / "data"
    mp = pytest.MonkeyPatch()
    mp.setenv("CAREBOOK_DESK", str(tmp_path_factory.mktemp("desks")))
    with Engine.open(root, operator="测试员", today=lambda: AS_OF) as eng:
        demo.generate(eng, persons=240, seed=11, as_of=AS_OF)
    url = pg_server.url(pg_server.create_db())
    assert main(["ledger", "copy", "--from", str(root), "--to", url]) == 0
    yield root, url
    mp.undo()


def _summary(report) -> tuple:
    return ([dict(r) for r in report.rows], report.total, [str(p) for p in report.checks], report.notes)


def _both(root, url, forms=None):
    return (Engine.open(root, forms, readonly=True, today=lambda: AS_OF),
            Engine.open(url, forms, readonly=True, today=lambda: AS_OF))


def test_summary_by_sql_equals_the_folders(ledgers):
    root, url = ledgers
    folder, server = _both(root, url)
    with folder, server:
        town = sorted({r["town"] for r in folder.index("registration").rows.values()})[0]
        for params in ({"quarter": "2026Q4"}, {"quarter": "2026Q3"}, {"quarter": "2026Q4", "by_village": True},
                       {"quarter": "2026Q4", "town": town}, {"quarter": "2026Q4", "town": town, "by_village": True}):
            want = _summary(folder.report("summary", as_of=AS_OF, **params))
            got = _summary(server.report("summary", as_of=AS_OF, **params))
            assert got == want, params
            assert sqlreports.last_fallbacks == [], params          # every shipped column in SQL
        assert want[1]["c1"] > 0 and want[1]["c28"] > 0
        # the server's summary read no list rows into this desk: the counting was the server's
        assert not server.index_loaded("registration") and not server.index_loaded("visit")


def test_roster_chosen_by_sql_equals_the_folders(ledgers):
    root, url = ledgers
    folder, server = _both(root, url)
    with folder, server:
        rows = folder.index("registration").rows.values()
        town = sorted({r["town"] for r in rows})[-1]
        village = sorted({r["village"] for r in rows if r["town"] == town})[0]
        for params in ({}, {"town": town}, {"village": village}):
            want = folder.report("roster", as_of=AS_OF, **params)
            got = server.report("roster", as_of=AS_OF, **params)
            want_rows, got_rows = list(want.rows), list(got.rows)
            assert got_rows == want_rows and [c.key for c in got.columns] == [c.key for c in want.columns], params
            assert got.row_count == want.row_count == len(want_rows), params
            assert sqlreports.last_fallbacks == ["roster cells: formatted in Python (pinyin order, list expressions)"]
        assert len(want_rows) > 0
        assert not server.index_loaded("registration")        # the desk never held the list rows
        assert 0 < len(list(folder.report("roster", as_of=AS_OF).rows)) < len(rows)   # `where` left people out


def test_due_lists_by_sql_equal_the_folders(ledgers):
    root, url = ledgers
    folder, server = _both(root, url)
    with folder, server:
        town = sorted({r["town"] for r in folder.index("registration").rows.values()})[0]
        for params in ({"as_of": AS_OF}, {"as_of": AS_OF - dt.timedelta(days=45)}, {"as_of": AS_OF, "town": town}):
            want = [dataclasses.asdict(d) for d in folder.visits_due(**params)]
            got = [dataclasses.asdict(d) for d in server.visits_due(**params)]
            assert got == want, params
            assert sqlreports.last_fallbacks == []
        assert {d["status"] for d in want} == {"due", "overdue"}
        assert {d["level"] for d in want} == {"村委会", "街镇"}


def test_an_admins_new_summary_columns_are_translated_or_counted_in_python(ledgers, tmp_path):
    root, url = ledgers
    forms = tmp_path / "forms"
    shutil.copytree(FORMS, forms)
    spec = yaml.safe_load((forms / "summary.yaml").read_text(encoding="utf-8"))
    spec["columns"] += [
        {"key": "c32", "number": "32", "label": "85岁以上独居",
         "count": "age_on(birth_date, report_date) >= 85 and living_arrangement == '独居'"},
        {"key": "c33", "number": "33", "label": "本季度建档且非低保", "base": "all",
         "count": "q_start <= filing_date <= q_end and not (economic_status in ('低保',))"},
        {"key": "c34", "number": "34", "label": "子女两人以上", "count": "len(children or []) >= 2"},
        {"key": "c35", "number": "35", "label": "电话探访", "over": "visit",      # not in the rollup: visits scanned
         "count": "visit_method == '电话' and visit_level in ('村委会', '街镇')"},
    ]
    (forms / "summary.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    folder, server = _both(root, url, forms)
    with folder, server:
        want = _summary(folder.report("summary", as_of=AS_OF, quarter="2026Q4"))
        got = _summary(server.report("summary", as_of=AS_OF, quarter="2026Q4"))
        assert got == want
        assert [f.split(":")[0] for f in sqlreports.last_fallbacks] == ["summary column c34"]
        assert want[1]["c32"] > 0 and want[1]["c34"] > 0 and want[1]["c33"] > 0
        assert 0 < want[1]["c35"] < want[1]["c28"] + want[1]["c29"]


def test_a_malformed_date_on_the_server_is_read_as_python_reads_it(ledgers, pg_server, monkeypatch):
    """A date field holding 1950-02-30 or 'abc' (written past carebook, e.g. from psql) makes the
    fast SQL cast fail; the report runs again with every date checked, and equals Python's."""
    root, _ = ledgers
    db = pg_server.create_db()
    url = pg_server.url(db)
    assert main(["ledger", "copy", "--from", str(root), "--to", url]) == 0
    # one person counted by the summary (在册 and 认定为留守老年人), so every date column meets it;
    # record ids are random, and a person judged 否 never reaches column 30 (a flaky pick)
    for field, bad in (("birth_date", "1950-02-30"), ("filing_date", "abc")):
        done = pg_server.psql(db, f"UPDATE carebook.records SET row = jsonb_set(row, '{{{field}}}', '\"{bad}\"') "
                                  f"WHERE tbl = 'registration' AND id = (SELECT min(id) FROM carebook.records "
                                  f"WHERE tbl = 'registration' AND row->>'status' = '在册' AND row->>'eligible' = '是')")
        assert done.returncode == 0, done.stderr
    with Engine.open(url, readonly=True, today=lambda: AS_OF) as server:
        sql_summary = _summary(server.report("summary", as_of=AS_OF, quarter="2026Q4"))
        sql_due = [dataclasses.asdict(d) for d in server.visits_due(as_of=AS_OF)]
        monkeypatch.setattr(sqlreports, "runner", lambda eng: None)          # the Python path, same rows
        py_summary = _summary(server.report("summary", as_of=AS_OF, quarter="2026Q4"))
        assert sql_summary[:2] == py_summary[:2] and sql_summary[3] == py_summary[3]
        # the failures are told for the same columns and rows (the server words the reason itself)
        assert [c.split("无法计算")[0] for c in sql_summary[2]] == [c.split("无法计算")[0] for c in py_summary[2]]
        assert any("第30栏" in c for c in sql_summary[2])
        assert sql_due == [dataclasses.asdict(d) for d in server.visits_due(as_of=AS_OF)]


def test_a_village_clerks_summary_counts_people_and_visits_of_their_village_only(ledgers):
    """The summary counts the people on one connection and the quarter's visits on a second one
    at the same time (two server processes); the second logs in as the same operator, so row
    security holds for it too: a village clerk's summary is exactly their village's row."""
    from bench.bench_server import with_login
    from core.storage.pgstore import PgStore
    from core.storage.pgusers import add_operator

    root, url = ledgers
    with Engine.open(root, readonly=True, today=lambda: AS_OF) as folder:
        by_village = {r["unit"]: dict(r) for r in folder.report("summary", as_of=AS_OF, quarter="2026Q4",
                                                                 by_village=True).rows}
        code_of = {folder.divisions.name(r["village"]): r["village"] for r in folder.index("registration").rows.values()}
    name = max(by_village, key=lambda v: by_village[v]["c28"] or 0)
    village = code_of[name]
    assert by_village[name]["c28"] > 0 and by_village[name]["c1"] > 0
    with PgStore(url) as owner:
        add_operator(owner, "报表村干部", "village", village, login="report_clerk", password="pw-report")
    with Engine.open(with_login(url, "report_clerk", "pw-report"), readonly=True, today=lambda: AS_OF) as clerk:
        rows = [dict(r) for r in clerk.report("summary", as_of=AS_OF, quarter="2026Q4", by_village=True).rows]
        main_pid, side_pid = clerk.store._conn.info.backend_pid, clerk.store._side.info.backend_pid
    assert main_pid != side_pid                                   # the visits were counted aside
    mine = {r["unit"]: r for r in rows}
    assert mine.pop(name) == by_village[name]
    def counts(r: dict) -> set:
        return {v for k, v in r.items() if k[:1] == "c" and k[1:].isdigit()}
    assert mine and set().union(*map(counts, mine.values())) <= {0, None}          # no other village counted
    assert set().union(*(counts(r) for n, r in by_village.items() if n != name)) - {0, None}   # though they hold some
