"""Form expressions turned into Python code objects, run with no built-ins.

Why: a 50,000-person roster evaluates about a million column expressions, and the summary and
every save run the form's `cases` and rules. simpleeval walks the AST in Python for each one
(10–30 µs); a code object runs the same expression in well under a microsecond. The language
stays exactly as safe as the checked AST allows, because the compiled code can only do what
the rewritten tree says:

- `Evaluator.parse` admits only a whitelist of node types (no lambdas, no assignment, no
  statements, no attribute starting with `_`);
- every call must name a function, and is rewritten to `_cbf_<name>`, a key that only the
  evaluator's own function table puts in the globals, so `open(...)`, `__import__(...)` or a
  field holding a value can never be called; there are no built-ins (`__builtins__` is empty);
- attribute access becomes `_cb_attr(obj, 'name')`, which refuses `_` names, reads a mapping's
  key as simpleeval did (`row.name`), and never returns a module; since only named functions
  can be called, a method read off an object cannot be run;
- `*`, `**`, `+`, `%` and every f-string value go through the guards of
  `core.formlang.exprlimits`, so `'x' * 10**9` or `4000000**4000000` is refused rather than
  eating the memory or the afternoon of a village office PC.
"""
from __future__ import annotations

import ast
import copy
import types
from typing import Any, Callable

from simpleeval import AttributeDoesNotExist, FeatureNotAvailable

from core.formlang.exprlimits import GUARD_GLOBALS, GUARD_NAMES

FUNCTION_PREFIX = "_cbf_"
_ATTR = "_cb_attr"
_GUARDS = GUARD_NAMES
_SCOPED = (ast.ListComp, ast.GeneratorExp, ast.DictComp, ast.SetComp)


def read_attribute(obj: Any, name: str) -> Any:
    """`obj.name` as simpleeval reads it: the attribute, else the mapping's key."""
    if name.startswith("_"):
        raise FeatureNotAvailable(f"不能访问以下划线开头的属性 {name}")
    try:
        item = getattr(obj, name)
    except (AttributeError, TypeError):
        try:
            item = obj[name]
        except (KeyError, TypeError, IndexError):
            raise AttributeDoesNotExist(name, "") from None
    if isinstance(item, types.ModuleType):
        raise FeatureNotAvailable("表达式里不能使用模块")
    return item


def base_globals(functions: dict[str, Callable]) -> dict[str, Any]:
    """What compiled expressions see besides the record's names: functions and guards only."""
    out: dict[str, Any] = {FUNCTION_PREFIX + name: fn for name, fn in functions.items()}
    out.update({_ATTR: read_attribute, **GUARD_GLOBALS})
    out["__builtins__"] = {}
    return out


class _Rewrite(ast.NodeTransformer):
    """Calls to the function table, attributes and unbounded operators to their guards."""

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        if not isinstance(node.func, ast.Name):
            raise ValueError("只能调用函数名，如 age_on(birth_date, today)，不能调用方法")
        node.func = ast.Name(id=FUNCTION_PREFIX + node.func.id, ctx=ast.Load())
        return node

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        self.generic_visit(node)
        if not isinstance(node.ctx, ast.Load):
            raise ValueError("不能给属性赋值")
        return ast.Call(func=ast.Name(id=_ATTR, ctx=ast.Load()),
                        args=[node.value, ast.Constant(node.attr)], keywords=[])

    def visit_FormattedValue(self, node: ast.FormattedValue) -> ast.AST:
        self.generic_visit(node)
        node.value = ast.Call(func=ast.Name(id="_cb_value", ctx=ast.Load()), args=[node.value], keywords=[])
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        guard = _GUARDS.get(type(node.op))
        if guard is None:
            return node
        return ast.Call(func=ast.Name(id=guard, ctx=ast.Load()), args=[node.left, node.right], keywords=[])


class Compiled:
    """One expression ready to run: its code object, and whether it needs one merged scope.

    Comprehensions are functions of their own in Python 3.11, and the names they read from
    outside are looked up as globals, so an expression with one runs with the record's names
    merged into the globals; the others run with the names as locals, which copies nothing."""

    __slots__ = ("code", "scoped", "bare")

    def __init__(self, node: ast.Expr, source: str):
        value = node.value
        self.bare = value.id if isinstance(value, ast.Name) else None
        self.scoped = any(isinstance(n, _SCOPED) for n in ast.walk(value))
        body = _Rewrite().visit(ast.Expression(body=copy.deepcopy(value)))   # the checker keeps the original
        self.code = compile(ast.fix_missing_locations(body), f"<表达式 {source}>", "eval")

    def run(self, globals_: dict[str, Any], names: dict[str, Any]) -> Any:
        if self.bare is not None and self.bare in names:
            return names[self.bare]
        if self.scoped:
            return eval(self.code, {**globals_, **names})  # noqa: S307 - checked and rewritten AST, no built-ins
        return eval(self.code, globals_, names)  # noqa: S307 - checked and rewritten AST, no built-ins

