"""Shared pieces of the Binhai ledger tests: a real engine over a copy of the shipped forms.

Every test gets its own copy of `forms/` so an admin-style edit (a setting flipped, a column
added) changes only that test's engine, and its own data folder with real TinyDB files.
"""
from __future__ import annotations

import datetime as dt
import random
import re
import shutil
from pathlib import Path

from core import dates
from core.transfer.demo import make_id
from core.engine import Engine

FORMS = Path(__file__).resolve().parent.parent / "forms"
TODAY = dates.today()        # the run's pinned day (conftest.py)
TOWN, VILLAGE = "120116157000", "120116157201"          # 小王庄镇 渡口村
TOWN2, VILLAGE2 = "120116156000", "120116156201"        # 太平镇 太平村


def copy_forms(tmp_path: Path) -> Path:
    dest = tmp_path / "forms"
    shutil.copytree(FORMS, dest)
    return dest


def open_engine(tmp_path: Path, forms: Path | None = None) -> Engine:
    return Engine.open(tmp_path / "data", forms_dir=forms or copy_forms(tmp_path), operator="测试员")


def edit(path: Path, old: str, new: str) -> None:
    """Change a form file the way an admin would: replace one exact piece of text."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} should occur once in {path.name}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def years_before(day: dt.date, years: int) -> dt.date:
    return day.replace(year=day.year - years) if not (day.month == 2 and day.day == 29) \
        else dt.date(day.year - years, 2, 28)


_ids: set[str] = set()


def id_for(birth: dt.date, sex: str = "女", seed: int = 0) -> str:
    return make_id(random.Random(seed + len(_ids)), birth, sex, _ids)


def person(filing: dt.date | None = None, age: int = 65, sex: str = "女", **over) -> dict:
    """A registration that is eligible and of low risk; tests change what they examine."""
    filing = filing or TODAY - dt.timedelta(days=100)
    birth = years_before(filing, age) - dt.timedelta(days=30)
    data = {
        # "-T…": never a number the ledger gives (its sequence numbers are digits only), so a
        # test's person cannot take a number a demo or an autonumbered save already holds
        "file_no": f"{over.get('village', VILLAGE)}-T{len(_ids) + 1:04d}",
        "town": TOWN, "village": VILLAGE, "filing_date": filing.isoformat(), "filler": "李芳",
        "name": "王秀英", "id_number": id_for(birth, sex), "ethnicity": "汉族", "marital": "丧偶",
        "hukou_type": "农业(农村)", "address": "天津市滨海新区小王庄镇渡口村1号",
        "lives_alone": "是", "all_supporters_away": "是",
        "last_left_date": years_before(filing, 2).isoformat(),
        "health_status": "健康", "self_care": "自理", "family_doctor": "否",
        "income_sources": ["城乡居民养老保险金"], "economic_status": "一般",
        "living_arrangement": "独居", "children_count": 1, "housing": "自有", "housing_hazard": "否",
        "has_caregiver": "是", "caregiver_name": "王海", "caregiver_relation": "其他亲属",
        "caregiver_phone": "13812345678",
        "children": [{"child_name": "张伟", "child_relation": "子", "child_whereabouts": "北京市朝阳区",
                      "child_phone": "13900001111", "child_contact": "每周"}],
        "daily_carers": ["自己"], "liaison_name": "赵强", "liaison_phone": "13700002222",
        "status": "在册",
    }
    data.update(over)
    return {k: v for k, v in data.items() if v is not None}   # None: "this field left empty"


def visit(person_id: str, day: dt.date, level: str = "村委会", village: str = VILLAGE, town: str = TOWN) -> dict:
    return {"person": person_id, "person_name": "王秀英", "town": town, "village": village,
            "visit_date": day.isoformat(), "visit_level": level, "visit_method": "入户", "visitor": "赵强",
            "saw_person": "是", "physical": "良好", "mental": "良好", "daily_care": "正常",
            "hazards": ["无"], "referral": "否", "risk_change": "无"}


def set_setting(forms: Path, name: str, value: str) -> None:
    """Change one `settings:` value in registration.yaml, keeping its comment."""
    path = forms / "registration.yaml"
    text = path.read_text(encoding="utf-8")
    new, n = re.subn(rf"(\n  {name}: )\S+", rf"\g<1>{value}", text)
    assert n == 1, name
    path.write_text(new, encoding="utf-8")
