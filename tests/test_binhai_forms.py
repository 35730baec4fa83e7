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


def test_empty_phone_id_and_division_in_optional_fields_pass(tmp_path):
    """Many elders have no phone ("无电话"): an optional phone left None, "" or blank must save,
    as must an optional ID number in a supporter's row; a wrong number is still refused."""
    eng = open_engine(tmp_path)
    for blank in (None, "", "   "):
        data = person(phone=blank)
        data["children"][0]["child_id_number"] = blank
        rec = eng.save("registration", {**data, "phone": blank})
        stored = eng.get(rec.id)["data"]
        assert "phone" not in stored and "child_id_number" not in stored["children"][0]
    problems = eng.validate("registration", {**person(), "phone": "12345"})
    assert [(p.path, p.rule) for p in problems if p.is_error] == [("phone", "normalize")]


def test_empty_required_phone_is_reported_as_missing_not_as_a_bad_number(tmp_path):
    eng = open_engine(tmp_path)
    data = person()
    data["children"][0]["child_phone"] = ""
    errors = [p for p in eng.validate("registration", data) if p.is_error]
    assert [(p.path, p.rule) for p in errors] == [("children.0.child_phone", "required")]
    assert "电话号码" not in errors[0].message


def test_admin_guide_documents_every_key_the_forms_use():
    """forms/README.md is what an admin reads before editing: each key a shipped file uses is in it."""
    import yaml

    guide = (FORMS / "README.md").read_text(encoding="utf-8")
    data_under = {"settings", "lists", "every", "copy"}          # names chosen by the admin, not keys

    def keys(node, parent=None):
        if isinstance(node, dict):
            for k, v in node.items():
                if parent not in data_under:
                    yield k
                yield from keys(v, k)
        elif isinstance(node, list):
            for item in node:
                yield from keys(item, parent)

    files = [*FORMS.glob("*.yaml"), *(FORMS / "lists").glob("*.yaml"), *(FORMS / "overlays").glob("*.yaml")]
    used = {k for f in files for k in keys(yaml.safe_load(f.read_text(encoding="utf-8")))}
    assert {"initial", "autonumber", "copy", "rollup", "identities", "levels"} <= used
    assert sorted(k for k in used if f"`{k}`" not in guide and f"`{k}:" not in guide) == []
