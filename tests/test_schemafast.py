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


# --- fuzzed records: the fast verdict, the schema problems and the whole check -----------------
#
# `Validator.check` hands one names dict from pass to pass and visits only the fields each pass
# concerns (`_plan_passes`); the reference below runs the public passes one by one, each
# building its names afresh, as check did before. Both must give the same clean data, reasons
# and problems (path, rule, message, severity) for good records and for broken ones.

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

POOL = [None, "", "  ", 0, -3, 7, 2.5, True, "abc", "是", "否", "2026-02-30", "2025-01-05", "1950/3/4",
        "１２３", [], ["x"], [{"a": 1}], {"k": 1}, "王" * 300, "120116195003040025", "13800138000",
        "120116009201", "高", "中", "在册", "退出", "\u200b", "a\x07b", "12:30", "25:61", ["高血压", "高血压"],
        ["入户"], [{"child_name": 5}], 10 ** 16, -0.0]
FUZZ_EXAMPLES = int(__import__("os").environ.get("CAREBOOK_FUZZ_EXAMPLES", "150"))


def _reference_check(v, data: dict) -> tuple[dict, dict, list]:
    """`Validator.check` as the passes compose, each reading its own fresh names."""
    clean, problems = v.normalize(data)
    bad_paths = {p.path for p in problems}
    clean, _ = v.compute(clean)
    clean = v.drop_irrelevant(clean)
    clean, reasons = v.compute(clean)
    problems += v._schema_problems(clean, bad_paths)
    problems += [p for p in v._required(clean) if p.path not in bad_paths]
    problems += v._rules(clean)
    problems += v._unique(clean, None) + v._override_problems(None)
    return clean, reasons, [(p.path, p.rule, p.message, p.severity) for p in problems]


def _mutated(draw, data: dict) -> dict:
    data = copy.deepcopy(data)
    keys = sorted(data)
    for _ in range(draw(st.integers(0, 5))):
        how = draw(st.sampled_from(["drop", "set", "new", "row"]))
        if how == "drop" and data:
            data.pop(draw(st.sampled_from(sorted(data))), None)
        elif how == "set" and keys:
            data[draw(st.sampled_from(keys))] = copy.deepcopy(draw(st.sampled_from(POOL)))
        elif how == "new":
            data[draw(st.sampled_from(["zzz", "risk_level", "exit_date", "exit_reason", "children_count",
                                       "visit_level", "referral_detail"]))] = copy.deepcopy(draw(st.sampled_from(POOL)))
        elif how == "row" and isinstance(data.get("children"), list) and data["children"] \
                and isinstance(data["children"][0], dict) and data["children"][0]:
            row = data["children"][0]
            row[draw(st.sampled_from(sorted(row)))] = copy.deepcopy(draw(st.sampled_from(POOL)))
    return data


@pytest.fixture(scope="module")
def samples(ledger):
    return {form_id: [r["data"] for r in ledger.iter_records(form_id)][:40] for form_id in ("registration", "visit")}


@pytest.mark.parametrize("form_id", ["registration", "visit"])
def test_fuzzed_records_fast_and_full_agree(ledger, samples, form_id):
    seen = {"valid": 0, "invalid": 0}

    @settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def run(draw):
        data = _mutated(draw.draw, draw.draw(st.sampled_from(samples[form_id])))
        town = data.get("town") if isinstance(data.get("town"), str) else None
        v = ledger.validator(form_id, town=town)
        # the fast verdict on the record as stored, and on the record as `check` hands it on
        for candidate in (data, v.check(data)[0]):
            fast, full = _both(v, candidate)
            assert fast == full
            # the problems come from jsonschema, path and rule as it names them
            errors = sorted((".".join(map(str, e.absolute_path)), e.validator) for e in v._schema.iter_errors(candidate))
            got = sorted((p.path, p.rule) for p in v._schema_problems(candidate, set()))
            assert got == errors
        reasons: dict = {}
        clean, problems = v.check(data, reasons=reasons)
        assert (clean, reasons, [(p.path, p.rule, p.message, p.severity) for p in problems]) \
            == _reference_check(v, data)
        seen["invalid" if problems else "valid"] += 1

    run()
    # the fuzz must reach both kinds of record, or it proves nothing about one of them
    assert seen["valid"] and seen["invalid"], seen


def test_schema_valid_is_the_verdict_of_the_full_validator(ledger, samples):
    """`Validator.schema_valid`, the call bulk work (re-evaluation) makes for a verdict."""
    v = ledger.validator("registration")
    good = samples["registration"][0]
    assert v.schema_valid(good) is True
    for key, value in BREAKS:
        data = dict(good, **{key: value})
        assert v.schema_valid(data) is (not any(True for _ in v._schema.iter_errors(data)))
        assert v.schema_valid(data) is False
