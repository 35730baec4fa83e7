"""The quarterly summary (annex 3): counts equal an independent count, identities are checked."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))   # tests/ helpers under --import-mode=importlib
import datetime as dt

import pytest

from binhai_support import TODAY, TOWN, copy_forms, edit, open_engine, person
from core.transfer import demo
from demo_cache import binhai_demo
from summary_count import assert_rows_match, independent_count

Q = f"{TODAY.year}Q{(TODAY.month - 1) // 3 + 1}"


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    root = tmp_path_factory.mktemp("summary")
    forms, _ = binhai_demo(root, persons=300, seed=7, as_of=TODAY, village_days=30)   # this quarter's visits suffice
    eng = open_engine(root, forms)
    yield eng
    eng.close()


def test_counts_equal_an_independent_count(ledger):
    rep = ledger.report("summary", quarter=Q, as_of=TODAY)
    assert rep.period == Q and rep.checks == []
    total = assert_rows_match(rep.rows, rep.total, independent_count(ledger, TODAY, TODAY), Q)
    assert total["c1"] > 150 and total["c28"] > 0 and total["c29"] > 0


def test_every_town_has_a_row_and_the_total_adds_up(ledger):
    rep = ledger.report("summary", quarter=Q, as_of=TODAY)
    towns = [t.code for t in ledger.divisions.towns()]
    assert [r["unit_code"] for r in rep.rows] == towns
    for key in (f"c{i}" for i in range(1, 32)):
        assert rep.total[key] == sum(r[key] for r in rep.rows)
    assert [c.number for c in rep.columns[1:]] == [str(i) for i in range(1, 32)]
    assert rep.columns[2].groups == ("性别",) and rep.columns[2].label == "男"


def test_by_village_rows_sum_to_the_town_row(ledger):
    whole = {r["unit_code"]: r for r in ledger.report("summary", quarter=Q, as_of=TODAY).rows}
    town = next(code for code, r in whole.items() if r["c1"] > 0)
    rep = ledger.report("summary", quarter=Q, town=town, by_village=True, as_of=TODAY)
    assert rep.columns[0].label == "村（居）委会"
    assert {r["unit_code"][:9] for r in rep.rows} == {town[:9]}
    assert rep.total["c1"] == whole[town]["c1"] and rep.total["c28"] == whole[town]["c28"]
    assert rep.checks == []




def test_due_is_15th_of_last_month_and_late_after_it(tmp_path):
    eng = open_engine(tmp_path)
    on_time = eng.report("summary", quarter="2025Q3", as_of=dt.date(2025, 9, 15))
    assert (on_time.due, on_time.late, on_time.period) == ("2025-09-15", False, "2025Q3")
    late = eng.report("summary", quarter="2025Q3", as_of=dt.date(2025, 9, 16))
    assert late.late and late.date == "2025-09-16"
    after = eng.report("summary", quarter="2025Q3", as_of=dt.date(2025, 11, 1))
    assert after.date == "2025-09-30"          # counted at the quarter's end


def test_exits_and_new_people_count_in_their_quarter(tmp_path):
    eng = open_engine(tmp_path)
    eng.save("registration", person(filing=dt.date(2025, 8, 1)))
    eng.save("registration", person(filing=dt.date(2025, 2, 1), status="退出", exit_reason="死亡",
                                    exit_date="2025-08-10"))
    q3 = eng.report("summary", quarter="2025Q3", as_of=dt.date(2025, 9, 1))
    row = next(r for r in q3.rows if r["unit_code"] == TOWN)
    assert (row["c1"], row["c30"], row["c31"]) == (1, 1, 1)
    q2 = eng.report("summary", quarter="2025Q2", as_of=dt.date(2025, 9, 1))
    row = next(r for r in q2.rows if r["unit_code"] == TOWN)
    assert (row["c1"], row["c30"], row["c31"]) == (1, 0, 0)   # on the ledger at 30 June


def test_a_broken_identity_is_reported_by_row_and_identity(tmp_path):
    forms = copy_forms(tmp_path)
    edit(forms / "summary.yaml", "label: 女, count: \"sex == '女'\"",
         "label: 女, count: \"sex == '女' and risk_level == '高'\"")
    eng = open_engine(tmp_path, forms)
    eng.save("registration", person(sex="女"))
    rep = eng.report("summary", quarter=Q, as_of=TODAY)
    msgs = [p.message for p in rep.checks]
    assert any(m.startswith("小王庄镇：表内勾稽关系不成立：第1栏 = 第2栏 + 第3栏") and "第1栏=1" in m for m in msgs)
    assert any(m.startswith("合计：") and "(c1 == c2 + c3)" in m for m in msgs)
    assert all(p.rule == "identity" for p in rep.checks)


def test_the_summary_does_not_keep_every_visit_row_in_memory(tmp_path):
    """Counting a quarter's visits reads each village's visit list once and keeps none of it:
    loaded whole, 300,000 visit rows stayed in memory (~300 MB) for the rest of the session."""
    from core.engine import Engine

    eng = open_engine(tmp_path)
    demo.generate(eng, persons=60, seed=3, as_of=TODAY, village_days=30)
    data = eng.data_dir
    eng.close()
    eng = Engine.open(data, tmp_path / "forms", readonly=True)
    try:
        rep = eng.report("summary", quarter=Q, as_of=TODAY)
        assert rep.checks == [] and any(v for v in rep.total.values() if isinstance(v, int))
        assert "visit" not in eng.store._tables
    finally:
        eng.close()
