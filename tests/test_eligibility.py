"""The 留守 definition of domain §1 as the shipped registration form computes it, at its edges."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))   # tests/ helpers under --import-mode=importlib
import datetime as dt

from binhai_support import TODAY, copy_forms, open_engine, person, set_setting, years_before
from core.dates import add_months


def eligible(eng, data):
    computed, reasons = eng.compute("registration", data)
    return computed.get("eligible"), reasons.get("eligible")


def test_typical_person_is_eligible(tmp_path):
    eng = open_engine(tmp_path)
    assert eligible(eng, person()) == ("是", "符合农村留守老年人认定条件")


def test_age_is_taken_on_the_filing_date_to_the_day(tmp_path):
    eng = open_engine(tmp_path)
    filing = TODAY - dt.timedelta(days=40)
    sixty = years_before(filing, 60)
    young = person(filing=filing, id_number=None)
    from binhai_support import id_for
    young["id_number"] = id_for(sixty + dt.timedelta(days=1))          # 59 years 364 days
    assert eligible(eng, young) == ("否", "未满60周岁")
    exact = person(filing=filing)
    exact["id_number"] = id_for(sixty)                                  # 60th birthday that day
    assert eligible(eng, exact)[0] == "是"


def test_away_exactly_six_months_counts_one_day_less_does_not(tmp_path):
    eng = open_engine(tmp_path)
    filing = TODAY - dt.timedelta(days=10)
    left = add_months(filing, -6)
    assert eligible(eng, person(filing=filing, last_left_date=left.isoformat()))[0] == "是"
    short = person(filing=filing, last_left_date=(left + dt.timedelta(days=1)).isoformat())
    assert eligible(eng, short) == ("否", "赡养人离津未满6个月")


def test_one_child_still_in_tianjin(tmp_path):
    eng = open_engine(tmp_path)
    kids = [{"child_name": "张伟", "child_relation": "子", "child_whereabouts": "北京市朝阳区",
             "child_phone": "13900001111", "child_contact": "每周"},
            {"child_name": "张丽", "child_relation": "女", "child_whereabouts": "天津市滨海新区",
             "child_phone": "13900003333", "child_contact": "每周"}]
    honest = person(children=kids, children_count=2, all_supporters_away="否", last_left_date=None)
    assert eligible(eng, honest) == ("否", "子女或其他赡养人未全部离津")
    # Marked "all away" although a row says Tianjin: staff get a warning to resolve.
    claimed = person(children=kids, children_count=2)
    rules = {p.rule for p in eng.validate("registration", claimed)}
    assert "away_but_in_tianjin" in rules


def test_urban_hukou_and_not_living_alone(tmp_path):
    eng = open_engine(tmp_path)
    assert eligible(eng, person(hukou_type="非农业")) == ("否", "非本市农村户籍")
    assert eligible(eng, person(lives_alone="否", living_arrangement="与孙辈同住")) == ("否", "未独自生活")


def test_couple_setting_decides_in_the_form_file(tmp_path):
    couple = dict(lives_alone="与配偶同住", living_arrangement="与配偶同住", marital="已婚")
    shipped = open_engine(tmp_path / "a")
    assert eligible(shipped, person(**couple)) == ("否", "未独自生活")
    shipped.close()
    forms = copy_forms(tmp_path / "b")
    set_setting(forms, "couple_counts_as_alone", "true")
    flipped = open_engine(tmp_path / "b", forms)
    assert eligible(flipped, person(**couple))[0] == "是"
    # Saved and read back: the stored record carries the result and its reason.
    saved = flipped.save("registration", person(**couple))
    stored = flipped.get(saved.id)
    assert stored["data"]["eligible"] == "是"
    assert stored["meta"]["reasons"]["eligible"] == "符合农村留守老年人认定条件"
