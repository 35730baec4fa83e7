"""The safe evaluator: names, settings, dates, comprehensions, built-ins, plugin functions, and what it refuses."""
import datetime as dt

import pytest

from core import hookimpl
from core.expressions import Evaluator, ExpressionError, scope
from core.plugins import build_registry, load_plugins


class DoublePlugin:
    """A test plugin adding one expression function through the real hook."""

    @hookimpl
    def register_functions(self, register):
        register("double", lambda x: None if x is None else 2 * x)


@pytest.fixture(scope="module")
def ev():
    registry = build_registry(load_plugins(extra=[DoublePlugin()]))
    return Evaluator(registry.functions)


def names(**values):
    return scope(values, {"couple_counts_as_alone": True}, dt.date(2026, 11, 30))


def test_fields_settings_today_and_plugin_functions(ev):
    n = names(age=81, tags=["低保"], birth=dt.date(1945, 1, 2))
    assert ev.eval("age >= 80 and has(tags, '低保')", n) is True
    assert ev.eval("settings.couple_counts_as_alone", n) is True
    assert ev.eval("today.year - birth.year", n) == 81
    assert ev.eval("double(age)", n) == 162
    assert ev.eval("date('2026-01-01') < today", n) is True


def test_comprehensions_and_builtins(ev):
    n = names(children=[{"phone": "1"}, {"phone": ""}, {"phone": "3"}])
    assert ev.eval("all(c['phone'] for c in children)", n) is False
    assert ev.eval("count([c['phone'] for c in children])", n) == 2
    assert ev.eval("count(['a', 'b', 'a'], 'a')", n) == 2
    assert ev.eval("len(children) + len(missing)", {**n, "missing": None}) == 3
    assert ev.eval("empty(' ') and empty([]) and not empty(0)", n) is True
    assert ev.eval("max(1, 5) + min([3, 2]) + sum([1, 1]) + abs(-1) + round(1.4)", n) == 11


def test_parse_is_cached(ev):
    assert ev.parse("1 + 1") is ev.parse("1 + 1")


def test_failures_map_to_none_false_or_error(ev):
    n = names(age=None)
    assert ev.calculate("age + 1", n) is None
    assert ev.relevant("age > 60", n) is False
    assert ev.relevant(None, n) is True
    with pytest.raises(ExpressionError, match="数据类型不匹配"):
        ev.eval("age > 60", n)
    with pytest.raises(ExpressionError, match="除数为零"):
        ev.eval("1 / 0", n)


@pytest.mark.parametrize("expr, message", [
    ("__import__('os')", "未知的函数 __import__"),
    ("age.__class__", "不能访问以下划线开头的属性"),
    ("x = 1", "只能写一个表达式"),
    ("lambda: 1", "表达式里不能用 Lambda"),
    ("age >", "表达式语法错误"),
    ("age.upper()", "只能调用函数名"),
    ("nmae == 1", "未知的名字 nmae：不是本表的字段 id，是不是 name？"),
    ("settings.strict", "settings 中没有 strict"),
])
def test_unsafe_or_unknown_is_refused_at_load(ev, expr, message):
    try:
        problems = ev.unknown_names(expr, {"age", "name"}, {"couple_counts_as_alone": False})
    except ExpressionError as exc:
        problems = [str(exc)]
    assert any(message in p for p in problems), problems


def test_comprehension_variables_and_row_names_are_known(ev):
    assert ev.unknown_names("all(c['phone'] for c in children)", {"children"}) == []
    assert ev.unknown_names("row['x'] and parent['y']", {"row", "parent"}) == []
