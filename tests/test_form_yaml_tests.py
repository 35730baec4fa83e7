"""The shipped forms' own YAML tests pass (run in CI), and a broken expectation is reported."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from binhai_support import FORMS, copy_forms, set_setting

from core.cli import main
from core.lifecycle.formtests import run


def test_shipped_form_tests_pass():
    results, problems = run(FORMS)
    assert problems == []
    assert len(results) >= 25
    assert [f"{r.name}: {r.failures}" for r in results if not r.ok] == []


def test_every_eligibility_and_risk_reason_is_covered():
    """Each `reason` of the shipped eligible/risk_level cases fires in at least one test case."""
    from core.formlang.yamlload import load_file

    form = load_file(FORMS / "registration.yaml").data
    wanted = {c["reason"] for s in form["sections"] for f in s["fields"] if f["id"] in ("eligible", "risk_level")
              for c in f["cases"]}
    tests = load_file(FORMS / "tests" / "registration.yaml").data
    covered = {r for case in tests["cases"] for r in (case.get("reasons") or {}).values()}
    assert wanted - covered == set()


def test_a_changed_threshold_fails_the_boundary_cases(tmp_path, capsys):
    forms = copy_forms(tmp_path)
    set_setting(forms, "advanced_age", "75")
    code = main(["forms", "test", "--forms", str(forms)])
    out = capsys.readouterr()
    assert code == 1
    assert "不通过  forms/tests/registration.yaml：79周岁为中风险（差一天满80）" in out.out
    assert "risk_level：应为 中，实际为 高（高龄（80周岁及以上））" in out.out
    assert "个不通过" in out.err
