"""Relevance expressions in words, for paper forms.

On screen a section simply appears or not; on paper the interviewer needs to be told
“若无委托照顾人，跳过本节”. Form expressions are Python-syntax (simpleeval), so they are
parsed with `ast` and the common shapes — comparisons, `in`, and/or/not, `has()`, `empty()`,
`len()` — are put into Chinese with field labels and choice labels. Anything else falls back
to the expression itself, which is still better than silently dropping the condition.
"""
from __future__ import annotations

import ast
from typing import Callable

from core.transfer.exportform import FieldInfo

NEGATE = {ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Gt: ast.LtE, ast.LtE: ast.Gt,
          ast.Lt: ast.GtE, ast.GtE: ast.Lt, ast.In: ast.NotIn, ast.NotIn: ast.In,
          ast.Is: ast.IsNot, ast.IsNot: ast.Is}
WORDS = {ast.Eq: "为", ast.NotEq: "不为", ast.Gt: "大于", ast.GtE: "不小于", ast.Lt: "小于",
         ast.LtE: "不大于", ast.In: "为", ast.NotIn: "不为"}


class _Unreadable(Exception):
    pass


def _negate(node: ast.AST) -> ast.AST:
    """`not expr` pushed inwards (De Morgan), so hints read “若…不为…” not “若并非（…）”."""
    if isinstance(node, ast.BoolOp):
        other = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        return ast.BoolOp(op=other, values=[_negate(v) for v in node.values])
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return node.operand
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in NEGATE:
        return ast.Compare(left=node.left, ops=[NEGATE[type(node.ops[0])]()], comparators=node.comparators)
    return ast.UnaryOp(op=ast.Not(), operand=node)


class Speaker:
    """Puts one form's expressions into Chinese, knowing its field labels and choices."""

    def __init__(self, field: Callable[[str], FieldInfo | None]):
        self.field = field

    def say(self, expr: str, negate: bool = False) -> str:
        try:
            node = ast.parse(expr.strip(), mode="eval").body
            return self._say(_negate(node) if negate else node)
        except (SyntaxError, _Unreadable, ValueError):
            return ("不满足条件 " if negate else "满足条件 ") + expr.strip()

    def _name(self, node: ast.AST) -> tuple[str, FieldInfo | None]:
        if isinstance(node, ast.Name):
            f = self.field(node.id)
            return (f"“{f.label}”" if f else node.id), f
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "settings":
            return f"设置“{node.attr}”", None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "len" and node.args:
            label, _ = self._name(node.args[0])
            return f"{label}的数量", None
        raise _Unreadable

    def _value(self, node: ast.AST, f: FieldInfo | None) -> str:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool):
                return "是" if node.value else "否"
            if node.value is None:
                return "空"
            return f"“{f.label_of(node.value)}”" if f and f.choices else str(node.value)
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            return "或".join(self._value(e, f) for e in node.elts)
        raise _Unreadable

    def _say(self, node: ast.AST) -> str:
        if isinstance(node, ast.BoolOp):
            joiner = "且" if isinstance(node.op, ast.And) else "或"
            return joiner.join(self._say(v) for v in node.values)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            inner = node.operand
            if isinstance(inner, (ast.Name, ast.Call)):
                return self._truth(inner, False)
            return f"并非（{self._say(inner)}）"
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            op = type(node.ops[0])
            label, f = self._name(node.left)
            right = node.comparators[0]
            if isinstance(right, ast.Constant) and right.value is None:
                return f"{label}{'未填' if op in (ast.Is, ast.Eq) else '已填'}"
            if op not in WORDS:
                raise _Unreadable
            if op is ast.NotEq and f and len(f.choices) == 2 and isinstance(right, ast.Constant):
                other = [lab for v, lab in f.choices if v != str(right.value)]
                if len(other) == 1:           # 是/否: “不为是” reads better as “为否”
                    return f"{label}为“{other[0]}”"
            return f"{label}{WORDS[op]}{self._value(right, f)}"
        if isinstance(node, (ast.Name, ast.Call)):
            return self._truth(node, True)
        raise _Unreadable

    def _truth(self, node: ast.AST, positive: bool) -> str:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            fn, args = node.func.id, node.args
            if fn == "has" and len(args) == 2:
                label, f = self._name(args[0])
                return f"{label}{'含' if positive else '不含'}{self._value(args[1], f)}"
            if fn == "empty" and len(args) == 1:
                return f"{self._name(args[0])[0]}{'未填' if positive else '已填'}"
            raise _Unreadable
        label, f = self._name(node)
        if f and f.type == "boolean":
            return f"{label}为{'是' if positive else '否'}"
        return f"{label}{'已填' if positive else '未填'}"


def section_hint(speaker: Speaker, relevant: str | None, paper_hint: str = "") -> str:
    if paper_hint:
        return paper_hint
    if not relevant:
        return ""
    return f"若{speaker.say(relevant, negate=True)}，跳过本节。"


def field_hint(speaker: Speaker, relevant: str | None, paper_hint: str = "") -> str:
    if paper_hint:
        return paper_hint
    if not relevant:
        return ""
    return f"仅当{speaker.say(relevant)}时填写"
