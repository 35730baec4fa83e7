"""The safe evaluator: names, settings, dates, comprehensions, built-ins, plugin functions, and what it refuses."""
import datetime as dt

import pytest

from core import hookimpl
from core.formlang.expressions import Evaluator, ExpressionError, scope
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


@pytest.mark.parametrize("expr, message", [
    ("open('/etc/passwd')", "未知的函数 open"),
    ("__import__('os')", "未知的函数 __import__"),
    ("age()", "未知的函数 age"),                       # a field's value is never callable
    ("__builtins__['open']", "取不到"),                 # there are no built-ins to reach
    ("'x' * 10 ** 9", "表达式不可用"),                   # guarded like simpleeval: no memory bomb
    ("2 ** 5000000", "表达式不可用|乘方的结果太大"),     # refused already when the form is checked
    ("getattr(age, '__class__')", "未知的函数 getattr"),
    ("children.pop", "取不到|不可用|无法计算"),               # a method can be read but not called
])
def test_evaluation_refuses_what_the_language_does_not_allow(ev, expr, message):
    import re

    with pytest.raises(ExpressionError) as err:
        result = ev.eval(expr, names(age=70, children=[]))
        if expr == "children.pop":       # reading it is harmless only because calling is impossible
            raise ExpressionError(f"取不到 {result!r}")
    assert re.search(message, str(err.value)), str(err.value)


def test_comprehension_reads_outer_names_and_attributes_read_mapping_keys(ev):
    n = names(children=[{"age": 30}, {"age": 41}], limit=35, row={"child_name": "王芳"})
    assert ev.eval("[c['age'] for c in children if c['age'] > limit]", n) == [41]
    assert ev.eval("{c['age']: limit for c in children}", n) == {30: 35, 41: 35}
    assert ev.eval("row.child_name", n) == "王芳"
    assert ev.eval("f'{today.year}年'", n) == "2026年"
    with pytest.raises(ExpressionError, match="未知的名字 nobody"):
        ev.eval("[c for c in children if nobody]", n)


def test_compiled_matches_simpleeval_on_every_shipped_expression(tmp_path):
    """The native path must give what simpleeval gives for each expression the forms ship,
    on the names real records produce (a complete person, one missing most answers, a visit)."""
    from simpleeval import EvalWithCompoundTypes

    from binhai_support import open_engine, person

    eng = open_engine(tmp_path)
    ev = eng.evaluator
    reference = EvalWithCompoundTypes(functions=ev.functions, names={})
    exprs = _expressions(eng.forms.files)
    assert len(exprs) > 40
    extra = dict(as_of=dt.date(2026, 12, 31), report_date=dt.date(2026, 12, 31), row_number=3,
                 q_start=dt.date(2026, 10, 1), q_end=dt.date(2026, 12, 31))
    full = eng.validator("registration").names(eng.compute("registration", person(age=82))[0])
    sparse = eng.validator("registration").names({"name": "王芳", "children": None})
    visit = eng.validator("visit").names({"visit_level": "村委会", "visit_date": "2026-11-02"})
    samples = [{**full, **extra}, {**sparse, **extra}, {**visit, **extra}]
    evaluated = 0

    def outcome(fn):
        try:
            return ("ok", fn())
        except Exception:  # noqa: BLE001 - failing must match failing
            return ("error", None)

    def simpleeval(expr, n):
        reference.names = n
        return reference.eval(expr, previously_parsed=ev.parse(expr))

    for n in samples:
        for expr in exprs:
            mine = outcome(lambda: ev.eval(expr, dict(n)))
            assert mine == outcome(lambda: simpleeval(expr, dict(n))), expr
            evaluated += mine[0] == "ok"
    assert evaluated > 60       # most expressions did run, not just fail alike


def _expressions(tree) -> list[str]:
    """Every expression-valued key in the loaded form files."""
    keys = {"relevant", "required", "calculate", "when", "check", "expr", "count", "where", "initial", "value"}
    out: list[str] = []

    def walk(node, key=None):
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, k)
        elif isinstance(node, list):
            for v in node:
                walk(v, key)
        elif isinstance(node, str) and key in keys and node.strip() and node != "today":
            out.append(node)
    walk(tree)
    return sorted(set(out))
