"""The issue's "done means": on a 5,000-person demo ledger, `carebook report summary` agrees with
an independent count of the stored records.

The summary is computed by `core/reports.py` from the expressions in `forms/summary.yaml`; this
test counts the same 31 columns again in plain Python from the definitions in the domain notes
(annex 3), reading the stored records through `Engine.iter_records` only, and compares every
town's row and the total as the CLI prints them (`--json`). A drift between the form file, the
report builder and what the columns are meant to count shows up here as a named cell.

Generating 5,000 validated people takes most of a minute, so the ledger is made once for the
module with the visit history cut down (one quarter of town visits, a week of village visits):
enough visits of both levels to check columns 28–29, not a year of them.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))   # tests/ helpers under --import-mode=importlib

import pytest

from binhai_support import TODAY, copy_forms
from core import demo
from core.engine import Engine

ROOT = Path(__file__).resolve().parent.parent
PERSONS = 5000
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


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    root = tmp_path_factory.mktemp("scale")
    forms, data = copy_forms(root), root / "data"
    eng = Engine.open(data, forms_dir=forms, operator="测试员")
    try:
        counts = demo.generate(eng, persons=PERSONS, seed=21, as_of=TODAY, village_days=7, town_quarters=1)
    finally:
        eng.close()
    return data, forms, counts


def summary_json(data: Path, forms: Path, quarter: str) -> dict:
    res = subprocess.run([sys.executable, "-m", "core.cli", "--data", str(data), "--forms", str(forms),
                          "report", "summary", "--quarter", quarter, "--as-of", TODAY.isoformat(), "--json"],
                         cwd=ROOT, capture_output=True, text=True, encoding="utf-8", env=dict(os.environ), timeout=300)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    return json.loads(res.stdout)


def test_summary_totals_equal_an_independent_count_of_5000_people(ledger):
    data, forms, made = ledger
    assert made["registration"] == PERSONS and made["visit"] > 5000
    previous = quarter_of(TODAY)[1] - dt.timedelta(days=1)
    eng = Engine.open(data, forms_dir=forms, readonly=True)
    try:
        for day in (TODAY, previous):            # this quarter (visits, people so far) and a closed one
            quarter = quarter_of(day)[0]
            printed = summary_json(data, forms, quarter)
            expected = independent_count(eng, day, TODAY)
            keys = [c["key"] for c in printed["columns"] if c["key"] != "unit"]
            assert keys == [f"c{i}" for i in range(1, 32)]
            assert printed["checks"] == []
            assert printed["period"] == quarter
            for row in printed["rows"]:
                want = expected.pop(row["unit_code"], {})
                assert {k: row[k] for k in keys} == {k: want.get(k, 0) for k in keys}, (quarter, row["unit"])
            assert not expected, f"{quarter}: people or visits in towns the summary has no row for: {list(expected)}"
            total = {k: sum(r[k] for r in printed["rows"]) for k in keys}
            assert {k: printed["total"][k] for k in keys} == total
            if day == TODAY:                     # the check is not vacuous: every kind of column counts someone
                assert total["c1"] > 0.7 * PERSONS and total["c28"] > 0 and total["c29"] > 0
                assert all(total[k] > 0 for k in keys), total
    finally:
        eng.close()
