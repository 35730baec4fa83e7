"""Admin changes made only by editing files in a copied forms folder take effect."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))   # tests/ helpers under --import-mode=importlib
import datetime as dt

from binhai_support import TODAY, TOWN, copy_forms, edit, open_engine, person, set_setting, visit


def test_add_a_field(tmp_path):
    forms = copy_forms(tmp_path)
    edit(forms / "registration.yaml", "version: 1\ntitle:", "version: 2\ntitle:")
    edit(forms / "registration.yaml", "      - {id: assistance,",
         "      - {id: pension_amount, label: 月养老金（元）, type: decimal, min: 0}\n      - {id: assistance,")
    eng = open_engine(tmp_path, forms)
    assert eng.forms.problems == []
    saved = eng.save("registration", person(pension_amount=320.5))
    assert eng.get(saved.id)["data"]["pension_amount"] == 320.5 and eng.get(saved.id)["version"] == 2
    assert any(p.path == "pension_amount" for p in eng.validate("registration", person(pension_amount=-1)))


def test_add_a_choice(tmp_path):
    forms = copy_forms(tmp_path)
    data = person(health_status="患病", diseases=["帕金森病"])
    before = open_engine(tmp_path / "x", copy_forms(tmp_path / "x"))
    assert any(p.path.startswith("diseases") for p in before.validate("registration", data))
    edit(forms / "lists" / "health.yaml", "精神疾病, 其他]", "精神疾病, 帕金森病, 其他]")
    eng = open_engine(tmp_path, forms)
    assert [p for p in eng.validate("registration", data) if p.is_error] == []


def test_change_a_risk_threshold(tmp_path):
    forms = copy_forms(tmp_path)
    data = person(age=77)
    assert open_engine(tmp_path / "x").compute("registration", data)[0]["risk_level"] == "中"
    set_setting(forms, "advanced_age", "75")
    eng = open_engine(tmp_path, forms)
    computed, reasons = eng.compute("registration", data)
    assert computed["risk_level"] == "高" and computed["advanced_age"] == "是"
    # The summary's 80+ column follows the same setting.
    eng.save("registration", data)
    row = next(r for r in eng.report("summary", as_of=TODAY).rows if r["unit_code"] == TOWN)
    assert (row["c5"], row["c6"]) == (0, 1)


def test_add_a_summary_column(tmp_path):
    forms = copy_forms(tmp_path)
    (forms / "summary.yaml").write_text((forms / "summary.yaml").read_text(encoding="utf-8").replace(
        "identities:",
        "  - {key: c32, number: \"32\", groups: [重点对象], label: 有住房隐患, count: \"housing_hazard == '是'\"}\n"
        "identities:\n  - \"c32 <= c1\""), encoding="utf-8")
    eng = open_engine(tmp_path, forms)
    eng.save("registration", person(housing_hazard="是", hazard_detail="房屋墙体开裂"))
    eng.save("registration", person())
    rep = eng.report("summary", as_of=TODAY)
    assert rep.columns[-1].label == "有住房隐患" and rep.columns[-1].number == "32"
    assert rep.total["c32"] == 1 and rep.total["c1"] == 2 and rep.checks == []


def test_change_a_visit_cadence(tmp_path):
    forms = copy_forms(tmp_path)
    edit(forms / "schedule.yaml", "高: {days: 7}", "高: {days: 3}")
    eng = open_engine(tmp_path, forms)
    rid = eng.save("registration", person(filing=dt.date(2025, 1, 10), self_care="失能")).id
    eng.save("visit", visit(rid, dt.date(2025, 11, 2)))
    item = next(i for i in eng.visits_due(as_of=dt.date(2025, 11, 6)) if i.level == "村委会")
    assert (item.due_date, item.overdue_days) == (dt.date(2025, 11, 5), 1)
