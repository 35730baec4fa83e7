"""The import check's fast paths give what the plain paths give (issue 13, third round).

- A computed field's `cases` run as one expression (`validationplan.first`); the risk level is
  compared with its cases asked one by one through `Evaluator.relevant` over every combination
  of the inputs of the risk table (domain README §6), half-filled records included, where a
  condition fails (`None >= 80`, a child row without its key) and the answer is worked out
  again one condition at a time.
- A comprehension that reads no record name inside itself runs with the names as locals, not
  merged into the globals (`exprcompile._reads_outer_names`): every shipped expression gives
  the same answer both ways.
- A remembered text is looked up by `Validator.normalize` and the computed-value cleaner
  themselves: the same clean data and the same problems as the normalizer's own call, refusals
  included.
"""
from __future__ import annotations

import datetime as dt
import itertools

import pytest

from binhai_support import TODAY, id_for, open_engine, person, years_before
from core.formlang.exprcompile import Compiled
from core.records import validationplan as plan


@pytest.fixture(scope="module")
def eng(tmp_path_factory):
    e = open_engine(tmp_path_factory.mktemp("fastpaths"))
    yield e
    e.close()


def _one_by_one(ev, field, names):
    """The case that applies as the generic evaluator reads the cases, one after another."""
    for i, case in enumerate(field.cases):
        if not case.when or ev.relevant(case.when, names):
            return i
    return len(field.cases)


RARELY = {"child_name": "张伟", "child_relation": "子", "child_contact": "很少"}
QUARTERLY = dict(RARELY, child_contact="每季度")
MONTHLY = dict(RARELY, child_contact="每月")
NO_KEY = {"child_name": "张伟"}                     # a row without 联系情况: `c['child_contact']` fails


def _ids():
    born = {age: years_before(TODAY, age) - dt.timedelta(days=30) for age in (85, 75, 65)}
    return [None, "120107********0032"] + [id_for(b) for b in born.values()]


RISK_INPUTS = {            # every input of the risk table, each with its telling values and empty
    "self_care": [None, "失能", "半失能", "自理"],
    "serious_illness": [None, "是"],
    ("health_status", "disability_grade"): [(None, None), ("残疾", "二级"), ("残疾", "四级"), ("患病", None)],
    "economic_status": [None, "低保", "低收入", "一般"],
    "has_caregiver": [None, "是", "否"],
    "children": [None, [RARELY], [QUARTERLY], [MONTHLY, QUARTERLY], [NO_KEY]],
    "housing_hazard": [None, "是"],
    "diseases": [None, ["高血压"]],
}


def test_the_risk_levels_cases_at_once_equal_them_one_by_one_over_every_combination(eng):
    v = eng.validator("registration")
    ev = v.evaluator
    field = v.form.field("risk_level")
    at_once = plan.first(ev, [case.when for case in field.cases])
    assert at_once.__name__ != "one_by_one"           # the fast path is what is tested here
    keys = list(RISK_INPUTS)
    base = v.names({})
    seen, fallbacks = set(), 0
    for id_number in _ids():
        base_id = dict(base, id_number=id_number)
        for combo in itertools.product(*RISK_INPUTS.values()):
            names = dict(base_id)
            for key, value in zip(keys, combo):
                if isinstance(key, tuple):
                    names.update(zip(key, value))
                else:
                    names[key] = value
            want = _one_by_one(ev, field, names)
            assert at_once(names) == want, names
            seen.add(want)
            fallbacks += isinstance(names["children"], list) and NO_KEY in names["children"]
    assert seen == set(range(len(field.cases)))       # every case, the last (低) included, was the answer
    assert fallbacks > 1000                           # and many answers came through a failing condition


def test_eligibility_cases_at_once_equal_them_one_by_one(eng):
    v = eng.validator("registration")
    field = v.form.field("eligible")
    at_once = plan.first(v.evaluator, [case.when for case in field.cases])
    seen = set()
    for age, hukou, away, left, alone in itertools.product(
            (None, 59, 60, 75), (None, "农业(农村)", "非农业"), (None, "是", "否"),
            (None, "2026-01-01", TODAY.isoformat(), "not a day"), (None, "是", "否", "与配偶同住")):
        data = person(age=age or 65, hukou_type=hukou, all_supporters_away=away, last_left_date=left, lives_alone=alone)
        if age is None:
            data.pop("id_number")
        names = v.names(data)
        want = _one_by_one(v.evaluator, field, names)
        assert at_once(names) == want
        seen.add(want)
    assert seen == set(range(len(field.cases)))


def test_cases_with_a_broken_condition_or_none_at_all_read_as_before():
    from core.formlang.expressions import Evaluator

    ev = Evaluator()
    whens = ["a > 1", "nobody == 1", "a / 0", "", "b"]            # unknown name, failure, always
    first = plan.first(ev, whens)
    assert first({"a": 2}) == 0 and first({"a": 0}) == 3 and first({"a": None}) == 3
    assert plan.first(ev, ["a >", "a == 1"])({"a": 1}) == 1      # one that does not parse: false, as `condition`
    assert plan.first(ev, ["a == 1", "a == 2"])({"a": 3}) == 2    # none holds: one past the end
    assert plan.first(ev, [])({}) == 0


def test_a_comprehension_runs_unmerged_only_when_it_reads_no_record_name_inside(eng):
    import ast

    ev = eng.evaluator
    assert not ev.compiled("any(c['child_contact'] in ('很少', '失联') for c in (children or []))").scoped
    assert not ev.compiled("len([c for c in (children or []) if c['child_relation'] in ('子', '女')])").scoped
    assert not ev.compiled("[len(c) for c in children]").scoped           # a function is a global
    assert ev.compiled("[c for c in children if c['age'] > limit]").scoped
    assert ev.compiled("[c for c in children if c['age'] > settings.min_age]").scoped
    assert ev.compiled("[today for c in children]").scoped
    nested = "[[x for x in c if x > limit] for c in rows]"     # refused by the language, read right all the same
    assert Compiled(ast.parse(nested).body[0], nested).scoped
    nested = "[[x for x in c if x > 1] for c in rows]"
    assert not Compiled(ast.parse(nested).body[0], nested).scoped


def _form_expressions(form) -> list[str]:
    out = []
    for f in form.all_fields() if hasattr(form, "all_fields") else _fields(form):
        out += [f.relevant, f.required if isinstance(f.required, str) else None, f.calculate, f.initial]
        out += [case.when for case in f.cases] + [x for r in f.rules for x in (r.check, r.when)]
    out += [s.relevant for s in form.sections] + [x for r in form.rules for x in (r.check, r.when)]
    return [e for e in dict.fromkeys(out) if isinstance(e, str) and e.strip()]


def _fields(form):
    for f in form.top_fields():
        yield f
        yield from f.fields


def test_every_shipped_expression_gives_the_same_unmerged_and_merged(eng):
    from test_expressions import _expressions

    ev = eng.evaluator
    v = eng.validator("registration")
    full = v.names(eng.compute("registration", person(age=82, children=[RARELY, QUARTERLY]))[0])
    samples = [full, v.names({"name": "王芳", "children": None}), dict(full, children=[NO_KEY]),
               dict(full, children=[{**RARELY, "child_whereabouts": "天津市"}]),
               eng.validator("visit").names({"visit_level": "村委会", "visit_date": "2026-11-02"})]
    exprs = list(dict.fromkeys(_expressions(eng.forms.files) + _form_expressions(eng.form("registration"))
                               + _form_expressions(eng.form("visit"))))
    unmerged = set()
    for expr in exprs:
        compiled = ev.compiled(expr)
        if not compiled.scoped and " for " in expr:
            unmerged.add(expr)
        for names in samples:
            assert _outcome(lambda: compiled.run(ev._globals, dict(names))) == \
                _outcome(lambda: eval(compiled.code, {**ev._globals, **names})), expr   # noqa: S307
    assert len(unmerged) >= 4, unmerged          # the risk level's two, two rules, a roster column


def _outcome(fn):
    try:
        return ("ok", fn())
    except Exception as exc:  # noqa: BLE001 - failing must match failing
        return ("error", type(exc).__name__)


def test_normalize_looking_up_remembered_texts_itself_gives_the_normalizers_answers(eng):
    """Refusals, blanks, lists and numbers go through the normalizer; the texts it remembers are
    looked up by `normalize`: each record twice (the second time from memory) equals the
    normalizer called field by field on a validator of its own."""
    from core.records.validation import Validator

    v = eng.validator("registration")
    records = [person(), person(age=81, health_status="良好", filing_date="2026/1/5", children_count="两个"),
               person(marital=" 丧偶 ", hukou_type="", diseases=["高血压", "高血压"], self_care="自理\u200b"),
               {**person(), "children": [{"child_name": " 张伟 ", "child_relation": "孙子", "child_contact": "很少"}]}]
    for data in records * 3:
        fresh = Validator(v.form, v.registry)
        problems: list = []
        want = {}
        for key, value in data.items():
            norm = fresh._normalizer(fresh.form.field(key)) if fresh.form.field(key) else None
            value = value if norm is None else norm(value, key, problems)
            if value is not None:
                want[key] = value
        clean, found = v.normalize(data)
        assert clean == want
        assert [(p.message, p.path, p.rule) for p in found] == [(p.message, p.path, p.rule) for p in problems]
    assert v._top_memories                           # the look-up was there to be used


def test_the_shape_checks_quick_look_reports_what_the_full_look_reports(eng, monkeypatch):
    """`shape._check` lets the usual values of a known field through at once (short texts,
    bounded integers, nothing, yes/no, a multi's short texts); everything near the bounds,
    of another type or nested is reported as the full look reports it."""
    from core.records import shape

    form = eng.form("registration")
    odd = ["短", "长" * shape.MAX_TEXT, "长" * (shape.MAX_TEXT + 1), shape.MAX_NUMBER, shape.MAX_NUMBER + 1,
           -shape.MAX_NUMBER, -shape.MAX_NUMBER - 1, True, None, 1.5, float("nan"), float("inf"), [], ["高血压"],
           ["长" * (shape.MAX_TEXT + 1)], ["高血压", 3], [["嵌套"]], ["x"] * (shape.MAX_ITEMS + 1), {"a": 1}, ("元组",)]
    records = [{**person(), fid: value} for fid in ("name", "children_count", "diseases", "annual_income", "children",
                                                   "unknown_field") for value in odd]
    records += [{**person(), "children": [{"child_name": value, "child_contact": value}]} for value in odd]
    said = lambda ps: [(p.message, p.path, p.rule) for p in ps]       # noqa: E731
    quick = [said(shape.shape_problems(form, r)) for r in records]
    real = shape._fields_by_id
    monkeypatch.setattr(shape, "_fields_by_id", lambda fields, known: (real(fields, known)[0], {}))   # the full look only
    full = [said(shape.shape_problems(form, r)) for r in records]
    assert quick == full
    assert sum(map(bool, full)) > len(records) // 3          # many of them were refused


def test_an_import_check_still_asks_a_plugin_that_checks_records(tmp_path):
    """The import check asks once which per-record hooks exist (`Engine.checking_in_bulk`): a
    plugin's `validate_record` is still called for every row, and afterwards every save asks
    again."""
    from carebook import hookimpl
    from core.engine import Engine
    from core.problems import Problem
    from core.transfer.importing import import_records
    from binhai_support import copy_forms

    src = open_engine(tmp_path / "src")
    for name in ("王秀英", "李桂兰", "张淑珍"):
        src.save("registration", person(name=name))
    [book] = src.export("records", "xlsx", tmp_path / "all.xlsx", full=True)
    src.close()
    asked = []

    class Checks:
        __name__ = "checks"

        @hookimpl
        def validate_record(self, form_id, data, record_id):
            asked.append(data.get("name"))
            return [Problem("请核实姓名", path="name", rule="check_name")] if data.get("name") == "李桂兰" else None

    eng = Engine.open(tmp_path / "dst" / "data", copy_forms(tmp_path / "dst"), operator="测试员", extra_plugins=[Checks()])
    try:
        res = import_records(eng, "registration", book, dry_run=True)
        assert set(asked) == {"张淑珍", "李桂兰", "王秀英"}        # (a refused row may be asked again)
        assert [p.line for p in res.problems] == [3] and "请核实姓名" in res.problems[0].message
        assert eng._bulk_hooks is None
        asked.clear()
        eng.validate("registration", person(name="赵"))
        assert asked == ["赵"]
    finally:
        eng.close()


def test_an_id_number_already_clean_is_judged_as_the_full_cleaning_judges_it():
    """`ids._checked` takes a number written as cleaning leaves it straight to its date and
    check character: for every test vector and the ways staff spoil them, the same number or
    the same refusal as `normalize_id` + `check_id`."""
    from pathlib import Path

    import yaml

    from plugins.cn import ids

    vectors = yaml.safe_load((Path(__file__).parent / "fixtures" / "id-vectors.yaml").read_text("utf-8"))
    texts = {str(v) for v in _leaves(vectors) if isinstance(v, (str, int))}
    spoilt = set()
    for t in texts:
        spoilt |= {t, t.lower(), f" {t} ", t[:-1], t + "0", t.replace("X", "x"), t[:6] + "-" + t[6:],
                   t.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")), t[:17] + "X", t[:6] + "99991231" + t[14:]}
    days = [dt.date(2026, 12, 7), dt.date(1950, 1, 1)]
    checked = 0
    for text in sorted(spoilt):
        for day in days:
            want = _outcome(lambda: _reference(ids, text, day))
            assert _outcome(lambda: ids._checked(text, day)) == want, (text, day)
            checked += want[0] == "ok"
    assert checked > 10


def _reference(ids, text, day):
    number = ids.normalize_id(text)
    reason = ids.check_id(number, day)
    if reason:
        raise ValueError(reason)
    return number


def _leaves(node):
    if isinstance(node, dict):
        for v in node.values():
            yield from _leaves(v)
    elif isinstance(node, list):
        for v in node:
            yield from _leaves(v)
    else:
        yield node
