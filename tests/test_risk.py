"""Every rule of the shipped risk rule set (domain §6), first match wins, overridable."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))   # tests/ helpers under --import-mode=importlib
import pytest

from binhai_support import open_engine, person

CONTACT_RARELY = [{"child_name": "张伟", "child_relation": "子", "child_whereabouts": "北京市朝阳区",
                   "child_phone": "13900001111", "child_contact": "很少"}]
CONTACT_QUARTERLY = [dict(CONTACT_RARELY[0], child_contact="每季度")]
NO_CAREGIVER = dict(has_caregiver="否", caregiver_name=None, caregiver_relation=None, caregiver_phone=None)

CASES = [
    ({}, "低", "其他情况"),
    ({"self_care": "失能"}, "高", "失能"),
    ({"age": 80}, "高", "高龄（80周岁及以上）"),
    ({"health_status": "患病", "diseases": ["恶性肿瘤"], "serious_illness": "是"}, "高", "患危及生命的重大疾病"),
    ({"health_status": "残疾", "disability_type": "肢体", "disability_grade": "二级"}, "高", "重度残疾（一、二级）"),
    ({"economic_status": "低保", "self_care": "半失能"}, "高", "特困或低保且半失能"),
    ({**NO_CAREGIVER, "children": CONTACT_RARELY}, "高", "无委托照顾人且子女很少联系或失联"),
    ({"housing_hazard": "是", "hazard_detail": "房屋墙体开裂"}, "高", "住房或安全隐患未消除"),
    ({"self_care": "半失能"}, "中", "半失能"),
    ({"age": 79}, "中", "70至79周岁"),
    ({"age": 70}, "中", "70至79周岁"),
    ({"economic_status": "低收入"}, "中", "经济困难"),
    ({"health_status": "患病", "diseases": ["高血压"]}, "中", "患慢性病"),
    ({**NO_CAREGIVER}, "中", "无委托照顾人"),
    ({"children": CONTACT_QUARTERLY}, "中", "子女联系少于每月一次"),
    ({"children": CONTACT_RARELY}, "中", "子女联系少于每月一次"),   # rarely, but a caregiver is there
    ({"age": 69, "health_status": "残疾", "disability_type": "听力", "disability_grade": "四级"}, "低", "其他情况"),
]


@pytest.fixture(scope="module")
def eng(tmp_path_factory):
    e = open_engine(tmp_path_factory.mktemp("risk"))
    yield e
    e.close()


@pytest.mark.parametrize("change,level,reason", CASES, ids=[c[2] + str(i) for i, c in enumerate(CASES)])
def test_rule(eng, change, level, reason):
    change = dict(change)
    age = change.pop("age", 65)
    data = person(age=age, **change)
    computed, reasons = eng.compute("registration", data)
    assert (computed["risk_level"], reasons["risk_level"]) == (level, reason)
    assert [p for p in eng.validate("registration", computed) if p.is_error] == []


def test_first_match_wins(eng):
    computed, reasons = eng.compute("registration", person(age=85, self_care="失能"))
    assert reasons["risk_level"] == "失能"


def test_override_needs_a_reason_and_is_kept(eng):
    data = person(self_care="半失能")
    saved = eng.save("registration", data, overrides={"risk_level": {"value": "高", "reason": "独居且近期跌倒"}})
    stored = eng.get(saved.id)
    assert stored["data"]["risk_level"] == "高"
    assert stored["meta"]["overrides"]["risk_level"]["reason"] == "独居且近期跌倒"
