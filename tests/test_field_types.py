"""Every built-in field type: valid input cleaned, invalid input refused in Chinese, schema shape."""
import datetime as dt

import pytest

from core.formlang.formmodel import Field
from core.plugins import build_registry, load_plugins


@pytest.fixture(scope="module")
def types():
    return build_registry(load_plugins()).field_types


def norm(types, name, value, **kw):
    return types[name].normalize(value, Field("f", "字段", name, **kw))


@pytest.mark.parametrize("name, raw, clean", [
    ("text", "  张三 ", "张三"),
    ("text", 12, "12"),
    ("longtext", " 多行\n文字 ", "多行\n文字"),
    ("integer", "12", 12),
    ("integer", "１２", 12),
    ("integer", 12.0, 12),
    ("integer", "1,200", 1200),
    ("decimal", "3.5", 3.5),
    ("decimal", 4, 4),
    ("date", "2026-1-5", "2026-01-05"),
    ("date", "2026/01/05", "2026-01-05"),
    ("date", "2026年1月5日", "2026-01-05"),
    ("date", "20260105", "2026-01-05"),
    ("boolean", "是", True),
    ("boolean", "否", False),
    ("boolean", False, False),
    ("choice", " 男 ", "男"),
    ("multi", "高血压、糖尿病，高血压", ["高血压", "糖尿病"]),
    ("multi", [" 甲 ", "", "乙"], ["甲", "乙"]),
    ("repeat", [{"a": 1}], [{"a": 1}]),
    ("record-ref", " abc ", "abc"),
    ("text", "   ", None),
    ("multi", [], None),
    ("repeat", [], None),
])
def test_valid_input_is_cleaned(types, name, raw, clean):
    assert norm(types, name, raw) == clean


@pytest.mark.parametrize("name, raw, message", [
    ("integer", "12.5", "请输入整数"),
    ("integer", "十二", "请输入整数"),
    ("integer", True, "请输入整数"),
    ("decimal", "3.5元", "请输入数字"),
    ("date", "2026-02-30", "没有这一天"),
    ("date", "明天", "日期格式应为 YYYY-MM-DD"),
    ("boolean", "也许", "应为 是 或 否"),
    ("choice", ["a", "b"], "只能选一项"),
    ("multi", 5, "应为多个选项的列表"),
    ("repeat", "一行", "应为多行记录"),
    ("repeat", ["x"], "每一行应为一组字段"),
    ("text", {"a": 1}, "应为一段文字"),
])
def test_invalid_input_is_refused_in_chinese(types, name, raw, message):
    with pytest.raises(ValueError, match=message):
        norm(types, name, raw)


def test_widgets_schema_and_date_format(types):
    assert {n: types[n].widget for n in ("text", "longtext", "integer", "decimal", "date", "boolean", "choice",
                                         "multi", "repeat", "record-ref")} == {
        "text": "text", "longtext": "textarea", "integer": "integer", "decimal": "decimal", "date": "date",
        "boolean": "checkbox", "choice": "select", "multi": "multiselect", "repeat": "repeat",
        "record-ref": "reference"}
    assert types["integer"].json_schema(None) == {"type": "integer"}
    assert types["date"].format == "date"
    registry = build_registry(load_plugins())
    check = registry.formats["date"].check
    assert check("2026-01-05") and not check("2026-1-5") and not check("2026-02-30")
    assert types["date"].to_python("2026-01-05") == dt.date(2026, 1, 5)
