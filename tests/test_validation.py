"""Record validation under a real form file: normalize, compute, relevance, schema, required, rules, unique, overlays."""
import datetime as dt
from pathlib import Path

import pytest

from core.formlang.formload import load_form_dir
from core.plugins import build_registry, load_plugins
from core.records.validation import Validator

FIXTURES = Path(__file__).parent / "fixtures"
TODAY = dt.date(2026, 11, 30)


@pytest.fixture(scope="module")
def forms():
    return load_form_dir(FIXTURES / "forms_basic", build_registry(load_plugins()))


@pytest.fixture(scope="module")
def registry(forms):
    return forms.registry


@pytest.fixture(scope="module")
def validator(forms, registry):
    return Validator(forms.get("person"), registry, today=lambda: TODAY)


def good(**extra):
    data = {"name": "张三", "sex": "男", "birth": "1950-03-01", "village": "120116157201", "has_caregiver": "是",
            "has_caregiver_note": "邻居照看", "children": [{"child_name": "李四", "child_phone": "13800000000"}]}
    data.update(extra)
    return data


def by_path(problems):
    out = {}
    for p in problems:
        out[p.path] = f"{out[p.path]} | {p.message}" if p.path in out else p.message
    return out


def test_a_good_record_has_no_problems_and_is_cleaned(validator):
    clean, problems = validator.check(good(name=" 张三 ", birth="1950/3/1", income="3500.5"))
    assert problems == []
    assert clean["name"] == "张三" and clean["birth"] == "1950-03-01" and clean["income"] == 3500.5
    assert clean["age"] == 76


def test_schema_messages_are_chinese_with_the_label(validator):
    problems = validator.validate(good(name="一二三四五六七八九十十一", sex="未知", income=-5, bogus=1,
                                       birth="1990-01-01"))
    assert by_path(problems) == {
        "": "表单（第 2 版）没有字段 bogus (additionalProperties)",
        "name": "姓名 最多 10 个字 (maxLength)",
        "sex": "性别：“未知” 不是可选项（可选：男、女）(enum)",
        "income": "年收入 不能小于 0 (minimum) | 年收入低于 1000 元，请核实",
        "age": "年龄 不能小于 60 (minimum)",
    }


def test_normalize_errors_are_reported_once(validator):
    problems = validator.validate(good(birth="去年", income="很多"))
    assert by_path(problems) == {"birth": "出生日期：日期格式应为 YYYY-MM-DD，如 2026-01-05：去年 (normalize)",
                                 "income": "年收入：请输入数字：很多 (normalize)"}


def test_required_and_required_expression_in_rows(validator):
    problems = validator.validate(good(name="", children=[{"child_name": "甲", "child_left": "2025-01-01"}]))
    assert by_path(problems) == {"name": "姓名 必须填写 (required)",
                                 "children.0.child_phone": "子女 第 1 行：电话 必须填写 (required)"}


def test_relevance_hides_a_section_and_drops_its_values(validator):
    clean, problems = validator.check(good(has_caregiver="否"))
    assert problems == []
    assert "has_caregiver_note" not in clean
    problems = validator.validate(good(has_caregiver_note=""))
    assert by_path(problems) == {"has_caregiver_note": "照顾说明 必须填写 (required)"}


def test_field_relevance_makes_required_conditional(validator):
    assert validator.validate(good(diseases=["高血压"])) == []
    problems = validator.validate(good(diseases="高血压、其他"))
    assert by_path(problems) == {"disease_other": "其他疾病 必须填写 (required)"}
    clean, _ = validator.check(good(diseases=["高血压"], disease_other="不该留下"))
    assert "disease_other" not in clean


def test_repeat_min_max_rows_and_row_rules(validator):
    assert by_path(validator.validate(good(children=[]))) == {"children": "子女 至少要有 1 行 (minItems)"}
    many = [{"child_name": str(i), "child_phone": "13800000000"} for i in range(4)]
    assert by_path(validator.validate(good(children=many))) == {"children": "子女 最多 3 行 (maxItems)"}
    rows = [{"child_name": "甲", "child_phone": "13800000000"}, {"child_name": "乙", "child_phone": "123"}]
    (p,) = validator.validate(good(children=rows))
    assert (p.path, p.message, p.rule, p.severity) == ("children.1.child_phone", "电话应为 11 位", "phone_digits", "error")


def test_warning_blocks_until_accepted_with_a_reason(validator):
    (p,) = validator.validate(good(income=500))
    assert (p.path, p.severity, p.rule) == ("income", "warning", "income_low")
    assert validator.validate(good(income=500), accepted_warnings=[{"rule": "income_low", "reason": "已核实"}]) == []
    assert len(validator.validate(good(income=500), accepted_warnings=[{"rule": "income_low", "reason": " "}])) == 1


def test_form_rule_marks_each_named_field(validator):
    problems = validator.validate(good(lives_alone="是", children=[]))
    assert {(p.path, p.rule) for p in problems if p.rule == "alone_needs_children"} == {
        ("lives_alone", "alone_needs_children"), ("children", "alone_needs_children")}


def test_cases_first_match_wins_with_reason_and_override(validator):
    data, reasons = validator.compute(good(birth="1940-01-01"))
    assert (data["risk"], reasons["risk"]) == ("高", "高龄")
    data, reasons = validator.compute(good(has_caregiver="否"))
    assert (data["risk"], reasons["risk"]) == ("中", "无委托照顾人")
    data, reasons = validator.compute(good())
    assert (data["risk"], reasons["risk"]) == ("低", "其他情况")
    overrides = {"risk": {"reason": "子女常回家", "value": "低"}}
    data, reasons = validator.compute(good(birth="1940-01-01"), overrides)
    assert data["risk"] == "低" and reasons["risk"] == "人工改写：子女常回家"
    assert validator.validate(good(birth="1940-01-01"), overrides=overrides) == []
    assert by_path(validator.validate(good(), overrides={"risk": {"value": "低"}})) == {
        "risk": "改写 风险等级 必须填写原因 (override)"}
    assert by_path(validator.validate(good(), overrides={"age": {"value": 1, "reason": "x"}})) == {
        "age": "年龄 不允许人工改写 (override)"}


def test_unique_uses_the_lookup(validator):
    taken = {"120116195003010012": "rec-1"}
    problems = validator.validate(good(id_number="120116195003010012"),
                                  unique_lookup=lambda fid, value: taken.get(value))
    assert by_path(problems) == {
        "id_number": "身份证号 “120116195003010012” 已登记在另一条记录中（rec-1），不能重复 (unique)"}
    assert validator.validate(good(id_number="1"), unique_lookup=lambda fid, value: taken.get(value)) == []


def test_rule_that_cannot_be_evaluated_is_a_located_error(registry, tmp_path):
    (tmp_path / "f.yaml").write_text(
        "kind: form\nid: f\nversion: 1\ntitle: 表\nsections:\n  - id: s\n    title: 分节\n    fields:\n"
        "      - {id: a, label: 甲, type: integer}\n      - {id: b, label: 乙, type: integer}\n"
        "rules:\n  - {id: ratio, check: 'a / b > 1', message: 甲应大于乙, fields: [a]}\n", encoding="utf-8")
    v = Validator(load_form_dir(tmp_path, registry).get("f"), registry)
    assert by_path(v.validate({"a": 1, "b": 0})) == {"a": "无法核对“甲应大于乙”：请检查甲、乙填写的值"}
    assert by_path(v.validate({"a": 1})) == {"a": "乙 未填写，无法核对甲"}      # once, in a clerk's words
    assert by_path(v.validate({"a": 1, "b": 2})) == {"a": "甲应大于乙"}
    assert v.validate({"a": 3, "b": 2}) == []


def test_overlay_fields_apply_only_to_their_town(forms, registry):
    dagang = forms.form_for_town("person", "120116100")
    other = forms.form_for_town("person", "120116101")
    assert other is forms.get("person")
    assert dagang.field("fishing_subsidy").required is True
    assert dagang.choices_for("has_caregiver") == [("是", "是"), ("否", "否"), ("不清楚", "不清楚")]
    assert forms.form_for_town("person", "120116100") is dagang     # cached per town
    v_dagang = Validator(dagang, registry, today=lambda: TODAY)
    v_other = Validator(other, registry, today=lambda: TODAY)
    assert by_path(v_dagang.validate(good(town="120116100"))) == {"fishing_subsidy": "渔民补贴编号 必须填写 (required)"}
    assert by_path(v_dagang.validate(good(fishing_subsidy="12345"))) == {"fishing_subsidy": "补贴编号应为 6 位"}
    assert v_dagang.validate(good(fishing_subsidy="123456", has_caregiver="不清楚")) == []
    assert by_path(v_other.validate(good(fishing_subsidy="123456"))) == {
        "": "表单（第 2 版）没有字段 fishing_subsidy (additionalProperties)"}


def test_plugin_additions_extend_a_town(forms, registry):
    extra = {"sections": {"family": {"fields": [{"id": "boat", "label": "渔船号", "type": "text", "required": True}]}}}
    town_form = forms.form_for_town("person", "120116999", [extra])
    assert town_form.field("boat").label == "渔船号" and town_form.town == "120116999"
    assert forms.get("person").field("boat") is None
