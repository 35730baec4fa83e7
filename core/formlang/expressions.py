"""The safe expression language of form files (relevant, required, calculate, cases, rules).

Admins write expressions; nothing they write may run arbitrary code. Each expression is parsed
once and checked against a whitelist of node types (comprehensions and list/dict literals, no
lambdas, no assignment, no attribute dunders), then compiled by `core.formlang.exprcompile` into a code
object that runs with no built-ins and can only call the registered functions — the same
language simpleeval defines, at native speed, since the same handful of expressions run for
every record of a roster. `names_used` lets the form
checker reject unknown names and functions when a form file loads, instead of when staff type.
"""
from __future__ import annotations

import ast
import datetime as dt
import difflib
import math
import threading
from types import SimpleNamespace
from typing import Any, Callable, Iterable

from simpleeval import InvalidExpression, NameNotDefined

from core import dates
from core.formlang.exprcompile import FUNCTION_PREFIX, Compiled, base_globals
from core.formlang.exprlimits import BOUNDED_FUNCTIONS, TooCostly, check_static


class ExpressionError(Exception):
    """An expression that does not parse or cannot be evaluated; the text is Chinese."""


def empty(value: Any) -> bool:
    """True for a value staff have not filled: None, blank text, an empty list or mapping."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value or value.isspace()     # (what `not value.strip()` says, without a copy)
    if isinstance(value, (list, tuple, set, dict)):
        return len(value) == 0
    return False


def has(items: Any, value: Any) -> bool:
    """`has(diseases, '高血压')`: membership that is False (not an error) on an empty field."""
    return bool(items) and value in items


def count(items: Any, value: Any = None) -> int:
    """`count(list)` counts the truthy items; `count(list, v)` counts items equal to v."""
    if not items:
        return 0
    if value is None:
        return sum(1 for i in items if i)
    return sum(1 for i in items if i == value)


def _len(value: Any) -> int:
    return 0 if value is None else len(value)


def _date(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value).strip())


BUILTINS: dict[str, Callable] = {
    "len": _len, "any": any, "all": all, "min": min, "max": max, "sum": sum, "abs": abs,
    "round": round, "int": int, "float": float, "str": str, "bool": bool,
    "date": _date, "empty": empty, "has": has, "count": count,
    "floor": math.floor, "ceil": math.ceil,
    **BOUNDED_FUNCTIONS,      # str, sum, round with bounds on what they build
}

# Names every expression may use besides field ids and functions.
CONTEXT_NAMES = frozenset({"settings", "today", "True", "False", "None"})
ROW_NAMES = frozenset({"row", "parent"})

# AST node types an expression may contain, checked when it is parsed (the language simpleeval's
# EvalWithCompoundTypes defines).
_ALLOWED_NODES = (
    ast.Expr, ast.Name, ast.Load, ast.Store, ast.UnaryOp, ast.BinOp, ast.BoolOp, ast.Compare, ast.IfExp,
    ast.Call, ast.keyword, ast.Subscript, ast.Attribute, ast.Slice, ast.JoinedStr, ast.FormattedValue,
    ast.Constant, ast.Dict, ast.Tuple, ast.List, ast.Set, ast.ListComp, ast.GeneratorExp, ast.DictComp,
    ast.comprehension, ast.Starred, ast.operator, ast.unaryop, ast.boolop, ast.cmpop,
)


def explain(exc: BaseException) -> str:
    """A Chinese sentence for an evaluation error (the Python name kept in parentheses)."""
    if isinstance(exc, ExpressionError):
        return str(exc)
    if isinstance(exc, NameNotDefined):
        return f"未知的名字 {exc.name} (NameNotDefined)"
    if isinstance(exc, NameError):
        name = getattr(exc, "name", None) or str(exc)
        if name.startswith(FUNCTION_PREFIX):
            return f"未知的函数 {name[len(FUNCTION_PREFIX):]} (NameError)"
        return f"未知的名字 {name} (NameError)"
    if isinstance(exc, TypeError):
        return f"数据类型不匹配，可能有字段为空，可先用 empty(...) 判断 (TypeError: {exc})"
    if isinstance(exc, ZeroDivisionError):
        return "除数为零 (ZeroDivisionError)"
    if isinstance(exc, (KeyError, IndexError)):
        return f"取不到 {exc}（行里没有这一项）({type(exc).__name__})"
    if isinstance(exc, ValueError):
        return f"取值无效 (ValueError: {exc})"
    if isinstance(exc, InvalidExpression):
        return f"表达式不可用 ({type(exc).__name__}: {exc})"
    return f"无法计算 ({type(exc).__name__}: {exc})"


def _guess(name: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f"，是不是 {close[0]}？" if close else ""


class Evaluator:
    """Evaluates form expressions with registered functions; thread-safe parse cache."""

    def __init__(self, functions: dict[str, Callable] | None = None):
        self.functions: dict[str, Callable] = {**BUILTINS, **(functions or {})}
        self._parsed: dict[str, ast.AST] = {}
        self._compiled: dict[str, Compiled] = {}
        self._globals = base_globals(self.functions)
        self._lock = threading.Lock()

    # --- parsing and static checks -------------------------------------------------------

    def parse(self, expr: str) -> ast.AST:
        """Parse once; raise ExpressionError (Chinese) for syntax the language does not have."""
        node = self._parsed.get(expr)
        if node is not None:
            return node
        if not isinstance(expr, str) or not expr.strip():
            raise ExpressionError("表达式是空的")
        if len(expr) > 10 * 2_000:       # before the parser: it recurses on nesting
            raise ExpressionError(f"表达式太长（{len(expr)} 个字符）")
        try:
            body = ast.parse(expr.strip()).body
        except SyntaxError as exc:
            where = f"第 {exc.offset} 个字符附近" if exc.offset else ""
            raise ExpressionError(f"表达式语法错误{where}：{expr.strip()[:80]} (SyntaxError: {exc.msg})") from None
        except (ValueError, RecursionError, MemoryError) as exc:   # a 5,000-digit number, deep nesting
            raise ExpressionError(f"表达式无法解析：{expr.strip()[:80]} ({type(exc).__name__})") from None
        if len(body) != 1 or not isinstance(body[0], ast.Expr):
            raise ExpressionError(f"只能写一个表达式，不能赋值或写多条语句：{expr.strip()}")
        for sub in ast.walk(body[0]):
            if not isinstance(sub, _ALLOWED_NODES):
                raise ExpressionError(f"表达式里不能用 {type(sub).__name__}：{expr.strip()}")
            if isinstance(sub, ast.Attribute) and sub.attr.startswith("_"):
                raise ExpressionError(f"不能访问以下划线开头的属性 {sub.attr}")
        try:
            check_static(body[0], expr.strip())
        except TooCostly as exc:
            raise ExpressionError(f"{exc}：{expr.strip()[:80]}") from None
        with self._lock:
            self._parsed[expr] = body[0]
        return body[0]

    def unknown_names(self, expr: str, known: Iterable[str], settings: dict | None = None) -> list[str]:
        """Chinese messages for names/functions/settings an expression uses that do not exist."""
        node = self.parse(expr)
        known = set(known) | CONTEXT_NAMES
        bound = {n.id for c in ast.walk(node) if isinstance(c, ast.comprehension)
                 for n in ast.walk(c.target) if isinstance(n, ast.Name)}
        called = {id(c.func) for c in ast.walk(node) if isinstance(c, ast.Call)}
        out: list[str] = []
        for sub in ast.walk(node):
            if isinstance(sub, ast.Call):
                if not isinstance(sub.func, ast.Name):
                    out.append("只能调用函数名，如 age_on(birth_date, today)，不能调用方法")
                elif sub.func.id not in self.functions:
                    out.append(f"未知的函数 {sub.func.id}{_guess(sub.func.id, self.functions)}")
            elif isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load) and id(sub) not in called:
                if sub.id not in known and sub.id not in bound and sub.id not in self.functions:
                    out.append(f"未知的名字 {sub.id}：不是本表的字段 id{_guess(sub.id, known)}")
            elif (isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name)
                  and sub.value.id == "settings" and settings is not None and sub.attr not in settings):
                out.append(f"settings 中没有 {sub.attr}{_guess(sub.attr, settings)}")
        return list(dict.fromkeys(out))

    # --- evaluating -----------------------------------------------------------------------

    def compiled(self, expr: str) -> Compiled:
        """The expression's code object, compiled once (see `core.formlang.exprcompile` for why it is safe)."""
        found = self._compiled.get(expr)
        if found is None:
            node = self.parse(expr)
            try:
                found = Compiled(node, expr.strip())
            except (ValueError, SyntaxError, RecursionError, MemoryError) as exc:
                raise ExpressionError(f"{exc}：{expr.strip()[:80]}") from None
            with self._lock:
                self._compiled[expr] = found
        return found

    def eval(self, expr: str, names: dict[str, Any]) -> Any:
        """Evaluate; any failure becomes ExpressionError with a Chinese explanation."""
        code = self._compiled.get(expr) or self.compiled(expr)
        try:
            return code.run(self._globals, names)
        except Exception as exc:  # noqa: BLE001 - admin expressions may fail in any way
            raise ExpressionError(explain(exc)) from exc

    def calculate(self, expr: str, names: dict[str, Any]) -> Any:
        """A computed value, or None when it cannot be computed (e.g. an input is still empty)."""
        try:
            return self.eval(expr, names)
        except ExpressionError:
            return None

    def relevant(self, expr: str | None, names: dict[str, Any]) -> bool:
        """Skip logic: no expression means shown; one that fails means not shown."""
        if not expr:
            return True
        try:
            return bool(self.eval(expr, names))
        except ExpressionError:
            return False


def settings_names(settings: dict[str, Any] | None) -> SimpleNamespace:
    """A form's `settings:` as expressions read them (`settings.advanced_age`)."""
    return SimpleNamespace(**(settings or {}))


def scope(values: dict[str, Any], settings: dict[str, Any] | None, today: dt.date | None = None,
          **extra: Any) -> dict[str, Any]:
    """The names an expression sees: field values plus `settings`, `today` and any extras."""
    names = dict(values)
    names["settings"] = settings_names(settings)
    names["today"] = today or dates.today()
    names.update(extra)
    return names
