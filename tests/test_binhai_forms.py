"""The shipped Binhai forms load cleanly and say what the domain notes require."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))   # tests/ helpers under --import-mode=importlib

from binhai_support import FORMS, open_engine, person


def test_shipped_forms_check_clean(tmp_path):
    eng = open_engine(tmp_path)
    assert [str(p) for p in eng.forms.problems] == []
    assert {"registration", "visit"} <= set(eng.forms.forms)
    kinds = {f["kind"] for f in eng.forms.files.values()}
    assert kinds == {"view", "report", "schedule"}


def test_registration_covers_the_domain_groups(tmp_path):
    form = open_engine(tmp_path).form("registration")
    assert [s.id for s in form.sections] == ["filing", "person", "eligibility", "health", "economy",
                                              "family", "supporters", "caregiver", "care", "risk"]
    assert len(form.choices_for("ethnicity")) == 56
    assert form.field("id_number").unique and form.field("id_number").pii
    children = form.field("children")
    assert (children.min_rows, children.max_rows) == (0, 20)
    assert next(f for f in children.fields if f.id == "child_phone").required is True
    assert form.field("risk_level").override
    assert set(form.settings) >= {"min_age", "min_months_away", "couple_counts_as_alone", "advanced_age", "middle_age"}
    assert form.section_of("caregiver_name").relevant == "has_caregiver == '是'"


def test_sex_must_agree_with_the_id_and_exit_needs_reason_and_date(tmp_path):
    eng = open_engine(tmp_path)
    data = person(sex="女")
    computed, _ = eng.compute("registration", data)
    assert computed["sex"] == "女" and computed["birth_date"] == data["id_number"][6:10] + "-" + \
        data["id_number"][10:12] + "-" + data["id_number"][12:14]
    gone = person(status="退出")
    paths = {p.path for p in eng.validate("registration", gone) if p.is_error}
    assert {"exit_reason", "exit_date"} <= paths


def test_visit_needs_a_person(tmp_path):
    eng = open_engine(tmp_path)
    rules = {p.path for p in eng.validate("visit", {"visit_date": "2025-01-01"}) if p.is_error}
    assert "person" in rules and "visit_level" in rules


def test_every_form_file_points_editors_at_the_meta_schema():
    for path in list(FORMS.glob("*.yaml")) + list((FORMS / "lists").glob("*.yaml")):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema="), path.name
