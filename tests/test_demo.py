"""The demo ledger: valid records, realistic mixes, repeatable, visits that point at people."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))   # tests/ helpers under --import-mode=importlib
import datetime as dt
from collections import Counter

import pytest

from binhai_support import TODAY, open_engine
from demo_cache import binhai_demo
from core.transfer import demo
from plugins.cn.ids import check_id


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    forms, counts = binhai_demo(root, persons=300, seed=3, as_of=TODAY)
    eng = open_engine(root, forms)
    yield eng, counts
    eng.close()


def test_counts_and_mixes(ledger):
    eng, counts = ledger
    assert counts["registration"] == 300 == eng.count("registration")
    assert counts["visit"] == eng.count("visit") > 600
    people = [r["data"] for r in eng.iter_records("registration")]
    status = Counter(p["status"] for p in people)
    assert 3 <= status["退出"] <= 30
    assert Counter(p["eligible"] for p in people)["是"] > 0.7 * len(people)
    ages = [p["age"] for p in people]
    assert min(ages) >= 60 and max(ages) <= 101
    assert sum(a < 70 for a in ages) > sum(a >= 80 for a in ages)
    towns = {p["town"] for p in people}
    assert len(towns) >= 10 and all(t.startswith("120116") for t in towns)
    assert {p["risk_level"] for p in people} == {"高", "中", "低"}
    assert any(p["has_caregiver"] == "是" for p in people) and any(p["has_caregiver"] == "否" for p in people)


def test_ids_valid_unique_and_mostly_former_districts(ledger):
    eng, _ = ledger
    ids = [r["data"]["id_number"] for r in eng.iter_records("registration")]
    assert len(set(ids)) == len(ids)
    assert all(check_id(i) is None for i in ids)
    assert sum(i[:6] in ("120107", "120108", "120109") for i in ids) > 0.7 * len(ids)


def test_records_pass_validation_as_stored(ledger):
    eng, _ = ledger
    for rec in list(eng.iter_records("registration"))[:25] + list(eng.iter_records("visit"))[:25]:
        assert [p for p in eng.validate_stored(rec["id"]) if p.is_error] == []


def test_visits_point_at_people_and_are_mostly_on_time(ledger):
    eng, _ = ledger
    people = {r["id"]: r["data"] for r in eng.iter_records("registration")}
    visits = [r["data"] for r in eng.iter_records("visit")]
    assert all(v["person"] in people and people[v["person"]]["village"] == v["village"] for v in visits)
    assert all(v["visit_date"] <= TODAY.isoformat() for v in visits)
    due = eng.visits_due(as_of=TODAY)
    active = sum(p["status"] == "在册" for p in people.values())
    overdue = [i for i in due if i.status == "overdue"]
    assert len(overdue) < 0.3 * active * 2


def test_same_seed_same_ledger(tmp_path):
    a = open_engine(tmp_path / "a")
    b = open_engine(tmp_path / "b")
    for eng in (a, b):
        demo.generate(eng, persons=20, seed=11, as_of=dt.date(2026, 6, 30))
    names = [sorted((r["data"]["id_number"], r["data"]["name"]) for r in e.iter_records("registration")) for e in (a, b)]
    assert names[0] == names[1]


def test_a_year_of_village_visits_with_realistic_gaps(ledger):
    """The default demo holds a year of visits at each person's cadence, mostly on time, with some
    late ones and the occasional month-long gap (hospital, a stay with a child)."""
    eng, _ = ledger
    risk = {r["id"]: r["data"]["risk_level"] for r in eng.iter_records("registration")}
    days: dict[str, list[dt.date]] = {}
    for rec in eng.iter_records("visit"):
        v = rec["data"]
        if v["visit_level"] == "村委会":
            days.setdefault(v["person"], []).append(dt.date.fromisoformat(v["visit_date"]))
    first = min(d for ds in days.values() for d in ds)
    assert TODAY - dt.timedelta(days=366 + 30) <= first <= TODAY - dt.timedelta(days=330)
    cadence = {"高": 7, "中": 15, "低": 30}
    gaps = [((b - a).days, cadence[risk[p]]) for p, ds in days.items() for a, b in zip(sorted(ds), sorted(ds)[1:])]
    on_time = sum(g <= step for g, step in gaps)
    long = sum(g >= step + 21 for g, step in gaps)
    assert on_time > 0.85 * len(gaps) and 0 < long < 0.05 * len(gaps)
    assert max(len(ds) for ds in days.values()) >= 45          # weekly for a year, for someone of high risk


def test_village_history_shrinks_for_very_large_ledgers():
    assert demo.default_village_days(2000) == demo.default_village_days(demo.FULL_YEAR_UP_TO) == 365
    assert demo.default_village_days(demo.FULL_YEAR_UP_TO + 1) == demo.RECENT_DAYS == 30
