"""Which fields a form's list rows carry so that reports never parse a full record.

The summary, the schedule (due lists) and the roster's `where` are declared in form files;
the fields their expressions read are worked out here from those files, and the engine keeps
exactly those next to the form's `list_fields` in every list row. So an admin who adds a
summary column on a new field needs no second edit to `list_fields`, and the quarterly summary
over 50,000 people counts list rows held in memory instead of reading 50,000 records.

Rows written before a field was declared do not carry it; readers check each row
(`carries`) and read the full record for those, so an answer is never wrong, only slower.
"""
from __future__ import annotations

from typing import Any, Iterable, Iterator

from core.formlang.expressions import CONTEXT_NAMES

REPORT_NAMES = frozenset({"q_start", "q_end", "report_date", "as_of", "row_number"})


def declared_row_fields(files: dict[str, dict], evaluator, forms) -> dict[str, frozenset[str]]:
    """{form id: fields that reports, schedules and views over it read}, top-level fields only."""
    from core.reporting.reports import names_in

    wanted: dict[str, set[str]] = {}

    def add(form_id: Any, names: Iterable[str]) -> None:
        if isinstance(form_id, str):
            wanted.setdefault(form_id, set()).update(names)

    def exprs(form_id: Any, *texts: Any) -> None:
        for text in texts:
            if isinstance(text, str) and text.strip():
                try:
                    add(form_id, names_in(evaluator, text))
                except Exception:  # noqa: BLE001 - a broken expression is `forms check`'s to report
                    continue

    for spec in files.values():
        kind, form_id = spec.get("kind"), spec.get("form", "registration")
        if kind == "report":
            exprs(form_id, spec.get("base"))
            for col in spec.get("columns") or []:
                if isinstance(col, dict):
                    over = col.get("over", form_id)
                    exprs(over, col.get("count"))
                    if over != form_id:
                        add(over, [spec.get("visit_date_field", "visit_date")])
        elif kind == "schedule":
            add(form_id, [spec[k] for k in ("risk_field", "status_field", "start_field") if spec.get(k)])
            add(form_id, ["town", "village"])
            add(spec.get("visit_form", "visit"),
                [spec[k] for k in ("person_field", "date_field", "level_field") if spec.get(k)])
        elif kind == "view":
            exprs(form_id, spec.get("where"))
    out = {}
    for form_id, names in wanted.items():
        form = forms.get(form_id)
        if form is None:
            continue
        top = {f.id for f in form.top_fields()}
        out[form_id] = frozenset(n for n in names - CONTEXT_NAMES - REPORT_NAMES if n in top)
    return out


def carries(row: dict, fields: Iterable[str]) -> bool:
    """Whether a list row holds every one of `fields` (a key with a None value counts)."""
    if isinstance(fields, (set, frozenset)):
        return fields <= row.keys()          # in C: asked of every one of 50,000 rows
    return all(f in row for f in fields)


def current_rows(eng, form_id: str, fields: frozenset[str],
                 parts: Iterable[str] | None = None) -> Iterator[tuple[str, dict, str | None]]:
    """(id, values, partition) of every record of the form (of `parts` only, when given): its
    list row as held in memory when the row carries `fields`, else its record's data, read once
    per partition that has such a row (rows saved before a field was declared). The values are
    read, never changed, by the callers: the summary, the due lists."""
    wanted = None if parts is None else set(parts)
    key = eng.form(form_id).partition
    rows = eng.index(form_id).rows
    stale: set[str] = set()
    for rid, row in rows.items():
        part = row.get("_p") or str(row.get(key) or "_none")     # as `partitions_for` names it
        if wanted is not None and part not in wanted:
            continue
        if carries(row, fields):
            yield rid, row, part
        else:
            stale.add(part)
    if not stale:
        return
    for rec in eng.iter_records(form_id, sorted(stale)):
        row = rows.get(rec["id"])
        if row is None or not carries(row, fields):
            yield rec["id"], rec["data"], rec.get("partition")


def computed_reads(forms: Iterable[Any]) -> dict[str, tuple[str, ...] | None]:
    """{field: None (its whole value) or the columns of a repeat group that matter} read by the
    computed fields (`calculate`, `cases`) of `forms` — one form and its towns' variants —
    besides `today` and `settings`, top-level fields only.

    Re-judging 风险等级 after 高龄 moved (or a birthday) needs the diseases, the housing hazard,
    the children's contact frequency ... which the list rows do not carry: keeping them in every
    row would grow the roster's 50,000 rows held in memory, so re-evaluation keeps them in a
    file beside the ledger instead (`core.reporting.columncache.record_values`). A repeat group
    is cut down to the columns the expressions name (`c['child_contact']`), so no child's name,
    phone or ID number is copied there; read any other way, its rows are kept whole."""
    from core.formlang.calcdeps import names_in

    out: dict[str, tuple[str, ...] | None] = {}
    for form in forms:
        top = {f.id: f for f in form.top_fields()}
        for f in top.values():
            if not f.computed or (f.calculate or "").strip() == "today":
                continue
            exprs = [e for e in (f.calculate, *(c.when for c in f.cases)) if isinstance(e, str) and e.strip()]
            for name in set().union(*map(names_in, exprs)) if exprs else ():
                field = top.get(name)
                if field is None:
                    continue
                cols = _columns_read(exprs, field) if field.fields else None
                if name in out and (out[name] is None or cols is None):
                    out[name] = None
                elif name in out:
                    out[name] = tuple(sorted(set(out[name]) | set(cols)))
                else:
                    out[name] = cols
    return out


def _columns_read(exprs: list[str], group) -> tuple[str, ...] | None:
    """The columns of repeat group `group` the expressions read, when they read its rows only
    as `for c in group` (or `group or []`) with `c['col']` or `c.get('col', ...)`; else None."""
    import ast

    ids = {c.id for c in group.fields}
    found: set[str] = set()
    for expr in exprs:
        try:
            tree = ast.parse(expr.strip(), mode="eval")
        except SyntaxError:
            return None
        iters: set[int] = set()          # the group's Name nodes that a comprehension iterates
        for comp in ast.walk(tree):
            if not isinstance(comp, (ast.ListComp, ast.GeneratorExp, ast.SetComp, ast.DictComp)):
                continue
            for gen in comp.generators:
                it = gen.iter
                if isinstance(it, ast.BoolOp) and isinstance(it.op, ast.Or) and len(it.values) == 2 \
                        and isinstance(it.values[1], (ast.List, ast.Tuple)) and not it.values[1].elts:
                    it = it.values[0]
                if not (isinstance(it, ast.Name) and it.id == group.id):
                    continue
                if not isinstance(gen.target, ast.Name):
                    return None
                iters.add(id(it))
                var = gen.target.id
                cols = _row_uses(comp, gen, var)
                if cols is None or not cols <= ids:
                    return None
                found |= cols
        if any(isinstance(n, ast.Name) and n.id == group.id and id(n) not in iters for n in ast.walk(tree)):
            return None                  # the group read some other way (len(), passed on ...)
    return tuple(sorted(found))


def _row_uses(comp, gen, var: str) -> set[str] | None:
    """The columns a comprehension reads of its row variable `var`, when each use is
    `var['col']` or `var.get('col', ...)`; None otherwise."""
    import ast

    parents: dict[int, Any] = {}
    for node in ast.walk(comp):
        for child in ast.iter_child_nodes(node):
            parents[id(child)] = node
    cols: set[str] = set()
    for node in ast.walk(comp):
        if not (isinstance(node, ast.Name) and node.id == var) or node is gen.target:
            continue
        up = parents.get(id(node))
        if isinstance(up, ast.Subscript) and up.value is node and isinstance(up.slice, ast.Constant) \
                and isinstance(up.slice.value, str):
            cols.add(up.slice.value)
            continue
        call = parents.get(id(up))
        if isinstance(up, ast.Attribute) and up.attr == "get" and isinstance(call, ast.Call) and call.func is up \
                and call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
            cols.add(call.args[0].value)
            continue
        return None
    return cols
