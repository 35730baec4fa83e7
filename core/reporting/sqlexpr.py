"""Form expressions (summary `count:`, roster `where:`) translated to PostgreSQL, for the SQL
reports of a server ledger (`core.reporting.sqlreports`).

Why translate instead of fetching rows: the district's summary over 50,000 people and 300,000
visits is one GROUP BY on the server instead of every list row crossing the network and being
evaluated in Python. The columns stay declared in the form files: whatever an admin writes in
`forms/summary.yaml` is translated when the report runs, so a new column needs no SQL edit.

The translation keeps the Python evaluator's answers, including its failures:

- SQL NULL stands for "this sub-expression failed" (``None < 70`` raises in Python); NULL
  flows through AND / OR / NOT exactly as an exception flows through Python's short-circuit
  operators, and the caller counts a column only where the result is TRUE (and reports the
  rows where it is NULL, as the Python tally reports its failures);
- ``==`` / ``!=`` / ``in`` never fail in Python (``None == '男'`` is False), so they use
  ``IS [NOT] DISTINCT FROM`` and COALESCE; values of different kinds are never equal;
- text compares by code point (``COLLATE "C"``), as Python's ``<`` does;
- a date field is a date only when it is an exact ISO date (as `to_python` reads it).

What cannot be translated (a function other than `age_on` / `empty`, subscripts, list
comprehensions, arithmetic, a boolean field) raises `Untranslatable` naming why; the caller then
falls back to the Python evaluator for that column, explicitly, and says so.
"""
from __future__ import annotations

import ast
import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, Callable

IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
TEXT, NUM, DATE, BOOL, NULL, LIST = "text", "num", "date", "bool", "null", "list"


class Untranslatable(Exception):
    """This expression has no SQL translation here; the message says which part (for the log)."""


@dataclass(frozen=True)
class Sql:
    text: str
    kind: str
    raw: str | None = None          # a field's stored JSON value (for `empty`, `in` on lists)
    ymd: str | None = None          # a date as the integer yyyymmdd, read as `to_date` reads it
    field: str | None = None        # the date field `ymd` comes from (computed only when used)


def literal(value: Any) -> Sql:
    """A Python constant as a SQL literal (strings quoted, standard_conforming_strings)."""
    if value is None:
        return Sql("NULL", NULL)
    if isinstance(value, bool):
        return Sql("TRUE" if value else "FALSE", BOOL)
    if isinstance(value, (int, float)):
        if isinstance(value, float) and value != value:
            raise Untranslatable("NaN")
        return Sql(f"({value!r}::numeric)", NUM)
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return Sql(value.strftime("%Y%m%d"), DATE, ymd=value.strftime("%Y%m%d"))     # dates as yyyymmdd
    if isinstance(value, str):
        if "\x00" in value:
            raise Untranslatable("text with NUL")
        return Sql("'" + value.replace("'", "''") + "'", TEXT)
    raise Untranslatable(f"constant of type {type(value).__name__}")


def _valid_iso(t: str) -> str:
    """SQL: `t` is an exact ISO date (as `date.fromisoformat` accepts it), checked in steps so a
    bad value never reaches a cast and the common case (a day ≤ 28) costs a few byte
    comparisons — no regular expression, which cost most of a 50,000-person summary."""
    c = ' COLLATE "C"'
    return (f"(CASE WHEN length({t}) <> 10 OR substr({t}, 5, 1) <> '-' OR substr({t}, 8, 1) <> '-' "
            f"OR translate({t}, '0123456789', ''){c} <> '--' OR left({t}, 4) = '0000' "
            f"OR substr({t}, 6, 2){c} NOT BETWEEN '01' AND '12' OR substr({t}, 9, 2){c} NOT BETWEEN '01' AND '31' "
            f"THEN FALSE WHEN substr({t}, 9, 2){c} <= '28' THEN TRUE "
            f"ELSE substr({t}, 9, 2)::int <= extract(day from (substr({t}, 1, 8) || '01')::date "
            f"+ interval '1 month - 1 day') END)")


def iso_date(text: str, lenient: bool = False, strict: bool = False) -> str:
    """SQL: the date a text holds, or NULL. `lenient`: the first ten characters after trimming
    (`core.dates.to_date`). Fast form: any ``____-__-__`` is cast, and a malformed one (a
    letter, 02-30) makes PostgreSQL raise — the caller then runs the query again with `strict`,
    which checks every value before casting (never an error, about 3× slower)."""
    t = f"left(btrim({text}), 10)" if lenient else text
    if strict:
        return f"(CASE WHEN {_valid_iso(t)} THEN {t}::date END)"
    return f"(CASE WHEN {t} LIKE '____-__-__' THEN {t}::date END)"


def iso_ymd(text: str, lenient: bool = False, strict: bool = False) -> str:
    """As `iso_date`, the date as the integer yyyymmdd (compared and subtracted cheaply: the
    summary's dates are all compared this way)."""
    t = f"left(btrim({text}), 10)" if lenient else text
    valid = _valid_iso(t) if strict else f"{t} LIKE '____-__-__' AND {t}::date IS NOT NULL"
    return f"(CASE WHEN {valid} THEN replace({t}, '-', '')::int END)"


def strict_retry(run_query: Callable[[bool], Any]) -> Any:
    """`run_query(strict=False)`, and once more strict when the server refused a malformed
    date in it (see `iso_date`); a second failure is the caller's (e.g. the server is down)."""
    from core.storage.errors import StorageError

    try:
        return run_query(False)
    except StorageError:
        return run_query(True)


def json_value(key: str, row: str = "r", *, text: bool = False) -> str:
    """The field's stored value (JSON, or with `text` as text, NULL for a JSON null): from the
    list row when it carries the field, else from the record (rows saved before a report
    declared the field; `core.reporting.rowfields`)."""
    k = literal(key).text
    if text:
        return f"(CASE WHEN {row}.row ? {k} THEN {row}.row ->> {k} ELSE {row}.doc -> 'data' ->> {k} END)"
    return f"COALESCE({row}.row -> {k}, {row}.doc -> 'data' -> {k})"


def kind_of(field_obj: Any, registry: Any) -> str:
    """How a form field is compared in SQL: a date, or by its type's JSON schema when
    expressions see the stored value as it is (a type converting it some other way: "other")."""
    ft = registry.field_types.get(field_obj.type) if registry is not None else None
    if ft is None:
        return "other"
    if field_obj.type == "date" or getattr(ft, "format", None) == "date":
        return DATE
    if getattr(ft, "python", None) is not None or (
            hasattr(ft, "to_python") and not hasattr(ft, "python")):     # a plugin's own conversion
        return "other"
    schema = ft.json_schema(field_obj)
    return {"string": TEXT, "integer": NUM, "number": NUM, "boolean": BOOL, "array": LIST}.get(
        schema.get("type"), "other")


@dataclass
class Fields:
    """The fields of one form that expressions read, each extracted once per row (the columns
    of a MATERIALIZED CTE: PostgreSQL would otherwise repeat a JSON lookup per column)."""

    form: Any
    registry: Any
    used: dict[str, str] = field(default_factory=dict)     # field id -> kind
    lenient: set[str] = field(default_factory=set)         # date fields `age_on` reads (`n_`)

    def ref(self, name: str) -> Sql:
        f = self.form.field(name)
        if f is None or name not in {t.id for t in self.form.top_fields()}:
            raise Untranslatable(f"name {name!r} is not a top-level field")
        if not IDENT.match(name):
            raise Untranslatable(f"field id {name!r}")
        kind = kind_of(f, self.registry)
        if kind not in (TEXT, NUM, DATE, LIST):
            raise Untranslatable(f"field {name} of type {f.type}")
        self.used[name] = kind
        if kind == TEXT:
            return Sql(f'p."t_{name}"', kind)
        if kind == DATE:        # compared as yyyymmdd; `raw` the stored text (`empty`, truth)
            return Sql(f'p."d_{name}"', kind, raw=f'p."t_{name}"', ymd=f'p."n_{name}"', field=name)
        return Sql(f'p."v_{name}"', kind, raw=f'p."j_{name}"')

    def cte(self, where: str, extra: tuple[str, ...] = (), *, strict: bool = False) -> str:
        """``j AS (…), p AS (…)`` for a WITH clause over the records matching `where`: `j`
        reads each field's stored value once — text (``t_x``) for text and date fields, JSON
        (``j_x``) for numbers and lists — and `p` adds the typed value (``v_x``) and, for dates,
        the yyyymmdd (``d_x``; ``n_x`` read as `age_on` reads it); both are materialized so no
        expression is computed twice however many columns read it. (A text field holding a
        JSON number is read as its digits: saved records never do.) `extra`: more items of `j`."""
        raw = list(extra)
        typed = ["j.*"]
        for name, kind in self.used.items():
            if kind in (TEXT, DATE):
                raw.append(f'{json_value(name, text=True)} AS "t_{name}"')
            else:
                raw.append(f'{json_value(name)} AS "j_{name}"')
            j, t = f'j."j_{name}"', f'j."t_{name}"'
            if kind == NUM:
                typed.append(f"(CASE jsonb_typeof({j}) WHEN 'number' THEN ({j} #>> '{{}}')::numeric END) AS \"v_{name}\"")
            elif kind == LIST:
                typed.append(f'{j} AS "v_{name}"')
            elif kind == DATE:
                typed.append(f'{iso_ymd(t, strict=strict)} AS "d_{name}"')
            if name in self.lenient:
                typed.append(f'{iso_ymd(t, lenient=True, strict=strict)} AS "n_{name}"')
        return (f"j AS MATERIALIZED (SELECT {', '.join(raw) or 'NULL AS _'} FROM records r WHERE {where}), "
                f"p AS MATERIALIZED (SELECT {', '.join(typed)} FROM j)")


_CMP = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}


class Translator:
    """One form's expressions → SQL over the CTE `p` that `Fields` builds."""

    def __init__(self, evaluator: Any, fields: Fields, consts: dict[str, Any]):
        self.evaluator = evaluator
        self.fields = fields
        self.consts = consts          # context names: q_start, report_date, settings, today ...

    def condition(self, expr: str) -> str:
        """SQL boolean that is TRUE where Python's ``bool(expr)`` is True, FALSE where it is
        False and NULL where evaluating it raises."""
        node = self.evaluator.parse(expr)
        return self.truth(self.node(node.body if isinstance(node, ast.Expression) else _body(node)))

    # -------------------------------------------------------------- nodes
    def node(self, n: ast.AST) -> Sql:
        method = getattr(self, f"n_{type(n).__name__}", None)
        if method is None:
            raise Untranslatable(f"{type(n).__name__} ({ast.unparse(n)[:60]})")
        return method(n)

    def n_Constant(self, n: ast.Constant) -> Sql:
        return literal(n.value)

    def n_Name(self, n: ast.Name) -> Sql:
        if n.id in self.consts:
            return literal(self.consts[n.id])
        return self.fields.ref(n.id)

    def n_Attribute(self, n: ast.Attribute) -> Sql:
        if isinstance(n.value, ast.Name) and n.value.id == "settings" and "settings" in self.consts:
            if not hasattr(self.consts["settings"], n.attr):
                raise Untranslatable(f"settings.{n.attr} is not set")
            return literal(getattr(self.consts["settings"], n.attr))
        raise Untranslatable(f"attribute {ast.unparse(n)}")

    def n_UnaryOp(self, n: ast.UnaryOp) -> Sql:
        inner = self.node(n.operand)
        if isinstance(n.op, ast.Not):
            return Sql(f"(NOT {self.truth(inner)})", BOOL)
        if isinstance(n.op, ast.USub) and inner.kind == NUM:
            return Sql(f"(-{inner.text})", NUM)
        raise Untranslatable(f"unary {ast.unparse(n)}")

    def n_BoolOp(self, n: ast.BoolOp) -> Sql:
        # Only meaningful where the result is used as a truth value (`bool(count)`, `where`):
        # Python's `a or b` returns an operand, which `compare` refuses to take (kind "cond").
        op = " AND " if isinstance(n.op, ast.And) else " OR "
        return Sql("(" + op.join(self.truth(self.node(v)) for v in n.values) + ")", "cond")

    def n_Compare(self, n: ast.Compare) -> Sql:
        parts, left = [], self.node(n.left)
        for op, right_node in zip(n.ops, n.comparators):
            if isinstance(op, (ast.In, ast.NotIn)):
                parts.append(self.membership(left, right_node, isinstance(op, ast.NotIn)))
                left = None
                continue
            right = self.node(right_node)
            parts.append(self.compare(left, op, right))
            left = right
        return Sql("(" + " AND ".join(parts) + ")", BOOL)

    def n_Call(self, n: ast.Call) -> Sql:
        name = n.func.id if isinstance(n.func, ast.Name) else None
        if n.keywords:
            raise Untranslatable(f"keyword arguments in {ast.unparse(n)[:60]}")
        if name == "empty" and len(n.args) == 1:
            return self.empty(self.node(n.args[0]))
        if name == "age_on" and len(n.args) in (1, 2):
            # whole years as Python counts them: (on as yyyymmdd - birth as yyyymmdd) // 10000
            birth = self.as_ymd(self.node(n.args[0]))
            on = self.as_ymd(self.node(n.args[1]) if len(n.args) == 2 else literal(self.consts["today"]))
            return Sql(f"(CASE WHEN {on} >= {birth} THEN ({on} - {birth}) / 10000 END)", NUM)
        raise Untranslatable(f"function {name or ast.unparse(n.func)}")

    # -------------------------------------------------------------- helpers
    def truth(self, s: Sql) -> str:
        """Python's truth value of `s` (NULL where computing `s` raised)."""
        if s.kind in (BOOL, "cond"):
            return s.text
        if s.kind == TEXT:
            return f"COALESCE({s.text} <> '', FALSE)"
        if s.kind == NUM:
            return f"COALESCE({s.text} <> 0, FALSE)"
        if s.kind == DATE:         # a date, or text kept as typed: both true; None false
            return f"({s.raw or s.text} IS NOT NULL)"
        if s.kind == LIST:
            return (f"(jsonb_typeof({s.text}) IN ('array', 'object') AND {s.text} NOT IN ('[]'::jsonb, '{{}}'::jsonb)"
                    f" OR jsonb_typeof({s.text}) NOT IN ('array', 'object', 'null'))")
        if s.kind == NULL:
            return "FALSE"
        raise Untranslatable(f"truth of {s.kind}")

    def compare(self, a: Sql, op: ast.cmpop, b: Sql) -> str:
        if "cond" in (a.kind, b.kind) or LIST in (a.kind, b.kind):
            raise Untranslatable("comparison of and/or results or lists")
        if isinstance(op, (ast.Eq, ast.NotEq)):
            neg = isinstance(op, ast.NotEq)
            if a.kind == b.kind or NULL in (a.kind, b.kind):
                return f"({a.text} IS {'' if neg else 'NOT '}DISTINCT FROM {b.text})"
            return "TRUE" if neg else "FALSE"            # values of different kinds are never equal
        if isinstance(op, (ast.Is, ast.IsNot)) and NULL in (a.kind, b.kind):
            other = b if a.kind == NULL else a
            return f"({other.text} IS {'NOT ' if isinstance(op, ast.IsNot) else ''}NULL)"
        sym = _CMP.get(type(op))
        if sym is None:
            raise Untranslatable(f"operator {type(op).__name__}")
        if a.kind != b.kind or a.kind not in (TEXT, NUM, DATE):
            return "NULL::boolean"                       # Python raises TypeError: the row fails
        collate = ' COLLATE "C"' if a.kind == TEXT else ""
        return f"({a.text}{collate} {sym} {b.text})"

    def membership(self, item: Sql | None, container: ast.AST, negate: bool) -> str:
        if item is None:
            raise Untranslatable("chained `in`")
        if isinstance(container, (ast.Tuple, ast.List, ast.Set)):
            values = [self.node(e) for e in container.elts]
            if any(v.kind not in (TEXT, NUM, DATE, NULL, BOOL) for v in values) or item.kind not in (TEXT, NUM, DATE):
                raise Untranslatable("`in` over non-constants")
            same = [v.text for v in values if v.kind == item.kind]
            has_none = any(v.kind == NULL for v in values)
            found = f"COALESCE({item.text} IN ({', '.join(same)}), FALSE)" if same else "FALSE"
            if has_none:
                found = f"({found} OR {item.text} IS NULL)"
            return f"(NOT {found})" if negate else found
        box = self.node(container)
        if box.kind == LIST and item.kind == TEXT:
            found = f"(CASE WHEN jsonb_typeof({box.text}) = 'array' THEN COALESCE({box.text} ? {item.text}, FALSE) END)"
            return f"(NOT {found})" if negate else found
        raise Untranslatable("`in` over a text or another expression")

    def empty(self, s: Sql) -> Sql:
        if s.kind == DATE and s.raw is not None:       # a date field: its stored text
            return Sql(f"({s.raw} IS NULL OR {s.raw} ~ '^\\s*$')", BOOL)
        if s.raw is not None:              # a number or list field: its stored JSON, as `empty` sees it
            j = s.raw
            return Sql(f"({j} IS NULL OR {j} IN ('null'::jsonb, '[]'::jsonb, '{{}}'::jsonb) OR "
                       f"(jsonb_typeof({j}) = 'string' AND ({j} #>> '{{}}') ~ '^\\s*$'))", BOOL)
        if s.kind in (NUM, DATE, BOOL):
            return Sql(f"({s.text} IS NULL)", BOOL)
        if s.kind == TEXT:
            return Sql(f"({s.text} IS NULL OR {s.text} ~ '^\\s*$')", BOOL)
        if s.kind == NULL:
            return Sql("TRUE", BOOL)
        raise Untranslatable(f"empty() of {s.kind}")

    def as_ymd(self, s: Sql) -> str:
        """An `age_on` argument as the integer yyyymmdd (`core.dates.to_date`: ISO text is read
        too; an unreadable date is NULL, as `age_on` then gives None)."""
        if s.field is not None:
            self.fields.lenient.add(s.field)
        if s.ymd is not None:
            return s.ymd
        if s.kind == TEXT:
            return iso_ymd(s.text, lenient=True, strict=True)
        if s.kind == NULL:
            return "NULL::int"
        raise Untranslatable(f"age_on() of {s.kind}")


def _body(node: ast.AST) -> ast.AST:
    """The expression node of what `Evaluator.parse` returns (an `ast.Expr` statement)."""
    return node.value if isinstance(node, ast.Expr) else node
