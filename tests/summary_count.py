"""An independent count of the quarterly summary's 31 columns, straight from the stored records.

The summary is computed by `core/reporting/reports.py` from the expressions in `forms/summary.yaml`; the
tests count the same columns again in plain Python from the definitions in the domain notes
(annex 3), reading only `Engine.iter_records`, so a drift between the form file, the report
builder and what a column is meant to count shows up as a named cell.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict

from core.engine import Engine

KEYS = [f"c{i}" for i in range(1, 32)]
HARD_UP = ("特困供养", "低保", "低收入")
LIVING = ("独居", "与配偶同住", "与孙辈同住")


def quarter_of(day: dt.date) -> tuple[str, dt.date, dt.date]:
    q = (day.month - 1) // 3 + 1
    start = dt.date(day.year, 3 * q - 2, 1)
    end = (dt.date(day.year + (q == 4), 1 if q == 4 else 3 * q + 1, 1)) - dt.timedelta(days=1)
    return f"{day.year}Q{q}", start, end


def age_on(id_number: str, day: dt.date) -> int:
    """Whole years on `day`, from the birth date inside the ID number."""
    born = dt.date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def in_base(p: dict, report_date: dt.date) -> bool:
    """Counted in the quarter: a left-behind elder filed by the report date and not yet exited then."""
    iso = report_date.isoformat()
    return (p.get("eligible") == "是" and p["filing_date"] <= iso
            and (p.get("status") != "退出" or bool(p.get("exit_date")) and p["exit_date"] > iso))


def person_columns(p: dict, report_date: dt.date, settings: dict) -> set[str]:
    """Columns 1–27 a person in the base counts in (annex 3 of the domain notes)."""
    age = age_on(p["id_number"], report_date)
    mid, old = settings["middle_age"], settings["advanced_age"]
    hit = {"c1": True,
           "c2": p.get("sex") == "男", "c3": p.get("sex") == "女",
           "c4": age < mid, "c5": mid <= age < old, "c6": age >= old,
           "c7": p.get("self_care") == "自理", "c8": p.get("self_care") == "半失能", "c9": p.get("self_care") == "失能",
           "c10": p.get("economic_status") == "特困供养", "c11": p.get("economic_status") == "低保",
           "c12": p.get("economic_status") == "低收入", "c13": p.get("economic_status") == "一般",
           "c14": p.get("health_status") == "健康", "c15": p.get("health_status") == "患病",
           "c16": p.get("health_status") == "残疾",
           "c17": p.get("living_arrangement") == "独居", "c18": p.get("living_arrangement") == "与配偶同住",
           "c19": p.get("living_arrangement") == "与孙辈同住", "c20": p.get("living_arrangement") not in LIVING,
           "c21": p.get("has_caregiver") == "是", "c22": p.get("has_caregiver") != "是",
           "c23": p.get("risk_level") == "高", "c24": p.get("risk_level") == "中",
           "c25": p.get("risk_level") not in ("高", "中"),
           "c26": age >= old and p.get("economic_status") in HARD_UP,
           "c27": p.get("self_care") == "失能" and p.get("economic_status") in HARD_UP}
    return {k for k, v in hit.items() if v}


def independent_count(eng: Engine, day: dt.date, as_of: dt.date) -> dict[str, dict[str, int]]:
    """{town code: {column: count}} straight from the stored records."""
    _, q_start, q_end = quarter_of(day)
    report_date = min(as_of, q_end)
    lo, hi = q_start.isoformat(), q_end.isoformat()
    settings = eng.form("registration").settings
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for rec in eng.iter_records("registration"):
        p = rec["data"]
        row = counts[p["town"]]
        if in_base(p, report_date):
            for key in person_columns(p, report_date, settings):
                row[key] += 1
        if p.get("eligible") == "是" and lo <= p["filing_date"] <= hi:
            row["c30"] += 1
        if p.get("eligible") == "是" and p.get("status") == "退出" and lo <= (p.get("exit_date") or "") <= hi:
            row["c31"] += 1
    for rec in eng.iter_records("visit"):
        v = rec["data"]
        if lo <= v["visit_date"] <= hi:
            counts[v["town"]][{"村委会": "c28", "街镇": "c29"}.get(v["visit_level"], "other")] += 1
    return counts


def assert_rows_match(rows: list[dict], total: dict, expected: dict[str, dict[str, int]], what: str) -> dict[str, int]:
    """Every unit row equals the independent count (units with nobody are all 0), every person or
    visit falls in some row, and the total row is the column sums; returns the total."""
    expected = {code: dict(counts) for code, counts in expected.items()}
    for row in rows:
        want = expected.pop(row["unit_code"], {})
        assert {k: row[k] for k in KEYS} == {k: want.get(k, 0) for k in KEYS}, (what, row["unit"])
    assert not expected, f"{what}: records in units the summary has no row for: {list(expected)}"
    sums = {k: sum(r[k] for r in rows) for k in KEYS}
    assert {k: total[k] for k in KEYS} == sums, what
    return sums
