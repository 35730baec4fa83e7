"""Where a form's computed values and rules read today's date, as small expressions to compare.

Re-evaluating 50,000 people means reading every full record (most of the time is parsing
them) and running every computed field and rule. Yet on a day after the last re-evaluation,
with the forms unchanged, the only thing that can have moved is the date — and a date reaches
a value only through the expression right around each `today`: `age_on(id_birth_date(
id_number), today)`, `filing_date <= today`. These are the *probes*. Evaluated on the day of the
last re-evaluation and on today, from the in-memory list row (`id_number`, `filing_date`), a
probe with the same value both days leaves every expression around it unchanged (expressions are
pure functions of their names). A person whose probes all agree needs no full record and no
evaluation; one whose birthday fell in between does.

`probes` refuses (returns None, meaning "evaluate every record") whenever that argument does not
hold: a probe reads something the list rows do not carry (a repeat group row, a comprehension
variable), an expression reads a field computed as `today` (re-evaluation recomputes it), or a
function is called without an argument that defaults to the real clock.
"""
from __future__ import annotations

import ast
import inspect
from dataclasses import dataclass
from typing import Any, Iterable

TODAY = "today"
# Nodes that only carry a value to the node that uses it: a probe is the first node above.
_CARRIERS = (ast.keyword, ast.Starred, ast.Tuple, ast.List, ast.Set, ast.Dict, ast.Expression)


@dataclass(frozen=True)
class Probe:
    source: str             # the sub-expression around one `today`
    fields: tuple[str, ...]  # the fields it reads besides today and settings


def _expressions(form) -> Iterable[tuple[str, bool]]:
    """(expression, inside a repeat group) of every computed field and rule of `form`."""
    def of_field(f, nested):
        if f.computed and (f.calculate or "").strip() != TODAY:   # 最近更新日期: never re-evaluated
            if f.calculate:
                yield f.calculate, nested
            for case in f.cases or []:
                if case.when:
                    yield case.when, nested
        for rule in f.rules or []:
            for e in (rule.when, rule.check):
                if e:
                    yield e, nested
    for f in form.top_fields():
        yield from of_field(f, False)
        for c in f.fields or []:
            yield from of_field(c, True)
    for rule in form.rules or []:
        for e in (rule.when, rule.check):
            if e:
                yield e, False


def _parents(tree: ast.AST) -> dict[int, ast.AST]:
    out = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            out[id(child)] = node
    return out


def _implicit_today(tree: ast.AST, functions: dict[str, Any]) -> bool:
    """A call that leaves out an argument whose default is a bare marker object (the functions'
    "today when omitted", e.g. `age_on(birth)`): its value follows the real clock."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in functions:
            try:
                params = list(inspect.signature(functions[node.func.id]).parameters.values())
            except (TypeError, ValueError):
                continue
            given = {k.arg for k in node.keywords}
            for i, p in enumerate(params):
                if i >= len(node.args) and p.name not in given and type(p.default) is object:
                    return True
    return False


def probes(form, functions: dict[str, Any], row_fields: set[str]) -> list[Probe] | None:
    """The date probes of `form` (deduplicated), or None when they cannot stand in for a full
    evaluation (see the module docstring). [] means nothing reads the date."""
    from core.formlang.calcdeps import names_in

    stamped = {f.id for f in form.top_fields() if f.computed and (f.calculate or "").strip() == TODAY}
    found: dict[str, Probe] = {}
    for expr, nested in _expressions(form):
        try:
            tree = ast.parse(expr.strip(), mode="eval")
        except SyntaxError:
            return None
        read = names_in(expr)
        if read & stamped or _implicit_today(tree, functions):
            return None
        if TODAY not in read:
            continue
        if nested:
            return None
        sources = _sources(tree)
        if sources is None:
            return None                          # the expression is `today` itself
        for source in sources:
            fields = names_in(source) - {TODAY, "settings"}
            if not fields <= row_fields:
                return None
            found.setdefault(source, Probe(source, tuple(sorted(fields))))
    return list(found.values())


def _sources(tree: ast.AST) -> list[str] | None:
    """The probe around each `today` of a parsed expression; None when one is `today` itself."""
    parents = _parents(tree)
    out = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Name) and node.id == TODAY):
            continue
        probe = parents.get(id(node))
        while isinstance(probe, _CARRIERS) and not isinstance(probe, ast.Expression):
            probe = parents.get(id(probe))
        if probe is None or isinstance(probe, ast.Expression):
            return None
        out.append(ast.unparse(probe))
    return out


def probes_in(expr: str | None) -> frozenset[str]:
    """The probes one expression holds (as `probes` names them): re-evaluation marks what holds
    a probe that moved for a person, and whatever reads that, as changed for that person."""
    if not isinstance(expr, str) or not expr.strip():
        return frozenset()
    try:
        return frozenset(_sources(ast.parse(expr.strip(), mode="eval")) or ())
    except SyntaxError:
        return frozenset()


class _Split(ast.NodeTransformer):
    """A probe with each part that does not read today taken out as an argument: `age_on(
    id_birth_date(id_number), today)` becomes `age_on(probe_arg_0, today)`, so the ID number is
    read once per person, not once per day compared, and people born on the same day share one
    evaluation."""

    def __init__(self, dated: frozenset = frozenset()):
        self.args: list[str] = []
        self.dated = dated     # names that stand for a probe: each an argument alone, never in a larger one

    def _sub(self, node):
        if isinstance(node, ast.expr) and not isinstance(node, ast.Constant) and (
                (isinstance(node, ast.Name) and node.id in self.dated) or not _reads_today(node, self.dated)):
            self.args.append(ast.unparse(node))
            return ast.Name(id=f"probe_arg_{len(self.args) - 1}", ctx=ast.Load())
        return self.visit(node) if isinstance(node, ast.AST) else node

    def generic_visit(self, node):
        for name, old in ast.iter_fields(node):
            if isinstance(node, ast.Call) and name == "func":
                continue                               # the function called, not a value
            if isinstance(old, list):
                setattr(node, name, [self._sub(x) for x in old])
            elif isinstance(old, ast.AST):
                setattr(node, name, self._sub(old))
        return node


def _reads_today(node: ast.AST, dated: frozenset = frozenset()) -> bool:
    return any(isinstance(n, ast.Name) and (n.id == TODAY or n.id in dated) for n in ast.walk(node))


class ProbeRunner:
    """Probes evaluated over list rows, with the validator's conversions (dates as dates)."""

    def __init__(self, validator, found: list[Probe]):
        ev = validator.evaluator
        fields = sorted({f for p in found for f in p.fields})
        self.plan = [(fid, validator._converter(validator.form.field(fid))) for fid in fields
                     if validator.form.field(fid) is not None]
        self.settings = validator._settings
        self.globals = ev._globals
        self.found = []
        for p in found:
            split = _Split()
            body = split.visit(ast.parse(p.source, mode="eval").body)
            self.found.append((p.source, split.args, [ev.compiled(a) for a in split.args],
                               ev.compiled(ast.unparse(body)), {}))
        self.args: dict[str, Any] = {}
        self.values: dict[str, tuple] = {}    # the last row's probes: source -> (before, today)

    def _run(self, code, names):
        try:
            return code.run(self.globals, names)
        except Exception:  # noqa: BLE001 - failing both days is "the same"; evaluation says why
            return _FAILED

    def same(self, row: dict, before, today) -> bool:
        """Every probe has the same value on `before` and on `today` for this row."""
        return not self.moved(row, before, today)

    def moved(self, row: dict, before, today) -> tuple[str, ...]:
        """The probes whose value differs between `before` and `today` for this row (empty: the
        same both days). `args` keeps what each probe's parts that do not read the date gave
        for this row ({source: value}; `core.lifecycle.rowonly` reuses them: an ID number's
        birth date is worked out once per person)."""
        names = {fid: (row.get(fid) if conv is None else conv(row.get(fid))) for fid, conv in self.plan}
        names["settings"] = self.settings
        self.args = done = {}
        self.values = values_of = {}
        out = ()
        for source, sources, args, code, memo in self.found:
            values = []
            for a, arg in zip(sources, args):
                if a not in done:          # a bare field name is its value, as eval would read it
                    done[a] = names[a] if a in names else self._run(arg, names)
                values.append(done[a])
            values = tuple(values)
            if _FAILED in values:
                continue                   # the probe fails whatever the day
            key: tuple | None = values
            try:
                both = memo.get(values)
            except TypeError:              # a list or mapping: no sharing
                both, key = None, None
            if both is None:
                scope = {f"probe_arg_{i}": v for i, v in enumerate(values)}
                scope["settings"] = self.settings
                scope[TODAY] = before
                a = self._run(code, scope)
                scope[TODAY] = today
                both = (a, self._run(code, scope))
                if key is not None:
                    memo[key] = both
            values_of[source] = both
            if both[0] != both[1]:
                out += (source,)
        return out


_FAILED = object()
