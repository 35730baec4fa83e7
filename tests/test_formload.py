"""Loading a forms folder: every pitfall located in Chinese, broken files skipped, the rest usable."""
from pathlib import Path

import pytest

from core.formlang.formload import check_paths, compile_form_text, load_form_dir
from core.plugins import build_registry, load_plugins
from core.problems import FormError

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def registry():
    return build_registry(load_plugins())


@pytest.fixture(scope="module")
def broken(registry):
    return load_form_dir(FIXTURES / "forms_broken", registry)


def messages(fs, name):
    return [str(p) for p in fs.problems if p.file == f"forms_broken/{name}"]


def test_good_form_loads_beside_broken_ones(broken):
    assert list(broken.forms) == ["good"]
    assert broken.get("good").choices_for("answer") == [("是", "是"), ("否", "否")]
    assert broken.get("dupkey") is None
    with pytest.raises(FormError, match="表单 “dupkey” 不存在或未通过检查"):
        broken.require("dupkey")


def test_yaml_no_and_leading_zero_in_a_list(broken):
    assert messages(broken, "lists/answers.yaml") == [
        'forms_broken/lists/answers.yaml:6:5: items.1: 应为文字或映射（键: 值），实际是布尔值 false；'
        'YAML 会把 no 读成布尔值 false，请加引号："no" (type)',
        'forms_broken/lists/answers.yaml:7:13: items.2.value: 应为文字，实际是数字 4112；'
        'YAML 会把 010020 读成数字 4112，请加引号："010020" (type)',
    ]
    assert "answers" not in broken.lists


def test_yes_no_choices_are_errors_but_a_no_setting_only_warns(broken):
    msgs = messages(broken, "yes_no.yaml")
    assert msgs[0] == ('forms_broken/yes_no.yaml:6:11: settings.strict: 这里按文字 “no” 处理；YAML 会把 no 读成布尔值 '
                       'false，请加引号："no"，如要布尔值请写 true/false (yaml-1.1)')
    assert msgs[1].startswith("forms_broken/yes_no.yaml:11:53: sections.0.fields.0.choices.0: 应为文字或映射")
    assert msgs[2].endswith('YAML 会把 no 读成布尔值 false，请加引号："no" (type)')


SINGLE_FILE_PITFALLS = {
    "dupkey.yaml": ["forms_broken/dupkey.yaml:12:9: sections.0.fields.0.label: 键 “label” 重复（第 10 行已出现）；"
                    "YAML 会让后一个悄悄覆盖前一个，请删去或改名 (duplicate key)"],
    "syntax.yaml": ["forms_broken/syntax.yaml:7:14: YAML 语法错误：此处不能出现“键: 值”：常见原因是冒号后缺空格、缩进不对，"
                    "或文字里含冒号却没加引号 (mapping values are not allowed here)"],
    "missing_list.yaml": ["forms_broken/missing_list.yaml:9:50: sections.0.fields.0.choices: 找不到选项表 “nosuchlist”："
                          "应在 lists/ 目录或本文件的 lists: 中定义 (choices)"],
    "noversion.json": ["forms_broken/noversion.json:1:1: 缺少 version（版本号，正整数；字段有变化时加 1） (required)"],
}


@pytest.mark.parametrize("name", sorted(SINGLE_FILE_PITFALLS))
def test_one_pitfall_per_file(broken, name):
    assert messages(broken, name) == SINGLE_FILE_PITFALLS[name]


def test_unknown_key_suggests_the_right_one(broken):
    assert messages(broken, "unknown_key.yaml") == [
        "forms_broken/unknown_key.yaml:9:9: sections.0.fields.0: 缺少 label (required)",
        "forms_broken/unknown_key.yaml:10:9: sections.0.fields.0.lable: 未知的键 “lable”，是不是 label？ (additionalProperties)",
    ]


def test_unknown_type(broken):
    (msg,) = messages(broken, "unknown_type.yaml")
    assert msg.startswith("forms_broken/unknown_type.yaml:9:37: sections.0.fields.0.type: 未知的字段类型 “txt”（可用：boolean、")


def test_bad_expressions(broken):
    assert messages(broken, "bad_expression.yaml") == [
        "forms_broken/bad_expression.yaml:13:19: sections.0.fields.1.relevant: 表达式语法错误第 17 个字符附近："
        "name != None and (SyntaxError: invalid syntax) (expression)",
        "forms_broken/bad_expression.yaml:17:20: sections.0.fields.2.calculate: 未知的函数 age_of，是不是 age_on？ (expression)",
        "forms_broken/bad_expression.yaml:17:20: sections.0.fields.2.calculate: 未知的名字 nmae：不是本表的字段 id，"
        "是不是 name？ (expression)",
        "forms_broken/bad_expression.yaml:18:19: sections.0.fields.2.required: settings 中没有 strict (expression)",
    ]


def test_duplicate_field_id_and_rule_naming_missing_field(broken):
    assert messages(broken, "dup_field.yaml") == [
        "forms_broken/dup_field.yaml:14:18: sections.0.fields.1.fields.0.id: 字段 id “name” 重复（第 9 行已用过）(duplicate id)",
        "forms_broken/dup_field.yaml:16:50: rules.0.fields.0: 规则里写的字段 nosuch 不存在 (fields)",
    ]


def test_good_folder_has_no_problems(registry):
    fs = load_form_dir(FIXTURES / "forms_basic", registry)
    assert fs.problems == []
    form = fs.get("person")
    assert form.version == 2 and form.partition == "village" and form.title_field == "name"
    assert form.choices_for("sex") == [("男", "男"), ("女", "女")]
    assert form.choices_for("risk")[0] == ("高", "高风险")
    assert [f.id for f in form.fields_flat()][-5:] == ["children", "child_name", "child_phone", "child_left", "risk"]
    assert form.field("child_phone").rules[0].id == "phone_digits"
    assert form.settings == {"couple_counts_as_alone": False}


def test_check_paths_for_one_file_uses_its_folder(registry):
    assert check_paths([FIXTURES / "forms_basic" / "person.yaml"], registry) == []
    probs = check_paths([FIXTURES / "forms_broken" / "missing_list.yaml"], registry)
    assert [p.rule for p in probs] == ["choices"]
    assert check_paths([FIXTURES / "nowhere.yaml"], registry)[0].message.startswith("找不到文件或目录")


def test_snapshot_rebuilds_the_same_form_without_the_folder(registry):
    form = load_form_dir(FIXTURES / "forms_basic", registry).get("person")
    again = compile_form_text(form.snapshot_text(), registry, "snapshot:person:v2")
    assert again.choices_for("sex") == form.choices_for("sex")
    assert [f.id for f in again.fields_flat()] == [f.id for f in form.fields_flat()]
    with pytest.raises(FormError, match="未知的字段类型"):
        compile_form_text(form.snapshot_text().replace('"type": "date"', '"type": "datum"'), registry)


def test_reload_sees_an_edited_file(tmp_path, registry):
    f = tmp_path / "forms" / "a.yaml"
    f.parent.mkdir()
    f.write_text("kind: form\nid: a\nversion: 1\ntitle: 甲\nsections:\n  - id: s\n    title: 分节\n    fields:\n"
                 "      - {id: x, label: 字段, type: text}\n", encoding="utf-8")
    fs = load_form_dir(f.parent, registry)
    assert fs.get("a").version == 1
    f.write_text(f.read_text(encoding="utf-8").replace("version: 1", "version: 2"), encoding="utf-8")
    assert fs.reload().get("a").version == 2


def test_view_files_are_kept_raw_with_positions(tmp_path, registry):
    (tmp_path / "a.yaml").write_text("kind: form\nid: a\nversion: 1\ntitle: 甲\nsections:\n  - id: s\n    title: 分节\n"
                                     "    fields:\n      - {id: name, label: 姓名, type: text}\n", encoding="utf-8")
    (tmp_path / "roster.yaml").write_text("kind: view\nid: roster\nversion: 1\ntitle: 花名册\nform: a\n"
                                          "columns: [{key: name, label: 姓名, field: name}]\n", encoding="utf-8")
    fs = load_form_dir(tmp_path, registry)
    assert fs.problems == []
    assert fs.files["roster"]["columns"] == [{"key": "name", "label": "姓名", "field": "name"}]
    assert fs.locate("roster", ("columns", 0, "field")) == (f"{tmp_path.name}/roster.yaml", 6, 41)


def test_overlay_problems_are_located_in_the_overlay_file(tmp_path, registry):
    import shutil
    root = tmp_path / "forms"
    shutil.copytree(FIXTURES / "forms_basic", root)
    (root / "overlays" / "bad.yaml").write_text(
        "kind: overlay\nform: person\nversion: 1\ntowns: ['120116100']\nsections:\n  nosection:\n    fields:\n"
        "      - {id: name, label: 重名, type: text}\n      - {id: z, label: 新, type: text, relevant: 'nmae == 1'}\n",
        encoding="utf-8")
    fs = load_form_dir(root, registry)
    assert [str(p) for p in fs.problems] == [
        "forms/overlays/bad.yaml:8:14: sections.nosection.fields.0.id: 字段 id “name” 重复（表单 person 已用过）(duplicate id)",
        "forms/overlays/bad.yaml:6:3: sections.nosection: 表单 person 没有分节 “nosection”（有：basic、care、family）(sections)",
        "forms/overlays/bad.yaml:9:49: sections.nosection.fields.1.relevant: 未知的名字 nmae：不是本表的字段 id，"
        "是不是 name？ (expression)",
    ]
    assert [o.id for o in fs.overlays] == ["dagang_extra"]


def test_compiled_schema_shape(registry):
    from core.formlang.compile import compile_form
    schema = compile_form(load_form_dir(FIXTURES / "forms_basic", registry).get("person"), registry)
    props = schema["properties"]
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is False and "required" not in schema
    assert props["birth"] == {"type": "string", "format": "date"}
    assert props["age"] == {"type": "integer", "minimum": 60}
    assert props["sex"] == {"type": "string", "enum": ["男", "女"]}
    assert props["diseases"]["items"] == {"type": "string", "enum": ["高血压", "糖尿病", "其他"]}
    assert props["children"]["minItems"] == 1 and props["children"]["maxItems"] == 3
    assert props["children"]["items"]["additionalProperties"] is False
    assert props["name"]["maxLength"] == 10


def test_json_form_file_is_accepted(tmp_path, registry):
    (tmp_path / "visit.json").write_text(
        '{"kind": "form", "id": "visit", "version": 1, "title": "探访记录",\n'
        ' "sections": [{"id": "s", "title": "探访", "fields": [\n'
        '   {"id": "visit_date", "label": "探访日期", "type": "date", "required": true},\n'
        '   {"id": "level", "label": "层级", "type": "choice", "choices": ["村委会", "街镇"], "lable": "x"}]}]}\n',
        encoding="utf-8")
    fs = load_form_dir(tmp_path, registry)
    assert [str(p) for p in fs.problems] == [
        f"{tmp_path.name}/visit.json:4:79: sections.0.fields.1.lable: 未知的键 “lable”，是不是 label？ (additionalProperties)"]
    (tmp_path / "visit.json").write_text((tmp_path / "visit.json").read_text(encoding="utf-8").replace(', "lable": "x"', ""),
                                         encoding="utf-8")
    assert fs.reload().get("visit").field("visit_date").type == "date"
