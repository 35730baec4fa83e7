"""`forms schema` states conditional required/relevant as if/then that stock jsonschema enforces."""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from binhai_support import copy_forms, edit, open_engine, person
from jsonschema import Draft202012Validator

from core.cli import main


def _schema(capsys, forms) -> dict:
    assert main(["forms", "schema", "registration", "--forms", str(forms)]) == 0
    return json.loads(capsys.readouterr().out)


def test_required_and_relevant_become_if_then(tmp_path, capsys):
    forms = copy_forms(tmp_path)
    schema = _schema(capsys, forms)
    assert "name" in schema["required"] and "last_left_date" not in schema["required"]
    rule = {"if": {"required": ["all_supporters_away"], "properties": {"all_supporters_away": {"const": "是"}}},
            "then": {"required": ["last_left_date"]}}
    assert rule in schema["allOf"]
    eng = open_engine(tmp_path, forms)
    stored = eng.get(eng.save("registration", person()).id)["data"]
    check = Draft202012Validator(schema)
    assert list(check.iter_errors(stored)) == []
    missing = {k: v for k, v in stored.items() if k != "last_left_date"}
    assert [e.message for e in check.iter_errors(missing)] == ["'last_left_date' is a required property"]
    hidden = {**stored, "all_supporters_away": "否"}            # the date must then not be stored
    assert any("last_left_date" in e.json_path for e in check.iter_errors(hidden)) or \
        any("False schema" in e.message for e in check.iter_errors(hidden))


def test_an_expression_of_another_shape_stays_an_annotation(tmp_path, capsys):
    forms = copy_forms(tmp_path)
    edit(forms / "registration.yaml", "        relevant: \"housing_hazard == '是'\"",
         "        relevant: \"housing_hazard == '是' and children_count > 0\"")
    schema = _schema(capsys, forms)
    assert schema["properties"]["hazard_detail"]["x-relevant"] == "(housing_hazard == '是' and children_count > 0)"
