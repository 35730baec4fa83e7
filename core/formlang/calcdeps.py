"""Which computed fields read which names: cycles, and what depends on today's date.

`age: "age + 1"` or `a` reading `b` reading `a` cannot be computed: form order fills one of
them from a value that is not there yet, so a record silently saves an empty age. The loader
refuses such a form (every cycle, any length, located at the field that closes it). The same
graph tells re-evaluation which stored values go stale on a new day: those whose expressions
read `today`, directly or through another computed field.
"""
from __future__ import annotations

import ast
from typing import Iterable

from core.problems import Problem


def names_in(expr: object) -> set[str]:
    """Plain names an expression reads (fields, `today`, `settings`); empty when it does not parse."""
    if not isinstance(expr, str) or not expr.strip():
        return set()
    try:
        node = ast.parse(expr.strip(), mode="eval")
    except SyntaxError:
        return set()   # reported by the expression check with its own message
    called = {id(c.func) for c in ast.walk(node) if isinstance(c, ast.Call)}
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and id(n) not in called}


def _field_exprs(f: dict) -> list[str]:
    out = [f.get("calculate")]
    for case in f.get("cases") or []:
        if isinstance(case, dict):
            out.append(case.get("when"))
    return [e for e in out if isinstance(e, str)]


def graph(raw_fields: Iterable[tuple[str, dict, tuple]]) -> dict[str, set[str]]:
    """{computed field id: names its calculate/cases read} over `(id, raw field, path)` items."""
    return {fid: set().union(*(names_in(e) for e in _field_exprs(f))) if _field_exprs(f) else set()
            for fid, f, _ in raw_fields if _field_exprs(f)}


def cycles(deps: dict[str, set[str]]) -> list[list[str]]:
    """Every elementary cycle found by a depth-first walk, each once, as `[a, b, ..., a]`."""
    found: list[list[str]] = []
    seen_sets: set[frozenset] = set()
    state: dict[str, int] = {}        # 1 on the stack, 2 done

    def walk(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(deps.get(node, ())):
            if nxt not in deps:
                continue
            if state.get(nxt) == 1:
                loop = stack[stack.index(nxt):] + [nxt]
                key = frozenset(loop)
                if key not in seen_sets:
                    seen_sets.add(key)
                    found.append(loop)
            elif state.get(nxt) is None:
                walk(nxt, stack)
        stack.pop()
        state[node] = 2

    for node in sorted(deps):
        if state.get(node) is None:
            walk(node, [])
    return found


def _raw_fields(raw: dict) -> list[tuple[str, dict, tuple]]:
    out = []
    for si, s in enumerate(raw.get("sections") or []):
        for fi, f in enumerate(s.get("fields") or []):
            if isinstance(f, dict) and isinstance(f.get("id"), str):
                out.append((f["id"], f, ("sections", si, "fields", fi)))
    return out


def cycle_problems(doc) -> list[Problem]:
    """Located errors for calculation cycles and self-references of a form document."""
    items = _raw_fields(doc.data)
    where = {fid: path for fid, _, path in items}
    out = []
    for loop in cycles(graph(items)):
        first = loop[0]
        key = "calculate" if "calculate" in dict(next(f for i, f, _ in items if i == first)) else "cases"
        if len(loop) == 2:
            msg = f"计算字段 {first} 的表达式用到了它自己，无法计算（循环引用）(cycle)"
        else:
            msg = f"计算字段互相引用，形成循环：{' → '.join(loop)}，无法计算 (cycle)"
        out.append(doc.problem(where[first] + (key,), msg, rule="cycle"))
    return out


def today_dependent(form) -> list[str]:
    """Computed top-level fields of a `Form` whose value changes with the date, in form order."""
    deps = {f.id: set().union(*(names_in(e) for e in _field_exprs({"calculate": f.calculate,
                                                                   "cases": [{"when": c.when} for c in f.cases]})))
            for f in form.top_fields() if f.computed}
    stale = {fid for fid, names in deps.items() if "today" in names}
    grew = True
    while grew:
        grew = False
        for fid, names in deps.items():
            if fid not in stale and names & stale:
                stale.add(fid)
                grew = True
    return [f.id for f in form.top_fields() if f.id in stale]


def names_read(form) -> tuple[frozenset, frozenset]:
    """(names computed fields read, names rules read) among a `Form`'s top-level fields, each
    with the fields themselves: re-evaluating 50,000 records converts only these, not all 60."""
    def exprs_of(f) -> list:
        return [f.calculate] + [c.when for c in f.cases]

    def rule_exprs(rules) -> list:
        return [e for r in rules for e in (r.check, r.when)]

    computed: set[str] = set()
    ruled: set[str] = set()
    for f in form.top_fields():
        kids = [c for c in f.fields if c.computed]
        if f.computed or kids:
            computed.add(f.id)
            computed.update(*(names_in(e) for e in exprs_of(f)), *(names_in(e) for c in kids for e in exprs_of(c)))
        rules = rule_exprs(f.rules) + [e for c in f.fields for e in rule_exprs(c.rules)]
        if rules:
            ruled.add(f.id)
            ruled.update(*(names_in(e) for e in rules))
    ruled.update(*(names_in(e) for e in rule_exprs(form.rules)))
    top = {f.id for f in form.top_fields()}
    return frozenset(computed & top), frozenset(ruled & top)
