"""Conditional `required` and `relevant` expressed in a form's JSON Schema (`if`/`then`).

`carebook forms schema` is what other systems get to check records with. Relevance and
required-ness depend on other answers, so the plain schema leaves them out (carebook checks them
with its own expressions, in Chinese, see `core.records.validation`). Here the common shapes an
admin writes are turned into Draft 2020-12 conditions a stock validator understands:

- `x == 'v'`, `x != 'v'`, `x in ('a', 'b')`, `has(x, 'v')`, `not`, `and`, `or`;
- a relevant field or section: `if: {not: C}` → `then: {properties: {f: false}}` (not stored);
- a required one: `if: C (and its relevance)` → `then: {required: [f]}`.

An expression of another shape stays as the annotation `x-relevant` / `x-required` on the
field, which validators ignore and readers can still see.
"""
from __future__ import annotations

import ast
import copy
from typing import Any

from core.formlang.formmodel import Form

Schema = dict[str, Any]


def _const(node: ast.AST) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.Tuple, ast.List)) and all(isinstance(e, ast.Constant) for e in node.elts):
        return [e.value for e in node.elts]
    raise ValueError


def _has(name: str, schema: Schema) -> Schema:
    return {"required": [name], "properties": {name: schema}}


def _condition(node: ast.AST, fields: set[str]) -> Schema:
    """A JSON Schema true exactly when the expression is; ValueError for other shapes."""
    if isinstance(node, ast.Expression):
        return _condition(node.body, fields)
    if isinstance(node, ast.BoolOp):
        parts = [_condition(v, fields) for v in node.values]
        return {"allOf" if isinstance(node.op, ast.And) else "anyOf": parts}
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return {"not": _condition(node.operand, fields)}
    if (isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.left, ast.Name)
            and node.left.id in fields):
        name, op, value = node.left.id, node.ops[0], _const(node.comparators[0])
        if isinstance(op, ast.Eq):
            return _has(name, {"const": value})
        if isinstance(op, ast.NotEq):
            return {"not": _has(name, {"const": value})}
        if isinstance(op, ast.In) and isinstance(value, list):
            return _has(name, {"enum": value})
        if isinstance(op, ast.NotIn) and isinstance(value, list):
            return {"not": _has(name, {"enum": value})}
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "has"
            and len(node.args) == 2 and isinstance(node.args[0], ast.Name) and node.args[0].id in fields):
        return _has(node.args[0].id, {"contains": {"const": _const(node.args[1])}})
    raise ValueError


def condition(expr: str | None, fields: set[str]) -> Schema | None:
    """The schema form of an expression, or None when it has another shape."""
    if not expr:
        return None
    try:
        return _condition(ast.parse(expr.strip(), mode="eval"), fields)
    except (ValueError, SyntaxError):
        return None


def with_conditions(schema: Schema, form: Form) -> Schema:
    """`schema` (from `compile_form`) plus `if`/`then` for required and relevant fields."""
    out = copy.deepcopy(schema)
    fields = {f.id for f in form.top_fields()}
    rules: list[Schema] = []
    always: list[str] = []
    for section in form.sections:
        for f in section.fields:
            exprs = [e for e in (section.relevant, f.relevant) if e]
            shown = [condition(e, fields) for e in exprs]
            prop = out["properties"].get(f.id)
            if any(s is None for s in shown):
                if prop is not None:
                    prop["x-relevant"] = " and ".join(f"({e})" for e in exprs)
                shown = []        # cannot say when it is hidden: neither forbid nor require it
                untranslatable = True
            else:
                untranslatable = False
            when_shown = shown[0] if len(shown) == 1 else {"allOf": shown} if shown else None
            if when_shown is not None:
                rules.append({"if": {"not": when_shown}, "then": {"properties": {f.id: False}}})
            if f.computed:
                continue
            if isinstance(f.required, str):
                req = condition(f.required, fields)
                if req is None:
                    if prop is not None:
                        prop["x-required"] = f.required
                    continue
                cond = {"allOf": [when_shown, req]} if when_shown is not None else req
                if not untranslatable:
                    rules.append({"if": cond, "then": {"required": [f.id]}})
            elif f.required and not untranslatable:
                if when_shown is None:
                    always.append(f.id)
                else:
                    rules.append({"if": when_shown, "then": {"required": [f.id]}})
    if always:
        out["required"] = always
    if rules:
        out["allOf"] = rules
    return out
