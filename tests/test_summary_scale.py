"""The issue's "done means": on a 5,000-person demo ledger, `carebook report summary` agrees with
an independent count of the stored records.

The CLI's `--json` rows and total are compared cell by cell, town by town, with the count in
`summary_count.py` (plain Python over `Engine.iter_records`, not through `core/reporting/reports.py`).

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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))   # tests/ helpers under --import-mode=importlib

import pytest

from binhai_support import TODAY, copy_forms
from core.transfer import demo
from core.engine import Engine
from summary_count import KEYS, assert_rows_match, independent_count, quarter_of

ROOT = Path(__file__).resolve().parent.parent
PERSONS = 5000


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
            assert [c["key"] for c in printed["columns"]] == ["unit", *KEYS]
            assert (printed["period"], printed["checks"]) == (quarter, [])
            total = assert_rows_match(printed["rows"], printed["total"], independent_count(eng, day, TODAY), quarter)
            if day == TODAY:                     # the check is not vacuous: the columns count someone
                assert total["c1"] > 0.7 * PERSONS
                # Demo elders living with a spouse (couple_counts_as_alone is false), grandchildren or
                # other relatives do not live on their own, so none is counted: columns 18–20 stay 0.
                assert [k for k in KEYS if total[k] == 0] == ["c18", "c19", "c20"], total
    finally:
        eng.close()
