"""Expression functions: results, edges (Feb 29, month ends, quarters), None on missing data."""
from __future__ import annotations

from datetime import date, datetime

import pytest

from core import dates
from core.plugins import build_registry, load_plugins
from plugins import functions as f
from plugins.cn.divisions import DivisionFile

D = date


@pytest.fixture(scope="module")
def registry():
    return build_registry(load_plugins())


def test_registered_through_the_hook(registry):
    for name in f.FUNCTIONS:
        assert registry.functions[name] is f.FUNCTIONS[name]
        assert registry.provided_by[f"function:{name}"] == "plugins.functions"
    for name in ("cn-resident-id", "phone", "division"):
        assert registry.provided_by[f"field_type:{name}"] == "plugins.cn_types"
    for name in ("cn-resident-id", "cn-phone", "cn-division"):
        assert registry.formats[name].message


@pytest.mark.parametrize("birth,on,age", [
    ("1966-12-01", "2026-11-30", 59),
    ("1966-12-01", "2026-12-01", 60),
    (D(1964, 2, 29), D(2023, 2, 28), 58),
    (D(1964, 2, 29), D(2023, 3, 1), 59),
    (D(1964, 2, 29), D(2024, 2, 29), 60),
    (datetime(1966, 12, 1, 9, 30), "2026-12-01T08:00:00+08:00", 60),
])
def test_age_on(birth, on, age):
    assert f.age_on(birth, on) == age


def test_age_on_defaults_to_today():
    born = f.add_months(dates.today(), -12 * 70)           # the pinned day (conftest.py)
    assert f.age_on(born) == 70


def test_id_functions():
    assert f.id_birth_date("11010519491231002X") == D(1949, 12, 31)
    assert f.id_sex("11010519491231002X") == "女"
    assert f.id_sex("120107193801010032") == "男"
    assert f.id_sex("11010519491231002x") == "女"          # normalised on the way in
    assert f.id_age("120107193801010032", "2026-11-30") == 88
    assert f.id_age("120109195006070054", D(2010, 6, 6)) == 59
    assert f.id_age("120109195006070054", D(2010, 6, 7)) == 60
    assert f.id_birth_date("110105491231002") == D(1949, 12, 31)   # legacy 15 digits


@pytest.mark.parametrize("a,b,n", [
    ("2026-05-15", "2026-11-14", 5),
    ("2026-05-15", "2026-11-15", 6),     # exactly six months
    ("2026-05-31", "2026-11-30", 6),     # month end to month end (31 May + 6 months = 30 Nov)
    ("2026-05-31", "2026-11-29", 5),
    ("2026-05-30", "2026-11-30", 6),
    ("2024-02-29", "2025-02-28", 12),    # leap day + 12 months clamps to 28 Feb
    ("2024-02-29", "2025-02-27", 11),
    ("2026-01-31", "2026-02-28", 1),
    ("2026-01-31", "2026-02-27", 0),
    ("2026-11-30", "2026-11-30", 0),
    ("2025-12-15", "2026-01-14", 0),     # across the year
    ("2025-12-15", "2026-01-15", 1),
    ("2026-11-15", "2026-05-15", -6),    # reversed: negative
])
def test_months_between(a, b, n):
    assert f.months_between(a, b) == n


def test_months_between_agrees_with_add_months():
    start = D(2023, 1, 31)
    for days in range(0, 800, 7):
        end = f.add_days(start, days)
        n = f.months_between(start, end)
        assert f.add_months(start, n) <= end < f.add_months(start, n + 1)


def test_days_between():
    assert f.days_between("2024-02-28", "2024-03-01") == 2
    assert f.days_between("2023-02-28", "2023-03-01") == 1
    assert f.days_between(D(2026, 12, 31), D(2026, 1, 1)) == -364


@pytest.mark.parametrize("d,q", [
    ("2026-01-01", "2026Q1"), ("2026-03-31", "2026Q1"), ("2026-04-01", "2026Q2"),
    ("2026-09-30", "2026Q3"), ("2026-10-01", "2026Q4"), ("2026-12-31", "2026Q4"),
])
def test_quarter_of(d, q):
    assert f.quarter_of(d) == q


@pytest.mark.parametrize("q,start,end", [
    ("2026Q1", D(2026, 1, 1), D(2026, 3, 31)),
    ("2026Q2", D(2026, 4, 1), D(2026, 6, 30)),
    ("2026Q3", D(2026, 7, 1), D(2026, 9, 30)),
    ("2026q4", D(2026, 10, 1), D(2026, 12, 31)),
    (D(2026, 11, 30), D(2026, 10, 1), D(2026, 12, 31)),   # a date stands for its quarter
])
def test_quarter_bounds(q, start, end):
    assert f.quarter_start(q) == start
    assert f.quarter_end(q) == end
    assert f.quarter_of(f.quarter_start(q)) == f.quarter_of(f.quarter_end(q))


def test_quarter_bounds_refuse_nonsense():
    assert f.quarter_start("2026Q5") is None
    assert f.quarter_end("第四季度") is None


@pytest.mark.parametrize("d,n,out", [
    ("2026-05-31", 6, D(2026, 11, 30)),
    ("2026-01-31", 1, D(2026, 2, 28)),
    ("2024-01-31", 1, D(2024, 2, 29)),
    ("2024-02-29", 12, D(2025, 2, 28)),
    ("2024-02-29", 48, D(2028, 2, 29)),
    ("2026-11-30", 2, D(2027, 1, 30)),
    ("2026-03-31", -1, D(2026, 2, 28)),
    ("2026-01-15", -1, D(2025, 12, 15)),
])
def test_add_months(d, n, out):
    assert f.add_months(d, n) == out


def test_add_days_and_year_of():
    assert f.add_days("2024-02-28", 1) == D(2024, 2, 29)
    assert f.add_days("2023-02-28", 1) == D(2023, 3, 1)
    assert f.add_days(D(2026, 12, 31), 1) == D(2027, 1, 1)
    assert f.add_days("2026-01-01", -1) == D(2025, 12, 31)
    assert f.year_of("2026-11-30") == 2026
    assert f.add_months("2026-01-01", 1.5) is None
    assert f.add_days("2026-01-01", "3") is None


def test_divisions_and_masks(tmp_path, registry):
    division_name, town_of = registry.functions["division_name"], registry.functions["town_of"]
    assert division_name("120116157201") == "渡口村"
    assert division_name("120116157000") == "小王庄镇"
    assert division_name("120116999999") is None
    assert town_of("120116158205") == "120116158000"
    assert town_of("120116158000") is None
    assert f.mask_id("120107193801010032") == "120107********0032"
    assert f.mask_phone("13812345678") == "138****5678"
    elsewhere = f.division_functions(DivisionFile(tmp_path))   # no division file there: None
    assert elsewhere["division_name"]("120116157201") is None
    assert elsewhere["town_of"]("120116157201") is None


@pytest.mark.parametrize("name,args", [
    ("age_on", (None, "2026-01-01")), ("age_on", ("1950-01-01", None)),
    ("age_on", ("不是日期", "2026-01-01")), ("age_on", ("2030-01-01", "2026-01-01")),
    ("id_birth_date", (None,)), ("id_birth_date", ("110105194912310021",)),
    ("id_sex", ("",)), ("id_age", (None, "2026-01-01")), ("id_age", ("11010519491231002X", None)),
    ("months_between", (None, "2026-01-01")), ("months_between", ("2026-01-01", "2026-13-01")),
    ("days_between", ("2026-01-01", None)), ("quarter_of", (None,)), ("quarter_of", (42,)),
    ("quarter_start", (None,)), ("quarter_end", ("",)),
    ("add_months", (None, 1)), ("add_months", ("2026-01-01", None)),
    ("add_days", ("x", 1)), ("year_of", (None,)), ("division_name", (None,)),
    ("town_of", (None,)), ("mask_id", (None,)), ("mask_phone", (None,)),
])
def test_missing_or_unreadable_input_gives_none(name, args, registry):
    assert registry.functions[name](*args) is None
