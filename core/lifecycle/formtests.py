"""Form tests an admin writes in YAML: given answers, expect computed values, errors, warnings.

A threshold or a rule is easy to change and hard to check by eye; a test file states what the
form must conclude for typical people, and `carebook forms test` (and CI, through pytest)
says when an edit breaks one. `forms/tests/*.yaml`::

    kind: formtest
    form: registration
    today: "2026-06-30"                 # the date expressions see (ages), fixed for the tests
    base: {town: "120116157000", ...}   # answers every case starts from
    cases:
      - name: 未满60周岁不认定
        answers: {id_number: {born: "1970-01-01", sex: 女}}   # a valid ID number is made
        expect: {eligible: 否, risk_level: 低}                # computed values
        reasons: {eligible: 未满60周岁}                       # the `cases` reason that fired
        errors: []                      # rule ids or field paths; omitted means "no errors"
        warnings: [file_no_village]     # only checked when written

Each case runs through the engine's own check (cleaning, relevance, computing, rules) on a
scratch ledger, so what passes here is what staff would see.
"""
from __future__ import annotations

import datetime as dt
import random
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from core import dates
from core.problems import CarebookError, Problem

FOLDER = "tests"
_CASE_KEYS = {"name", "answers", "expect", "reasons", "errors", "warnings"}


@dataclass
class CaseResult:
    file: str
    name: str
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def _id_number(spec: dict, taken: set) -> str:
    from core.transfer.demo import make_id

    born = dt.date.fromisoformat(str(spec["born"]))
    return make_id(random.Random(len(taken) + 11), born, str(spec.get("sex", "女")), taken)


def _answers(raw: dict, taken: set) -> dict:
    out = {}
    for key, value in raw.items():
        if isinstance(value, dict) and "born" in value:
            value = _id_number(value, taken)
        out[key] = value
    return out


def _ids(problems: list[Problem], errors: bool) -> set[str]:
    chosen = [p for p in problems if p.is_error == errors]
    return {p.rule for p in chosen if p.rule} | {p.path for p in chosen if p.path}


def load(path: Path, display: str) -> tuple[dict | None, list[Problem]]:
    from core.formlang.yamlload import load_file

    doc = load_file(path, display)
    if doc.problems or doc.data is None:
        return None, list(doc.problems)
    raw = doc.data
    out = []
    if not isinstance(raw, dict) or raw.get("kind") != "formtest":
        return None, [doc.problem(("kind",), "表单测试文件要以 kind: formtest 开头 (kind)", rule="kind")]
    if not isinstance(raw.get("form"), str):
        out.append(doc.problem(("form",), "要写 form：测试哪个表单 (form)", rule="form"))
    if not isinstance(raw.get("cases"), list) or not raw["cases"]:
        out.append(doc.problem(("cases",), "要写 cases：一个或多个测试情形 (cases)", rule="cases"))
    for i, case in enumerate(raw.get("cases") or []):
        if not isinstance(case, dict) or not isinstance(case.get("name"), str):
            out.append(doc.problem(("cases", i), "每个情形要有 name (cases)", rule="cases"))
            continue
        for key in case:
            if key not in _CASE_KEYS:
                out.append(doc.problem(("cases", i, key), f"情形里没有键 “{key}”（可用：{'、'.join(sorted(_CASE_KEYS))}）(cases)",
                                       key=True, rule="cases"))
    if raw.get("today") is not None:
        try:
            dt.date.fromisoformat(str(raw["today"]))
        except ValueError:
            out.append(doc.problem(("today",), "today 应写成 \"YYYY-MM-DD\" (today)", rule="today"))
    return (None, out) if out else (raw, [])


def files(forms_dir: Path) -> list[Path]:
    folder = Path(forms_dir) / FOLDER
    return sorted(p for p in folder.glob("*.y*ml")) if folder.is_dir() else []


def run(forms_dir: Path, paths: list[Path] | None = None) -> tuple[list[CaseResult], list[Problem]]:
    """Every case of the given test files (default: `forms/tests/`), each on a scratch ledger."""
    from core.engine import Engine

    results: list[CaseResult] = []
    problems: list[Problem] = []
    for path in paths or files(forms_dir):
        display = f"{Path(forms_dir).name}/{FOLDER}/{path.name}" if path.parent == Path(forms_dir) / FOLDER else str(path)
        raw, probs = load(path, display)
        problems += probs
        if raw is None:
            continue
        today = dt.date.fromisoformat(str(raw["today"])) if raw.get("today") else dates.today()
        with tempfile.TemporaryDirectory(prefix="carebook-formtest-") as scratch, \
                Engine.open(Path(scratch), forms_dir, today=lambda: today, readonly=False) as eng:
            if eng.forms_dir != eng._working_forms_dir or eng.forms.get(raw["form"]) is None:
                raise CarebookError(f"{display}: 表单 {raw['form']} 不存在或表单文件有错误（见 carebook forms check）")
            taken: set = set()
            base = _answers(raw.get("base") or {}, taken)
            for case in raw["cases"]:
                results.append(_run_case(eng, raw["form"], display, base, case, taken))
    return results, problems


def _show(v) -> str:
    return "（空）" if v in (None, "", []) else str(v)


def _run_case(eng, form_id: str, display: str, base: dict, case: dict, taken: set) -> CaseResult:
    res = CaseResult(display, case["name"])
    data = {**base, **_answers(case.get("answers") or {}, taken)}
    data = {k: v for k, v in data.items() if v is not None}
    clean, problems = eng.check(form_id, data)
    _, reasons = eng.compute(form_id, clean)
    for fid, want in (case.get("expect") or {}).items():
        got = clean.get(fid)
        same = got == want or (got is not None and want is not None and str(got) == str(want))
        if not same:
            res.failures.append(f"{fid}：应为 {_show(want)}，实际为 {_show(got)}"
                                + (f"（{reasons[fid]}）" if reasons.get(fid) else ""))
    for fid, want in (case.get("reasons") or {}).items():
        if reasons.get(fid) != want:
            res.failures.append(f"{fid} 的依据：应为 {want}，实际为 {_show(reasons.get(fid))}")
    for key, errors in (("errors", True), ("warnings", False)):
        if key not in case and not errors:
            continue
        want = set(map(str, case.get(key) or []))
        got = _ids(problems, errors)
        missing = [w for w in sorted(want) if w not in got]
        extra = [p for p in problems if p.is_error == errors and not ({p.rule, p.path} & want)]
        name = "错误" if errors else "警告"
        if missing:
            res.failures.append(f"应有{name} {'、'.join(missing)}，但没有")
        for p in extra:
            res.failures.append(f"多出{name}：{p.path + '：' if p.path else ''}{p.message}")
    return res
