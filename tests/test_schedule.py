"""Visits due and overdue (forms/schedule.yaml): cadence by risk, quarters for towns, edges."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))   # tests/ helpers under --import-mode=importlib
import datetime as dt

from binhai_support import TOWN2, VILLAGE2, copy_forms, edit, open_engine, person, visit

D = dt.date
FILED = D(2025, 1, 10)


def add(eng, *, visits=(), **over):
    rid = eng.save("registration", person(filing=FILED, **over)).id
    for day, level in visits:
        eng.save("visit", visit(rid, day, level))
    return rid


def due(eng, as_of, rid, level):
    items = [i for i in eng.visits_due(as_of=as_of) if i.record_id == rid and i.level == level]
    assert len(items) <= 1
    return items[0] if items else None


def test_village_cadence_by_risk(tmp_path):
    eng = open_engine(tmp_path)
    high = add(eng, self_care="失能", visits=[(D(2025, 11, 2), "村委会")])
    mid = add(eng, self_care="半失能", visits=[(D(2025, 11, 2), "村委会")])
    low = add(eng, visits=[(D(2025, 11, 2), "村委会")])
    item = due(eng, D(2025, 11, 9), high, "村委会")
    assert (item.due_date, item.status, item.overdue_days, item.risk) == (D(2025, 11, 9), "due", 0, "高")
    assert due(eng, D(2025, 11, 10), high, "村委会").overdue_days == 1
    assert due(eng, D(2025, 11, 10), high, "村委会").status == "overdue"
    assert due(eng, D(2025, 11, 17), mid, "村委会").due_date == D(2025, 11, 17)
    assert due(eng, D(2025, 11, 24), low, "村委会") is None           # due 12-02: 8 days away
    assert due(eng, D(2025, 11, 25), low, "村委会").due_date == D(2025, 12, 2)   # 7 days: listed
    assert due(eng, D(2025, 11, 25), low, "村委会").last_visit == D(2025, 11, 2)


def test_never_visited_counts_from_filing_and_exited_people_are_not_listed(tmp_path):
    eng = open_engine(tmp_path)
    never = add(eng)
    gone = add(eng, status="退出", exit_reason="死亡", exit_date="2025-02-01")
    item = due(eng, D(2025, 3, 1), never, "村委会")
    assert (item.due_date, item.overdue_days, item.last_visit) == (D(2025, 2, 10), 19, None)
    assert due(eng, D(2025, 3, 1), gone, "村委会") is None
    assert due(eng, D(2025, 1, 9), never, "村委会") is None           # not yet on the ledger


def test_town_visit_once_a_quarter_overdue_after_the_quarter_ends(tmp_path):
    eng = open_engine(tmp_path)
    q3 = add(eng, visits=[(D(2025, 8, 20), "街镇")])
    both = add(eng, visits=[(D(2025, 8, 20), "街镇"), (D(2025, 10, 1), "街镇")])
    # Q4 not yet visited: due on its last day, listed in the last week, overdue from 1 Jan.
    assert due(eng, D(2025, 12, 23), q3, "街镇") is None
    item = due(eng, D(2025, 12, 31), q3, "街镇")
    assert (item.due_date, item.status, item.overdue_days) == (D(2025, 12, 31), "due", 0)
    item = due(eng, D(2026, 1, 1), q3, "街镇")
    assert (item.status, item.overdue_days) == ("overdue", 1)
    # Visited on the first day of Q4: nothing due until the end of 2026Q1.
    assert due(eng, D(2026, 1, 1), both, "街镇") is None
    assert due(eng, D(2026, 3, 31), both, "街镇").due_date == D(2026, 3, 31)


def test_town_never_visited_is_due_in_the_filing_quarter(tmp_path):
    eng = open_engine(tmp_path)
    rid = add(eng)                                                       # filed 2025-01-10 (Q1)
    assert due(eng, D(2025, 3, 31), rid, "街镇").status == "due"
    assert due(eng, D(2025, 4, 1), rid, "街镇").overdue_days == 1
    # A village visit does not count for the town.
    eng.save("visit", visit(rid, D(2025, 3, 5), "村委会"))
    assert due(eng, D(2025, 4, 1), rid, "街镇").overdue_days == 1


def test_filters_and_visits_after_as_of_are_ignored(tmp_path):
    eng = open_engine(tmp_path)
    here = add(eng, visits=[(D(2025, 3, 1), "村委会")])
    there = add(eng, town=TOWN2, village=VILLAGE2, file_no=f"{VILLAGE2}-0001")
    as_of = D(2025, 2, 20)                                               # before the March visit
    assert due(eng, as_of, here, "村委会").due_date == D(2025, 2, 10)
    ids = {i.record_id for i in eng.visits_due(as_of=as_of, town=TOWN2)}
    assert ids == {there}
    assert {i.record_id for i in eng.visits_due(as_of=as_of, village=VILLAGE2)} == {there}


def test_cadence_and_floor_come_from_the_schedule_file(tmp_path):
    forms = copy_forms(tmp_path)
    edit(forms / "schedule.yaml", "中: {days: 15}", "中: {days: 10}")
    edit(forms / "schedule.yaml", "低: {months: 1}", "低: {days: 45}")
    eng = open_engine(tmp_path, forms)
    mid = add(eng, self_care="半失能", visits=[(D(2025, 11, 2), "村委会")])
    low = add(eng, visits=[(D(2025, 1, 31), "村委会")])
    assert due(eng, D(2025, 11, 12), mid, "村委会").due_date == D(2025, 11, 12)
    # 45 days is longer than the monthly floor: the floor wins (31 Jan + 1 month = 28 Feb).
    assert due(eng, D(2025, 2, 28), low, "村委会").due_date == D(2025, 2, 28)
