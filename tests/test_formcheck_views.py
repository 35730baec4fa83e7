"""`carebook forms check` on roster, summary and schedule files: typos found, located, in Chinese.

Each test breaks a copy of a shipped file the way an admin might (a misspelt key, a field that was
renamed, an identity about a deleted column, a cadence for a risk level that does not exist) and
checks the exact located message, so a broken report file is caught before the report runs.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))   # tests/ helpers under --import-mode=importlib

import pytest

from binhai_support import copy_forms, edit
from core.formlang.formload import load_form_dir
from core.plugins import build_registry, load_plugins

ROOT = Path(__file__).resolve().parent.parent
REMARK, BASE = 'expr: "([', 'base: "eligible'       # where the roster's remark and the summary's base start


@pytest.fixture(scope="module")
def registry():
    return build_registry(load_plugins())


@pytest.fixture
def forms(tmp_path):
    return copy_forms(tmp_path)


def edit_all(path: Path, changes: list[tuple[str, str]]) -> None:
    """Several admin-style edits of one file (each exact text must occur once)."""
    for old, new in changes:
        edit(path, old, new)


def where(path: Path, text: str, offset: int = 0) -> str:
    """`forms/NAME:LINE:COL` of the first occurrence of `text` (plus `offset` characters)."""
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if text in line:
            return f"forms/{path.name}:{n}:{line.index(text) + offset + 1}"
    raise AssertionError(f"{text!r} not in {path.name}")


def problems(registry, forms: Path, name: str) -> list[str]:
    fs = load_form_dir(forms, registry)
    return [str(p) for p in fs.problems if p.file == f"forms/{name}"]


def forms_check(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core.cli", "forms", "check", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, encoding="utf-8", env=dict(os.environ), timeout=120)


def test_shipped_view_report_and_schedule_check_clean(registry):
    fs = load_form_dir(ROOT / "forms", registry)
    assert [str(p) for p in fs.problems] == []
    assert set(fs.files) == {"roster", "summary", "schedule", "keycases"}


# ------------------------------------------------------------------------------------ roster
def test_misspelt_roster_key_is_named_with_a_suggestion_through_the_cli(forms):
    roster = forms / "roster.yaml"
    edit(roster, "\ncolumns:\n", "\ncolums:\n")
    res = forms_check(roster)
    assert res.returncode == 1
    assert res.stdout.splitlines() == [
        f"{where(roster, 'kind: view')}: 缺少 columns (required)",
        f"{where(roster, 'colums:')}: colums: 未知的键 “colums”，是不是 columns？ (additionalProperties)",
    ]
    assert "发现 2 个问题" in res.stderr


def test_roster_columns_name_real_fields_and_valid_expressions(registry, forms):
    roster = forms / "roster.yaml"
    edit_all(roster, [
        ("field: health_status,", "field: health_state,"),
        ('"age_on(birth_date, as_of)"', '"agee_on(birth_date, id_nummer)"'),
        ("{key: liaison, label: 包联干部, field: liaison_name, width: 8}",
            "{key: liaison, label: 包联干部, width: 8}"),
        ("{key: risk_level, label: 风险等级,", "{key: sex, label: 风险等级,"),
        ("sort: [town, village, name]", "sort: [town, vilage, name]"),
        ("settings.advanced_age else", "settings.advanced_ag else"),
        ("where: \"status == '在册'", "where: \"row_number > 0 and status == '在册'"),
    ])
    first_sex = where(roster, "key: sex, label: 性别").split(":")[1]
    assert problems(registry, forms, "roster.yaml") == [
        f"{where(roster, 'row_number > 0', -1)}: where: 未知的名字 row_number：不是本表的字段 id，是不是 id_number？ (expression)",
        f"{where(roster, 'vilage')}: sort.1: 表单 registration 没有字段 “vilage”，是不是 village？ (sort)",
        f"{where(roster, '{key: sex, label: 风险等级', 6)}: columns.18.key: 列 key “sex” 重复（第 {first_sex} 行已用过） (duplicate id)",
        f"{where(roster, 'agee_on', -1)}: columns.6.expr: 未知的函数 agee_on，是不是 age_on？ (expression)",
        f"{where(roster, 'agee_on', -1)}: columns.6.expr: 未知的名字 id_nummer：不是本表的字段 id，是不是 id_number？ (expression)",
        f"{where(roster, 'health_state')}: columns.9.field: 表单 registration 没有字段 “health_state”，是不是 health_status？ (field)",
        f"{where(roster, '{key: liaison')}: columns.19: 列 liaison 要写 field（取哪个字段）或 expr（怎么算）(columns)",
        f"{where(roster, REMARK, 6)}: columns.20.expr: settings 中没有 advanced_ag，是不是 advanced_age？ (expression)",
    ]
    fs = load_form_dir(forms, registry)
    assert "roster" not in fs.files and "forms/roster.yaml" in fs.broken   # skipped, the others load
    assert {"summary", "schedule"} <= set(fs.files)


# ------------------------------------------------------------------------------------ summary
def test_summary_counts_and_identities_are_checked(registry, forms):
    summary = forms / "summary.yaml"
    edit_all(summary, [
        ("count: \"sex == '男'\"", "count: \"sexx == '男'\""),
        ("count: \"visit_level == '街镇'\"", "count: \"visit_levle == '街镇'\""),
        ('"c26 <= c6"', '"c26 <= c66"'),
        ('"c27 <= c9"', '"c27 <= c9 +"'),
        ("over: visit,\n     count: \"visit_level == '村委会'\"",
            "over: visits,\n     count: \"visit_level == '村委会'\""),
        ("exit_date > report_date))", "exit_date > report_day))"),
    ])
    assert problems(registry, forms, "summary.yaml") == [
        f"{where(summary, BASE, 6)}: "
        "base: 未知的名字 report_day：不是本表的字段 id，是不是 report_date？ (expression)",
        f"{where(summary, 'sexx', -1)}: columns.1.count: 未知的名字 sexx：不是本表的字段 id，是不是 sex？ (expression)",
        f"{where(summary, 'over: visits', 6)}: columns.27.over: over 只能是 registration（数人）或 visit（数本季度的探访记录），"
        "不能是 “visits” (over)",
        f"{where(summary, 'visit_levle', -1)}: columns.28.count: 未知的名字 visit_levle：不是本表的字段 id，"
        "是不是 visit_level？ (expression)",
        f"{where(summary, 'c26 <= c66', -1)}: identities.8: 勾稽关系里的 c66 不是本表的栏（columns 里没有 key: c66），"
        "是不是 c6？ (identities)",
        f"{where(summary, 'c27 <= c9 +', -1)}: identities.9: 表达式语法错误第 12 个字符附近：c27 <= c9 + "
        "(SyntaxError: invalid syntax) (expression)",
    ]


# ------------------------------------------------------------------------------------ schedule
def test_schedule_cadence_names_real_levels_risks_and_fields(registry, forms):
    schedule = forms / "schedule.yaml"
    edit_all(schedule, [
        ("      高: {days: 7}", "      极高: {days: 7}"),
        ("    value: 街镇", "    value: 镇"),
        ("    per: quarter", "    per: quarter\n    default: {months: 3}"),
        ("date_field: visit_date", "date_field: visit_day"),
        ("start_field: filing_date", "start_field: town"),
    ])
    assert problems(registry, forms, "schedule.yaml") == [
        f"{where(schedule, 'visit_day')}: date_field: 表单 visit 没有字段 “visit_day”，是不是 visit_date？ (date_field)",
        f"{where(schedule, 'start_field: town', 13)}: start_field: start_field 应是日期字段，town 是 division (start_field)",
        f"{where(schedule, '极高')}: levels.0.every.极高: “极高” 不在 registration 的字段 risk_level 的选项中（高、中、低）(every)",
        f"{where(schedule, 'value: 镇', 7)}: levels.1.value: “镇” 不在 visit 的字段 visit_level 的选项中"
        "（村委会、街镇、区民政局、社工、志愿者、委托照顾人）(value)",
        f"{where(schedule, 'default: {months: 3}', 9)}: levels.1.default: 层级 town 已写 per: quarter，default 不会生效，"
        "请只写一种 (per)",
    ]


@pytest.mark.parametrize("name, old, new, anchor, offset, message", [
    ("summary.yaml", '  - "c1 == c2 + c3"', '  - {check: "c1 == c2 + c33", message: 男女合计应等于总数}',
     "c1 == c2 + c33", -1, "identities.0.check: 勾稽关系里的 c33 不是本表的栏（columns 里没有 key: c33），是不是 c3？ (identities)"),
    ("schedule.yaml", "      中: {days: 15}", "      中: {weeks: 2}", "weeks", 0,
     "levels.0.every.中.weeks: 未知的键 “weeks”（可用的键：days、months） (additionalProperties)"),
    ("schedule.yaml", "    per: quarter                # 每个自然季度至少一次", "", "id: town", 0,
     "levels.1: 层级 town 要写 every（按风险等级的周期）、default，或 per: quarter（每季度一次）(every)"),
], ids=["identity-with-message", "interval-typo", "level-without-cadence"])
def test_one_mistake_one_located_problem(registry, forms, name, old, new, anchor, offset, message):
    edit(forms / name, old, new)
    assert problems(registry, forms, name) == [f"{where(forms / name, anchor, offset)}: {message}"]


# ------------------------------------------------------------------------------------ forms they lean on
def test_a_broken_registration_is_named_once_per_dependent_file(registry, forms):
    edit(forms / "registration.yaml", "kind: form", "kind: form\nbogus: 1")
    fs = load_form_dir(forms, registry)
    for name in ("roster", "summary", "schedule"):
        assert [str(p) for p in fs.problems if p.file == f"forms/{name}.yaml"] == [
            f"{where(forms / f'{name}.yaml', 'form: registration', 6)}: form: form 写的表单 “registration” 不存在或未能加载 (form)"]


def test_record_ref_copy_names_fields_of_both_forms(registry, forms):
    visit = forms / "visit.yaml"
    edit(visit, "copy: {person_name: name,", "copy: {person_nam: name,")
    edit(visit, "file_no: file_no,", "file_no: file_nr,")
    assert problems(registry, forms, "visit.yaml") == [
        f"{where(visit, 'person_nam:')}: sections.0.fields.0.copy.person_nam: 表单 visit 没有字段 “person_nam”，"
        "是不是 person_name？ (copy)",
        f"{where(visit, 'file_nr')}: sections.0.fields.0.copy.file_no: 表单 registration 没有字段 “file_nr”，"
        "是不是 file_no？ (copy)",
    ]
    assert "visit" not in load_form_dir(forms, registry).forms


def test_autonumber_template_names_fields_and_ends_with_seq(registry, forms):
    reg = forms / "registration.yaml"
    edit(reg, 'autonumber: "{village}-{seq:04d}"', 'autonumber: "{vilage}-{seq:04d}"')
    assert problems(registry, forms, "registration.yaml") == [
        f"{where(reg, '{vilage}', -1)}: sections.0.fields.0.autonumber: 编号模板里的 {{vilage}} 不是本表的字段，"
        "是不是 village？ (autonumber)",
    ]
    edit(reg, 'autonumber: "{vilage}-{seq:04d}"', 'autonumber: "{village}-{seq:04d}-{town}"')
    assert problems(registry, forms, "registration.yaml")[0].endswith("(pattern)")   # {seq} must come last


def test_rollup_names_a_record_ref_and_a_date_field(registry, forms):
    visit = forms / "visit.yaml"
    edit(visit, "rollup: {ref: person, key: visit_level, date: visit_date}",
         "rollup: {ref: persn, key: visit_level, date: visit_method}")
    assert problems(registry, forms, "visit.yaml") == [
        f"{where(visit, 'persn')}: rollup.ref: rollup 的 ref 应是本表的指向其他记录的 record-ref 字段，没有字段 persn，"
        "是不是 person？ (rollup)",
        f"{where(visit, 'visit_method}')}: rollup.date: rollup 的 date 应是本表的日期字段，visit_method 是 choice (rollup)",
    ]
