"""Per-person quarterly visit counts kept at save time equal a count of the visits themselves.

The summary's visit columns sum these counts instead of reading the quarter's visits, so every
way a visit can change — a new one, an edit of its date into another quarter, of its level, of
whom it was for, a bulk load — must leave them equal to a recount (`rollup.scan`).
"""
from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))   # tests/ helpers under --import-mode=importlib

import pytest

from binhai_support import TODAY, open_engine, person, visit
from core.dates import quarter_of
from core.engine import Engine
from core.records import rollup
from demo_cache import binhai_demo

Q = quarter_of(TODAY)
LAST_Q_DAY = dt.date(TODAY.year, (TODAY.month - 1) // 3 * 3 + 1, 1) - dt.timedelta(days=1)


def _stored(eng) -> dict[str, dict]:
    return {ref: row.get(rollup.COUNTS) for ref, row in eng.rollup_rows("visit").items()}


def _recount(eng) -> dict[str, dict]:
    return {ref: row[rollup.COUNTS] for ref, row in rollup.scan(eng, eng.form("visit")).items()}


def test_counts_follow_new_visits_and_every_kind_of_edit(tmp_path):
    eng = open_engine(tmp_path)
    a = eng.save("registration", person(name="甲")).id
    b = eng.save("registration", person(name="乙")).id
    v1 = eng.save("visit", visit(a, TODAY)).id
    eng.save("visit", visit(a, TODAY, level="街镇"))
    eng.save("visit", visit(b, LAST_Q_DAY))
    assert _stored(eng)[a] == {Q: {"村委会": 1, "街镇": 1}}
    assert _stored(eng) == _recount(eng)

    def edit(vid, **changes):
        rec = eng.get(vid)
        eng.save("visit", {**rec["data"], **changes}, vid)

    edit(v1, visit_date=LAST_Q_DAY.isoformat())          # into the quarter before
    assert _stored(eng)[a] == {Q: {"街镇": 1}, quarter_of(LAST_Q_DAY): {"村委会": 1}}
    edit(v1, visit_level="街镇")                          # another level, same day
    edit(v1, person=b, person_name="乙")                  # it was someone else's visit
    assert _stored(eng) == _recount(eng)
    assert _stored(eng)[a] == {Q: {"街镇": 1}}
    assert _stored(eng)[b] == {quarter_of(LAST_Q_DAY): {"村委会": 1, "街镇": 1}}
    edit(v1, visit_method="电话")                         # nothing the rollup keeps
    assert _stored(eng) == _recount(eng)
    eng.close()


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    root = tmp_path_factory.mktemp("counts")
    binhai_demo(root, persons=200, seed=9, as_of=TODAY, village_days=45)
    return root


def test_bulk_loaded_visits_are_counted(ledger):
    with Engine.open(ledger / "data", ledger / "forms", readonly=True) as eng:
        stored = _stored(eng)
        assert sum(n for q in stored.values() for per in q.values() for n in per.values()) == eng.count("visit")
        assert stored == _recount(eng)


def test_summary_from_counts_equals_summary_from_visits(ledger, monkeypatch):
    def summary():
        with Engine.open(ledger / "data", ledger / "forms", readonly=True) as eng:
            return eng.report("summary", quarter=Q, as_of=TODAY, by_village=True).rows
    from core.reporting import schedule

    def no_scan(*args, **kw):
        raise AssertionError("the summary scanned the visits although the rollup keeps their counts")
    with monkeypatch.context() as m:
        m.setattr(schedule, "rows_with", no_scan)
        from_counts = summary()
    assert sum(r["c28"] + r["c29"] for r in from_counts) > 50
    monkeypatch.setattr(rollup, "quarter_counts", lambda rows, quarter: None)   # as a ledger from before counts
    assert summary() == from_counts
