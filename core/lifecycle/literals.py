"""Expressions that compare a choice field with a value the field no longer offers.

Renaming a choice (经济状况 一般 → 非困难) in `lists/` leaves `count: "economic_status == '一般'"` in
the summary, a risk case or a skip rule silently false: the summary's column 13 drops to 0 and
its identity breaks. Every expression of the forms, views and reports is read for
`field == '值'`, `field != '值'`, `field in ('值', ...)` and `has(field, '值')` where `field` is a
choice field of the form it reads; a value not among the field's choices is a located error.
"""
from __future__ import annotations

import ast
from typing import Iterator

from core.problems import Problem

EXPR_KEYS = {"relevant", "calculate", "when", "check", "required", "count", "expr", "where", "base", "initial"}


def _walk(node, path: tuple = ()) -> Iterator[tuple[tuple, str]]:
    if isinstance(node, dict):
        for k, v in node.items():
            if k in EXPR_KEYS and isinstance(v, str):
                yield path + (k,), v
            else:
                yield from _walk(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, path + (i,))


def _literals(expr: str) -> Iterator[tuple[str, str]]:
    """(name, string literal) pairs the expression compares."""
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError:
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and isinstance(node.left, ast.Name):
            for op, right in zip(node.ops, node.comparators):
                if isinstance(op, (ast.Eq, ast.NotEq)) and isinstance(right, ast.Constant) and isinstance(right.value, str):
                    yield node.left.id, right.value
                elif isinstance(op, (ast.In, ast.NotIn)) and isinstance(right, (ast.Tuple, ast.List, ast.Set)):
                    for e in right.elts:
                        if isinstance(e, ast.Constant) and isinstance(e.value, str):
                            yield node.left.id, e.value
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "has"
              and len(node.args) == 2 and isinstance(node.args[0], ast.Name)
              and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)):
            yield node.args[0].id, node.args[1].value


def _choices(form) -> dict[str, set[str]]:
    return {f.id: {v for v, _ in form.choices_for(f)} for f in form.top_fields() if f.choices is not None}


def literal_problems(formset) -> list[Problem]:
    """Located errors for comparisons with values a choice field does not have."""
    out: list[Problem] = []
    targets = [(doc, formset.forms.get(fid)) for fid, doc in formset.form_docs.items()]
    targets += [(doc, formset.forms.get((doc.data or {}).get("form"))) for doc in formset.docs.values()]
    for doc, form in targets:
        if form is None or not isinstance(doc.data, dict):
            continue
        choices = _choices(form)
        for path, expr in _walk(doc.data):
            for name, value in _literals(expr):
                if name in choices and choices[name] and value not in choices[name]:
                    shown = "、".join(sorted(choices[name]))
                    out.append(doc.problem(path, f"表达式把 {name} 与 “{value}” 比较，但 {name} 没有这个选项（有：{shown}），"
                                                 f"结果永远不成立；选项改名后请一并修改这里 (choice value)",
                                           rule="choice-value"))
    return out
