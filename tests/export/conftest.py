"""Shared inputs for the exporter tests (fixtures; `--import-mode=importlib` forbids imports
between test modules).

The inputs are real: the shipped registration form loaded by the engine, records in the
stored-record shape of docs/design.md, `Report` objects as the report builders make them,
and the benchmark's synthetic Chinese roster rows.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from core.engine import Engine
from core.problems import Problem
from core.reporting.reportmodel import Column, Report

# bench/ is not an installed package; `.venv/bin/pytest` does not put the project root on
# sys.path, so the benchmark's row generator is reached this way.
ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

ID_1 = "120107193801010032"
ID_2 = "12010819451120004X"
VILLAGE = "120116009201"


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    eng = Engine.open(tmp_path_factory.mktemp("data"), operator="测试员")
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def reg_form(engine):
    return engine.form("registration")


def sample_records() -> list[dict]:
    """Two people in the stored-record shape; one has two children, one an entrusted carer."""
    base = {"form": "registration", "version": 1, "created": "2026-11-01T09:00:00+08:00",
            "updated": "2026-11-02T10:00:00+08:00", "operator": "张三", "partition": VILLAGE, "meta": {}}
    return [
        {**base, "id": "6f1c2a40-0000-4000-8000-000000000001", "data": {
            "file_no": f"{VILLAGE}-0001", "town": "120116009000", "village": VILLAGE, "name": "王秀兰",
            "id_number": ID_1, "sex": "男", "age": 88, "address": "天津市滨海新区北塘街道幸福路8号",
            "phone": "13812345678", "lives_alone": "是", "diseases": ["高血压", "糖尿病"],
            "health_status": "患病", "risk_level": "高", "has_caregiver": "否", "status": "在册",
            "children": [
                {"child_name": "王强", "child_relation": "子", "child_whereabouts": "广东省深圳市",
                 "child_phone": "13900001111", "child_id_number": "120107196501010012"},
                {"child_name": "王丽", "child_relation": "女", "child_whereabouts": "北京市朝阳区",
                 "child_phone": "13700002222"},
            ]}},
        {**base, "id": "6f1c2a40-0000-4000-8000-000000000002", "data": {
            "file_no": f"{VILLAGE}-0002", "town": "120116009000", "village": VILLAGE, "name": "李桂英",
            "id_number": ID_2, "sex": "女", "age": 81, "address": "天津市滨海新区北塘街道和平里3号",
            "phone": "", "has_caregiver": "是", "caregiver_name": "张大姐", "caregiver_phone": "15800001234",
            "risk_level": "中", "status": "在册", "children": []}},
    ]


def summary_report() -> Report:
    """A town summary in the annex-3 shape: grouped, numbered columns, a total and a failed check."""
    cols = [Column("unit", "单位", width=10), Column("total", "留守老年人总数", number="1", kind="int"),
            Column("male", "男", groups=("性别",), number="2", kind="int"),
            Column("female", "女", groups=("性别",), number="3", kind="int"),
            Column("a60", "60–69岁", groups=("年龄",), number="4", kind="int"),
            Column("a70", "70–79岁", groups=("年龄",), number="5", kind="int"),
            Column("a80", "80岁及以上", groups=("年龄",), number="6", kind="int"),
            Column("v_village", "村委会", groups=("本季度探访人次",), number="28", kind="int"),
            Column("v_town", "街镇", groups=("本季度探访人次",), number="29", kind="int")]
    rows = [{"unit": "北塘街道", "total": 12, "male": 5, "female": 7, "a60": 3, "a70": 4, "a80": 5, "v_village": 36, "v_town": 12},
            {"unit": "新城镇", "total": 9, "male": 4, "female": 5, "a60": 2, "a70": 3, "a80": 4, "v_village": 27, "v_town": 9}]
    total = {"unit": "合计", "total": 21, "male": 9, "female": 12, "a60": 5, "a70": 7, "a80": 9, "v_village": 63, "v_town": 21}
    return Report(name="summary", title="天津市滨海新区农村留守老年人基本情况排查汇总表", columns=cols,
                  rows=iter(rows), total=total, unit="滨海新区民政局", date="2026-12-10", period="2026Q4",
                  due="2026-12-15", checks=[Problem("新城镇：第1栏不等于第4至6栏之和", severity="warning")])


def two_level_columns() -> list[Column]:
    return [Column("a", "序号"), Column("b", "子1", groups=("甲", "乙")), Column("c", "子2", groups=("甲", "乙")),
            Column("d", "子3", groups=("甲",)), Column("e", "备注")]




@pytest.fixture
def records() -> list[dict]:
    return sample_records()


@pytest.fixture
def summary() -> Report:
    return summary_report()


@pytest.fixture
def roster():
    """`roster(n)` -> a roster Report whose rows are generated lazily."""
    from bench.bench_export import roster_report

    return roster_report


@pytest.fixture
def consts():
    return {"ID_1": ID_1, "ID_2": ID_2, "VILLAGE": VILLAGE}
