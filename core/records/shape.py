"""A record's shape checked before anything reads it: types per field, nesting, sizes.

Validation, the town overlay lookup, record-ref copying and the history diff all assume a
record looks like its form: a scalar where the form has a field, a list of choices for a
multi, a list of rows for a repeat group. A record from a JSON file, an import or a plugin may
not (`"town": ["120116001000"]`, a dict nested 5,000 deep): without this check those crashed
the engine (unhashable list, RecursionError). Here every such record is refused with one
Chinese sentence per field, and sizes are bounded so a 1 GB string or a million rows never
reach the schema validator.
"""
from __future__ import annotations

import math
from typing import Any, Iterable

from core.formlang.formmodel import once_per_form
from core.problems import Problem, ValidationFailed

MAX_DEPTH = 6            # record → repeat list → row → multi list; unknown keys a little deeper
MAX_TEXT = 20_000        # characters in one value (a long 备注 is a few hundred)
MAX_ITEMS = 2_000        # rows in a repeat group, choices in a multi, keys in a record
MAX_NUMBER = 10 ** 15    # well above any 年收入 or count; keeps int↔str and sums cheap
SCALARS = (str, int, float, bool, type(None))


def _scalar_problem(value: Any) -> str | None:
    if not isinstance(value, SCALARS):
        return "应为一个值，不能是列表或一组字段"
    if isinstance(value, str) and len(value) > MAX_TEXT:
        return f"文字太长（{len(value)} 个字符，最多 {MAX_TEXT}）"
    if isinstance(value, float) and not math.isfinite(value):
        return "应为有限的数字"
    if isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) > MAX_NUMBER:
        return "数字太大"
    return None


def _too_deep(value: Any, depth: int) -> bool:
    """Nesting beyond `MAX_DEPTH`, found without recursion (a 100,000-deep list is fine)."""
    stack = [(value, depth)]
    seen = 0
    while stack:
        item, d = stack.pop()
        if isinstance(item, (list, tuple, dict)):
            if d >= MAX_DEPTH:
                return True
            seen += 1
            if seen > 100_000:
                return True
            stack.extend((v, d + 1) for v in (item.values() if isinstance(item, dict) else item))
    return False


def _fields_by_id(fields: Iterable[Any], known: dict[int, tuple]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(field id -> field, field id -> `_PLAIN` when a value of it is a scalar, `_TEXT` for a
    multi, which may hold one text) of one list of fields (a form's, a row group's), made once
    per list: `known` holds them for the form (a bulk save checked 300,000 records, each
    building its maps again). Keyed by the list's id, kept alive beside its maps."""
    hit = known.get(id(fields))
    if hit is None or hit[0] is not fields:
        hit = known[id(fields)] = (fields, {f.id: f for f in fields},
                                   {f.id: _TEXT if f.type == "multi" else _PLAIN for f in fields if not f.fields})
    return hit[1], hit[2]


_PLAIN, _TEXT = 1, 2


def _check(fields: Iterable[Any], data: Any, prefix: str, depth: int, out: list[Problem],
           known: dict[int, tuple] | None = None) -> None:
    if not isinstance(data, dict):
        out.append(Problem("应为一组字段（JSON 对象 {...}） (shape)", prefix.rstrip("."), rule="shape"))
        return
    if len(data) > MAX_ITEMS:
        out.append(Problem(f"字段太多（{len(data)} 个） (shape)", prefix.rstrip("."), rule="shape"))
        return
    by_id, kinds = _fields_by_id(fields, {} if known is None else known)
    for key, value in data.items():
        # the usual values of a known field that is not a row group, sound whatever its type (as
        # `_scalar_problem` and the multi's look below judge them): a short text, a bounded
        # integer, nothing, yes/no; a multi's short texts
        kind = kinds.get(key) if key.__class__ is str else None
        if kind is not None:
            cls = value.__class__
            if cls is str:
                if len(value) <= MAX_TEXT:
                    continue
            elif kind is _PLAIN:
                if cls is int and -MAX_NUMBER <= value <= MAX_NUMBER or value is None or cls is bool:
                    continue
            elif cls is list and len(value) <= MAX_ITEMS:
                for v in value:
                    if v.__class__ is not str or len(v) > MAX_TEXT:
                        break
                else:
                    continue
        path = f"{prefix}{key}"
        if not isinstance(key, str):
            out.append(Problem("字段名应为文字 (shape)", path, rule="shape"))
            continue
        f = by_id.get(key)
        label = f"{f.label}：" if f is not None else ""
        if f is None:
            if _too_deep(value, depth + 1):
                out.append(Problem(f"嵌套层次太深（最多 {MAX_DEPTH} 层） (shape)", path, rule="shape"))
            elif not isinstance(value, (list, dict)) and (msg := _scalar_problem(value)):
                out.append(Problem(f"{msg} (shape)", path, rule="shape"))
            continue
        if f.fields:                                    # a repeat group: a list of rows
            if value is None:
                continue
            if not isinstance(value, list):
                out.append(Problem(f"{label}应为多行记录（列表） (shape)", path, rule="shape"))
            elif len(value) > MAX_ITEMS:
                out.append(Problem(f"{label}行数太多（{len(value)} 行） (shape)", path, rule="shape"))
            else:
                for i, row in enumerate(value):
                    _check(f.fields, row, f"{path}.{i}.", depth + 2, out, known)
        elif f.type == "multi" and isinstance(value, list):
            bad = next((m for v in value if (m := _scalar_problem(v))), None)
            if len(value) > MAX_ITEMS or bad:
                out.append(Problem(f"{label}{bad or '选项太多'} (shape)", path, rule="shape"))
        elif msg := _scalar_problem(value):
            out.append(Problem(f"{label}{msg} (shape)", path, rule="shape"))


def shape_problems(form: Any, data: Any) -> list[Problem]:
    """Every place where `data` does not have the shape `form` gives it (empty: sound)."""
    out: list[Problem] = []
    def fields() -> dict:
        # `top_fields` makes a new list each call: the form's own list is made once and kept
        top = form.top_fields()
        known = {0: top}
        _fields_by_id(top, known)
        return known

    known = once_per_form(form, "_shape_fields", fields)
    _check(known[0], data, "", 0, out, known)
    return out


def refuse_bad_shape(form: Any, data: Any) -> None:
    if problems := shape_problems(form, data):
        raise ValidationFailed(problems)
