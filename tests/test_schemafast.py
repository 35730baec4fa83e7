"""The compiled fast schema check answers exactly as jsonschema does.

The fast check only ever short-cuts "valid"; a record it wrongly called valid would be saved
unchecked, so this compares both answers over every demo record and over records broken in
each way a schema catches (wrong type, unknown value, bad format, too long, extra key, bad row).
"""
from __future__ import annotations

import copy
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))   # tests/ helpers under --import-mode=importlib

import pytest

from binhai_support import TODAY, open_engine
from demo_cache import binhai_demo


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    root = tmp_path_factory.mktemp("fast")
    eng = open_engine(root, binhai_demo(root, persons=60, seed=11, as_of=TODAY)[0])
    yield eng
    eng.close()


def _both(validator, data) -> tuple[bool, bool]:
    validator._schema_problems(data, set())          # compiles the fast check on first use
    assert validator._fast is not None, "the shipped forms' schemas must compile to the fast check"
    full = not any(True for _ in validator._schema.iter_errors(data))
    return validator._fast(data), full


BREAKS = [
    ("name", 12345), ("name", "王" * 200), ("sex", "未知"), ("birth_date", "1950-13-40"),
    ("id_number", "120116195003040025"), ("age", "七十"), ("age", True), ("town", "太平镇"),
    ("children", "张三"), ("children", [{"name": 5}]), ("children", [{"nope": "x"}]),
    ("diseases", ["不存在的病"]), ("diseases", "高血压"), ("unknown_field", "x"),
]


@pytest.mark.parametrize("form_id", ["registration", "visit"])
def test_fast_check_agrees_on_every_demo_record(ledger, form_id):
    validator = ledger.validator(form_id)
    records = list(ledger.iter_records(form_id))
    assert records
    for rec in records:
        assert _both(validator, rec["data"]) == (True, True)


@pytest.mark.parametrize("key,value", BREAKS)
def test_fast_check_refuses_what_jsonschema_refuses(ledger, key, value):
    validator = ledger.validator("registration")
    data = copy.deepcopy(next(ledger.iter_records("registration"))["data"])
    data[key] = value
    fast, full = _both(validator, data)
    assert full is False, f"{key}={value!r} should break the schema"
    assert fast is False
    # and the message still comes from the full validator
    assert validator._schema_problems(data, set())
