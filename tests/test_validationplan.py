"""The per-field plan of `Validator.check` (core/records/validationplan.py): remembered cleaning
gives the answers fresh cleaning gives, copies what a caller may change, forgets when what a
type's cleaning reads changes (the division list, today), and asks types that do not declare
themselves pure every time. The whole check is compared with the generic path in
tests/test_validation.py and tests/test_schemafast.py (same messages, same clean data)."""
import datetime as dt
import shutil
from pathlib import Path

import pytest

from core.formlang.formmodel import Field
from core.plugins import build_registry, load_plugins
from core.records import validationplan as plan
from plugins.cn import divisions
from plugins.cn_types import DivisionType

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def types():
    return build_registry(load_plugins()).field_types


def run(norm, value):
    problems = []
    out = norm(value, "f", problems)
    return out, [(p.message, p.path, p.rule) for p in problems]


def test_remembered_answers_equal_fresh_ones_and_refusals_repeat(types):
    field = Field(id="n", label="子女数", type="integer")
    norm = plan.normalizer(types["integer"], field)
    for value in ("12", " ３ ", 1, True, "x", "1.5", 12.0, "12"):
        fresh = run(plan.normalizer(types["integer"], field), value)
        assert run(norm, value) == fresh
        assert run(norm, value) == fresh            # the second time from memory: the same
    # 1 and True are one dict key, but not one value to clean
    assert run(norm, 1) == (1, [])
    assert run(norm, True) == (None, [("子女数：请输入整数 (normalize)", "f", "normalize")])


def test_a_remembered_list_is_a_copy_the_caller_may_change(types):
    norm = plan.normalizer(types["multi"], Field(id="d", label="疾病", type="multi"))
    first, _ = run(norm, ["高血压", " 糖尿病"])
    first.append("changed")
    assert run(norm, ["高血压", " 糖尿病"]) == (["高血压", "糖尿病"], [])


def _memory(norm) -> dict:
    """The answers a pure type's normalizer holds: [scope, answers, asked, adding?], bound first."""
    return norm.args[0][1]


def test_memory_is_bounded_per_field_and_let_go_when_values_do_not_repeat(types, monkeypatch):
    monkeypatch.setattr(plan, "MEMO_LIMIT", 4)
    names = plan.normalizer(types["text"], Field(id="t", label="姓名", type="text"))
    for i in range(10):
        assert run(names, f" 名{i} ") == (f"名{i}", [])
    assert _memory(names) == {}                  # full after four values, none asked twice
    dates = plan.normalizer(types["date"], Field(id="d", label="日期", type="date"))
    for i in range(20):
        assert run(dates, f"2026/1/{i % 3 + 1}") == (f"2026-01-0{i % 3 + 1}", [])
    assert len(_memory(dates)) == 3              # three values, each asked again and again
    for i in range(10):
        run(dates, f"2026/2/{i + 1}")
    assert len(_memory(dates)) == 4              # full, having answered most: kept, not grown


def test_a_type_not_declared_pure_is_asked_every_time():
    calls = []

    class Counting:
        name = "counting"

        def normalize(self, value, field):
            calls.append(value)
            return value.strip()

    norm = plan.normalizer(Counting(), Field(id="c", label="计数", type="counting"))
    for _ in range(3):
        assert run(norm, " a ") == ("a", [])
    assert calls == [" a ", " a ", " a "]


def test_division_answers_are_forgotten_when_the_list_or_the_day_changes(tmp_path, monkeypatch):
    forms = tmp_path / "forms"
    (forms / "data").mkdir(parents=True)
    yaml_file = forms / "data" / "divisions.yaml"
    shutil.copy(ROOT / "forms" / "data" / "divisions.yaml", yaml_file)
    ft = DivisionType(divisions.DivisionFile(forms))
    field = Field(id="village", label="村", type="division", options={"level": "village"})
    norm = plan.normalizer(ft, field)
    monkeypatch.setenv("CAREBOOK_TODAY", "2026-12-01")
    assert run(norm, "120116157201") == ("120116157201", [])
    assert run(norm, "120116157201") == ("120116157201", [])          # remembered

    # the village is closed from 2026-12-05 on: still in use on the 1st, not on the 6th
    text = yaml_file.read_text("utf-8")
    old = '{code: "120116157201", name: 渡口村, confirmed: true, valid_from: null, valid_to: null}'
    assert old in text
    yaml_file.write_text(text.replace(old, old.replace('valid_to: null', 'valid_to: "2026-12-04"')), "utf-8")
    assert run(norm, "120116157201") == ("120116157201", [])
    monkeypatch.setenv("CAREBOOK_TODAY", "2026-12-06")
    closed = [("村：渡口村（120116157201）已停用或尚未启用 (normalize)", "f", "normalize")]
    assert run(norm, "120116157201") == (None, closed)
    assert run(norm, "120116157201") == (None, closed)
    assert run(plan.normalizer(ft, field), "120116157201") == (None, closed)   # as fresh cleaning says

    yaml_file.unlink()                                 # no list: nothing remembered, the type's own words
    assert run(norm, "120116157201")[1][0][0].startswith("村：区划数据文件有误")


def test_conditions_and_values_read_as_the_evaluator_reads_them():
    from core.formlang.expressions import Evaluator

    ev = Evaluator()
    names = {"a": 2, "b": None, "today": dt.date(2026, 12, 1)}
    for expr in ("a > 1", "b > 1", "a / 0", "missing == 1", "a in (1, 2)", "today.year"):
        test = plan.condition(ev, expr)
        assert test(names) == ev.relevant(expr, names)
        assert plan.value(ev, expr)(names) == ev.calculate(expr, names)
    assert plan.condition(ev, None) is None and plan.condition(ev, "") is None


def _form(*fields):
    from core.formlang.formmodel import Form, Section

    return Form(id="t", version=1, title="测试", sections=[Section(id="s", title="节", fields=list(fields))])


def test_a_value_computed_from_a_later_computed_value_still_takes_two_passes():
    from core.records.validation import Validator

    registry = build_registry(load_plugins())
    a = Field(id="a", label="甲", type="integer", calculate="b + 1")
    b = Field(id="b", label="乙", type="integer", calculate="n * 2")
    n = Field(id="n", label="数", type="integer")
    v = Validator(_form(n, a, b), registry)
    assert v._computed_once is False
    assert v.check({"n": 3}) == ({"n": 3, "b": 6, "a": 7}, [])

    in_order = Validator(_form(n, Field(id="b", label="乙", type="integer", calculate="n * 2"),
                               Field(id="a", label="甲", type="integer", calculate="b + 1")), registry)
    assert in_order._computed_once is True
    assert in_order.check({"n": 3}) == ({"n": 3, "b": 6, "a": 7}, [])


def test_a_value_computed_from_a_field_dropped_as_not_relevant_is_computed_again():
    from core.records.validation import Validator

    registry = build_registry(load_plugins())
    shown = Field(id="shown", label="显示", type="choice", choices=["是", "否"])
    x = Field(id="x", label="数", type="integer", relevant="shown == '是'")
    y = Field(id="y", label="倍数", type="integer", calculate="x * 2")
    v = Validator(_form(shown, x, y), registry)
    assert v._computed_once is True
    assert v.check({"shown": "是", "x": 4}) == ({"shown": "是", "x": 4, "y": 8}, [])
    assert v.check({"shown": "否", "x": 4}) == ({"shown": "否"}, [])     # y read x before it was dropped


def test_remembered_conversions_keep_only_answers_nobody_can_change():
    calls = []

    def convert(value):
        calls.append(value)
        return dt.date.fromisoformat(value) if value.startswith("2") else [value]

    conv = plan.remembering(convert)
    assert conv("2026-03-01") == dt.date(2026, 3, 1) and conv("2026-03-01") == dt.date(2026, 3, 1)
    first = conv("x")
    first.append("changed")
    assert conv("x") == ["x"]                    # a list is made afresh each time
    assert calls == ["2026-03-01", "x", "x"]


def test_a_field_of_different_values_lets_its_memory_go_early(types):
    """Each town has a validator of its own: a town's 3,000 names must not be held until a
    memory of 4,096 fills up — all towns' names would be held then."""
    names = plan.normalizer(types["text"], Field(id="t", label="姓名", type="text"))
    for i in range(300):
        run(names, f"名{i}")
    assert _memory(names) == {}
    choices = plan.normalizer(types["choice"], Field(id="c", label="状况", type="choice"))
    for i in range(3000):
        run(choices, ("一般", "低保", "特困")[i % 3] if i % 10 else f"其他{i}")
    assert len(_memory(choices)) == 303          # 300 rare values, asked among 3,000: kept


def test_an_answer_worked_out_under_an_old_scope_is_not_kept_under_the_new_one():
    """A scoped type (division codes: the division list and today's date) whose scope changes
    while an answer is being worked out (another thread saw the new division file) keeps that
    answer with the old scope: asked again under the new scope, it is worked out again."""
    class Scoped:
        name, widget, format, options = "scoped", "text", None, {}
        pure = False

        def __init__(self):
            self.token, self.inner = 0, None

        def memo_scope(self):
            return self.token

        def normalize(self, value, field):
            answer = f"{value}@{self.token}"
            if value == "a" and self.token == 0:     # meanwhile, under a new scope
                self.token = 1
                self.inner("b", "t", [])
            return answer

    kind = Scoped()
    norm = plan.normalizer(kind, Field(id="t", label="编码", type="text"))
    kind.inner = norm
    assert norm("a", "t", []) == "a@0"
    assert norm("a", "t", []) == "a@1"               # not the answer made under scope 0
