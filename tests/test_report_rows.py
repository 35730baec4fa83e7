"""The summary counts list rows held in memory, and gets the same answer as from the records.

The fields the summary, the schedule and the roster's `where` read are kept in every list row
(`Engine.row_fields`, worked out from the form files). These tests prove the two ways agree on
a seeded demo, and that a field declared after rows were written (rows without it) is still
counted right, by reading those records.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))   # tests/ helpers under --import-mode=importlib

import pytest

from binhai_support import TODAY, edit
from core.engine import Engine
from core.reporting import columncache, rowfields
from demo_cache import binhai_demo

Q = f"{TODAY.year}Q{(TODAY.month - 1) // 3 + 1}"


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    root = tmp_path_factory.mktemp("rows")
    return root, binhai_demo(root, persons=250, seed=5, as_of=TODAY, village_days=30)[0]


def _summary(root: Path, forms: Path, by_village: bool = False):
    with Engine.open(root / "data", forms_dir=forms, operator="测试员", readonly=True) as eng:
        rep = eng.report("summary", quarter=Q, as_of=TODAY, by_village=by_village)
        return [dict(r) for r in rep.rows], dict(rep.total), [str(c) for c in rep.checks]


def test_rows_carry_every_field_the_summary_reads(ledger):
    root, forms = ledger
    with Engine.open(root / "data", forms_dir=forms, readonly=True) as eng:
        declared = eng.row_fields("registration")
        assert {"self_care", "economic_status", "health_status", "living_arrangement",
                "has_caregiver", "birth_date"} <= declared
        rows = list(eng.index("registration").rows.values())
    assert rows and all(rowfields.carries(r, declared) for r in rows)


@pytest.mark.parametrize("by_village", [False, True])
def test_summary_from_rows_equals_summary_from_records(ledger, monkeypatch, by_village):
    root, forms = ledger

    def no_records(self, *args, **kw):
        raise AssertionError("the summary read full records although every row carries its fields")
    with monkeypatch.context() as m:
        m.setattr(Engine, "iter_records", no_records)
        from_rows = _summary(root, forms, by_village)
    assert from_rows[1]["c1"] > 100          # a real count, not an empty table
    monkeypatch.setattr(rowfields, "carries", lambda row, fields: False)   # every row "stale"
    monkeypatch.setattr(columncache, "columns", lambda *a, **kw: None)     # and no column cache
    assert _summary(root, forms, by_village) == from_rows


def test_a_column_on_a_field_rows_do_not_carry_yet_is_counted_from_records(ledger, tmp_path):
    root, forms = ledger
    new_forms = tmp_path / "forms"
    import shutil
    shutil.copytree(forms, new_forms)
    edit(new_forms / "summary.yaml", '  - {key: c31,',
         '  - {key: c32, number: "32", groups: [文化], label: 文盲, count: "education == \'文盲\'"}\n  - {key: c31,')
    with Engine.open(root / "data", forms_dir=new_forms, readonly=True) as eng:
        assert "education" in eng.row_fields("registration")
        stored = list(eng.index("registration").rows.values())
        assert not any("education" in r for r in stored)       # written before the column existed
        expected = sum(1 for rec in eng.iter_records("registration")
                       if rec["data"].get("education") == "文盲" and rec["data"].get("eligible") == "是"
                       and rec["data"].get("status") != "退出")
        rep = eng.report("summary", quarter=Q, as_of=TODAY)
    assert rep.total["c32"] == expected > 0


def test_due_list_from_rows_in_memory_equals_due_list_read_from_files(ledger, monkeypatch):
    root, forms = ledger
    with Engine.open(root / "data", forms_dir=forms, readonly=True, today=lambda: TODAY) as eng:
        assert not eng.index_loaded("registration")
        from_files = eng.visits_due(as_of=TODAY)        # the column cache (tests/test_columncache.py)
    with Engine.open(root / "data", forms_dir=forms, readonly=True, today=lambda: TODAY) as eng:
        monkeypatch.setattr(columncache, "columns", lambda *a, **kw: None)
        eng.index("registration")
        eng.index("visit")
        held = eng.visits_due(as_of=TODAY)
        summary_held = eng.report("summary", quarter=Q, as_of=TODAY).total
    assert len(from_files) > 20 and held == from_files
    assert summary_held == _summary(root, forms)[1]
