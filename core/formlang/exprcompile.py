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
import symtable
import sys
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


def first_true(conditions: list[ast.Expr | None]) -> ast.Expr:
    """One expression for a list of parsed conditions (None: always true): `0 if c0 else 1 if
    c1 else … else n`, the index of the first that holds, n when none does. Python's
    conditional expression evaluates the conditions in order and stops at the first true one,
    as a loop over them would; each part was checked when it was parsed, and joining checked
    parts with `if`/`else` adds nothing the language lacks."""
    chain: ast.expr = ast.Constant(len(conditions))
    for i in reversed(range(len(conditions))):
        node = conditions[i]
        chain = ast.Constant(i) if node is None else ast.IfExp(test=node.value, body=ast.Constant(i), orelse=chain)
    return ast.Expr(value=chain)


def _reads_outer_names(body: ast.Expression) -> bool:
    """Whether a comprehension of the (rewritten) expression reads a name from outside itself
    that only the record's names hold — a field, `settings`, `today`, `row`. A comprehension's
    first iterable is evaluated where the expression runs (`for c in (children or [])` reads
    `children` as any other name); what its body reads from outside is looked up as a global,
    and the globals hold only the functions and guards (`base_globals`, every name `_cb…`, a
    prefix no field id can have). So `any(c['child_contact'] == '失联' for c in (children or []))`
    runs with the names as locals, and `[c for c in children if c['age'] > min_age]` merged.
    Python's own symbol table says which names are global in each comprehension. Other Python
    versions (3.12 inlines comprehensions) are given the merged scope, as before."""
    if sys.version_info[:2] != (3, 11):
        return True
    try:
        table = symtable.symtable(ast.unparse(body), "<表达式>", "eval")
    except (SyntaxError, ValueError, RecursionError):
        return True

    def outer(t: symtable.SymbolTable) -> bool:
        return any(s.is_global() and not s.get_name().startswith("_cb") for s in t.get_symbols()) or \
            any(outer(c) for c in t.get_children())
    return any(outer(child) for child in table.get_children())


class Compiled:
    """One expression ready to run: its code object, and whether it needs one merged scope.

    Comprehensions are functions of their own in Python 3.11, and the names they read from
    outside are looked up as globals, so an expression whose comprehension reads a record's
    name inside it runs with the names merged into the globals; the others run with the names
    as locals, which copies nothing (`_reads_outer_names`)."""

    __slots__ = ("code", "scoped", "bare")

    def __init__(self, node: ast.Expr, source: str):
        value = node.value
        self.bare = value.id if isinstance(value, ast.Name) else None
        body = _Rewrite().visit(ast.Expression(body=copy.deepcopy(value)))   # the checker keeps the original
        ast.fix_missing_locations(body)
        self.scoped = any(isinstance(n, _SCOPED) for n in ast.walk(value)) and _reads_outer_names(body)
        self.code = compile(body, f"<表达式 {source}>", "eval")

    def run(self, globals_: dict[str, Any], names: dict[str, Any]) -> Any:
        if self.bare is not None and self.bare in names:
            return names[self.bare]
        if self.scoped:
            return eval(self.code, {**globals_, **names})  # noqa: S307 - checked and rewritten AST, no built-ins
        return eval(self.code, globals_, names)  # noqa: S307 - checked and rewritten AST, no built-ins

