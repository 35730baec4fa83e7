"""The summary's person columns are counted by distinct values (`core.reporting.tallyvalues`);
the report must be the one row-by-row evaluation gives, cell for cell, check for check —
including columns that read a multi choice (lists) and columns that fail on some rows."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))   # tests/ helpers under --import-mode=importlib

import pytest

from binhai_support import TODAY, edit
from core.engine import Engine
from core.formlang.expressions import ExpressionError
from core.reporting import tallyvalues
from demo_cache import binhai_demo

Q = f"{TODAY.year}Q{(TODAY.month - 1) // 3 + 1}"
PAST_Q = f"{TODAY.year - 1}Q{(TODAY.month - 1) // 3 + 1}"


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    root = tmp_path_factory.mktemp("values")
    return root, binhai_demo(root, persons=250, seed=11, as_of=TODAY, village_days=30)[0]


def _report(root: Path, forms: Path, **params) -> tuple:
    with Engine.open(root / "data", forms_dir=forms, readonly=True) as eng:
        rep = eng.report("summary", as_of=TODAY, **params)
        return [dict(r) for r in rep.rows], dict(rep.total), [str(c) for c in rep.checks], rep.notes


def _both_ways(monkeypatch, root: Path, forms: Path, **params) -> tuple:
    by_values = _report(root, forms, **params)
    with monkeypatch.context() as m:
        def row_by_row(*args, **kw):
            raise ExpressionError("row by row")       # what `_count_people` falls back on
        m.setattr(tallyvalues, "Plan", row_by_row)
        by_rows = _report(root, forms, **params)
    return by_values, by_rows


@pytest.mark.parametrize("params", [
    {"quarter": Q}, {"quarter": Q, "by_village": True}, {"quarter": PAST_Q},
    {"quarter": Q, "town": "120116157000", "by_village": True},
], ids=["towns", "villages", "past-quarter", "one-town"])
def test_counted_by_values_equals_counted_row_by_row(ledger, monkeypatch, params):
    root, forms = ledger
    by_values, by_rows = _both_ways(monkeypatch, root, forms, **params)
    assert by_values[1]["c1"] > 10                     # a real table, not two empty ones
    assert by_values == by_rows


def test_list_values_and_failing_columns_count_and_fail_as_row_by_row(ledger, monkeypatch, tmp_path):
    """A column on a multi choice (list values), one that fails on some rows only (division by
    zero when a person has one child), and one whose failure an earlier false part prevents."""
    root, forms = ledger
    new_forms = tmp_path / "forms"
    shutil.copytree(forms, new_forms)
    edit(new_forms / "summary.yaml", '  - {key: c31,',
         '  - {key: c32, number: "32", label: 有养老金, count: "\'城乡居民养老保险金\' in income_sources"}\n'
         '  - {key: c33, number: "33", label: 坏列, count: "100 / (children_count - 1) > 10"}\n'
         '  - {key: c34, number: "34", label: 有条件的坏列, count: "sex == \'男\' and 100 / (children_count - 1) > 10"}\n'
         '  - {key: c31,')
    by_values, by_rows = _both_ways(monkeypatch, root, new_forms, quarter=Q, by_village=True)
    assert by_values == by_rows
    total, checks = by_values[1], by_values[2]
    assert total["c32"] > 0 and total["c33"] > 0
    assert any("第33栏" in c and "无法计算" in c for c in checks)
    assert any("第34栏" in c and "无法计算" in c for c in checks)
    n33 = next(c for c in checks if "第33栏" in c)
    n34 = next(c for c in checks if "第34栏" in c)
    assert n33 != n34                                  # fewer rows fail when 男 comes first
