"""The roster (annex 2) and the quarterly summary (annex 3), built from their form files.

Both are declared by admins — `forms/roster.yaml` (kind: view) lists columns as a field or an
expression, `forms/summary.yaml` (kind: report) lists columns as `count:` expressions plus the
identities the table must satisfy — so adding a column or changing a threshold is a file edit.
This module only applies those files to the stored records:

- the roster streams: one village file at a time, sorted inside it, so 50,000 people go from
  storage to an export without being held in memory;
- the summary counts in one pass over the records (and over the visit index rows), then checks
  every declared identity on every row and the total, naming the unit and the identity broken.
"""
from __future__ import annotations

import ast
import datetime as dt
import functools
import re
from typing import Any, Callable, Iterable, Iterator

from core.dates import parse_quarter, quarter_end, quarter_of, quarter_start, today

from core.formlang.expressions import CONTEXT_NAMES, ExpressionError
from core.problems import FormError, Problem
from core.reporting import sqlreports
from core.reporting import tallyvalues
from core.reporting.reportmodel import Column, Report

LIST_SEPARATOR = "、"


# ---------------------------------------------------------------------------- shared helpers
def report_file(eng, kind: str, file_id: str | None = None) -> dict:
    """The raw view/report file: by id, else the first of that kind."""
    files = eng.forms.files
    if file_id and file_id in files and files[file_id].get("kind") == kind:
        return files[file_id]
    found = [f for _, f in sorted(files.items()) if f.get("kind") == kind]
    if not found:
        what = {"view": "花名册（kind: view）", "report": "汇总表（kind: report）"}.get(kind, kind)
        raise FormError(f"没有{what}文件，或它有错误（请运行 carebook forms check）")
    return found[0]


def names_in(evaluator, expr: str) -> frozenset[str]:
    """Free names an expression reads (comprehension variables and functions left out)."""
    node = evaluator.parse(expr)
    bound = {n.id for c in ast.walk(node) if isinstance(c, ast.comprehension)
             for n in ast.walk(c.target) if isinstance(n, ast.Name)}
    called = {c.func.id for c in ast.walk(node) if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)}
    return frozenset({n.id for n in ast.walk(node) if isinstance(n, ast.Name)} - bound - called)


def display(value: Any) -> Any:
    """Lists (multi fields, expressions returning lists) shown joined by 、; dates as ISO."""
    if isinstance(value, (list, tuple)):
        return LIST_SEPARATOR.join(str(v) for v in value if v not in (None, ""))
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def partitions_for(eng, form_id: str, town: str | None, village: str | None) -> list[str]:
    """The partition files holding a town's or village's records, in code order."""
    key = eng.form(form_id).partition
    rows = eng.index(form_id).rows.values()
    # `_p` is set on rows read from storage; rows added in this session carry the field itself.
    return sorted({r.get("_p") or str(r.get(key) or "_none") for r in rows
                   if (not town or r.get("town") == town) and (not village or r.get("village") == village)})


def pinyin_key(text: Any) -> tuple:
    """Chinese names sorted as a register is: by pinyin, then by the characters.

    Read character by character through a cache: a district has a few thousand distinct
    characters and 50,000 names, and converting each name whole took a quarter of a roster.
    (A name is read as its characters' usual readings, which is how pypinyin reads a name it has
    no phrase for anyway; the readings come from its character table, not the package, whose
    phrase tables cost 40 MB and 0.2 s to load.)"""
    s = "" if text is None else str(text)
    if s.isascii():
        return (s, s)
    return (" ".join(map(_char_pinyin, s)), s)


@functools.lru_cache(maxsize=None)
def _char_pinyin(ch: str) -> str:
    from core.records.pinyinsearch import usual_reading

    return usual_reading(ch) or ch


# ---------------------------------------------------------------------------- roster
def roster_columns(spec: dict) -> list[Column]:
    return [Column(key=c["key"], label=c["label"], groups=tuple(c.get("groups") or ()),
                   width=c.get("width"), pii=c.get("pii"), kind=c.get("kind", "text"))
            for c in spec.get("columns", [])]


def town_roster_columns(eng, spec: dict, town: str | None) -> list[dict]:
    """Column specs (as in a view file) for the fields `town`'s records have and the form does
    not declare — its overlay files and plugins' `extend_form` — to go after the declared columns.

    A town's own roster is where its staff check what they recorded, so what only that town asks
    must show there; the district roster keeps the declared columns (other towns would get a blank
    column they never asked for). Repeat groups are left out: a roster row is one line a person."""
    if not town:
        return []
    form_id = spec.get("form", "registration")
    base = eng.form(form_id)
    town_form = eng.form(form_id, town=town)
    if town_form is base:
        return []
    from core.transfer.exportform import pii_kind

    declared = {f.id for f in base.fields_flat()}
    taken = {c["key"] for c in spec.get("columns", [])}
    kinds = {"integer": "int", "date": "date"}
    out = []
    for f in town_form.top_fields():
        if f.id in declared or f.type == "repeat":
            continue
        key = f.id if f.id not in taken else f"{town}_{f.id}"
        taken.add(key)
        out.append({"key": key, "label": f.label, "field": f.id, "pii": pii_kind(f),
                    "kind": kinds.get(f.type, "text")})
    return out


def _roster_rows(eng, spec: dict, parts: list[str], town, village, as_of: dt.date,
                 own_town: str | None = None) -> Iterator[dict]:
    form_id = spec.get("form", "registration")
    validator = eng.validator(form_id, town=own_town)    # one town's roster reads its own fields too
    run = eng.evaluator.eval
    where = spec.get("where")
    sort = list(spec.get("sort") or [])
    used = _fields_used(eng, spec.get("columns", []), [where] if where else [])
    cells = [(c["key"], _cell_reader(eng, c)) for c in spec.get("columns", [])]
    seq = 0
    for part in parts:
        chosen = []
        for rec in eng.iter_records(form_id, [part]):
            data = rec["data"]
            if (town and data.get("town") != town) or (village and data.get("village") != village):
                continue
            names = validator.names(data, used)
            names.update(as_of=as_of, today=as_of)
            if where and not _truth(run, where, names):
                continue
            chosen.append((tuple(pinyin_key(data.get(k)) for k in sort), names))
        chosen.sort(key=lambda t: t[0])
        for _, names in chosen:
            seq += 1
            names["row_number"] = seq
            yield {key: cell(names) for key, cell in cells}


def _fields_used(eng, columns: list[dict], exprs: list[str]) -> frozenset[str]:
    """The record fields a view reads: its columns' fields and every name its expressions use
    (a frozenset, so `Validator.names` reuses the plan it makes for it)."""
    out = {c["field"] for c in columns if "field" in c}
    for expr in [*exprs, *(c["expr"] for c in columns if "expr" in c)]:
        out |= names_in(eng.evaluator, expr)
    return frozenset(out)


def _truth(run: Callable[[str, dict], Any], expr: str, names: dict) -> bool:
    try:
        return bool(run(expr, names))
    except ExpressionError:
        return False


def _cell_reader(eng, col: dict) -> Callable[[dict], Any]:
    """How one roster column reads its cell from a row's names, decided once per column: the
    hot loop of a 50,000-row roster calls it a million times."""
    if "field" in col:
        field = col["field"]

        def value(names: dict) -> Any:
            return names.get(field)
    else:
        expr, run = col.get("expr", "None"), eng.evaluator.eval

        def value(names: dict) -> Any:
            try:
                return run(expr, names)
            except ExpressionError:
                return None
    if col.get("division"):
        divisions = eng.divisions           # once per column: `eng.divisions` checks the file
        plain = value

        def value(names: dict) -> Any:       # noqa: F811 - the division name over the code
            code = plain(names)
            return (divisions.name(code) or code) if code else code

    def cell(names: dict) -> Any:
        shown = display(value(names))
        return "" if shown is None else shown
    return cell


def _roster_count(eng, spec: dict, town, village) -> int | None:
    """How many rows the roster will have, from the index rows when `where` only reads them."""
    form_id = spec.get("form", "registration")
    form = eng.form(form_id)
    where = spec.get("where")
    rows = [r for r in eng.index(form_id).rows.values()
            if (not town or r.get("town") == town) and (not village or r.get("village") == village)]
    if not where:
        return len(rows)
    if not names_in(eng.evaluator, where) <= set(form.list_fields) | CONTEXT_NAMES:
        return None
    run = eng.evaluator.eval
    validator = eng.validator(form_id)
    used = names_in(eng.evaluator, where)
    return sum(1 for r in rows if _truth(run, where, validator.names(r, used)))


def build_roster(eng, town: str | None = None, village: str | None = None,
                 as_of: dt.date | None = None, view: str | None = None) -> Report:
    """花名册: the people `where` selects, sorted town → village → name, rows streamed."""
    as_of = as_of or today()
    spec = report_file(eng, "view", view or "roster")
    divs = eng.divisions
    own_town = town or (divs.town_of(village) if village else None)    # a village is in one town
    extra = town_roster_columns(eng, spec, own_town)
    if extra:
        spec = {**spec, "columns": list(spec.get("columns", [])) + extra}
    form_id = spec.get("form", "registration")
    unit = divs.name(village) if village else divs.name(town) if town else divs.county.name
    rows, count = sqlreports.roster(eng, spec, town, village, as_of, own_town) or (     # on a server
        _roster_rows(eng, spec, partitions_for(eng, form_id, town, village), town, village, as_of, own_town),
        _roster_count(eng, spec, town, village))
    return Report(
        name="roster", title=spec.get("title", "花名册"), columns=roster_columns(spec),
        rows=rows, unit=unit or "", date=as_of.isoformat(), row_count=count,
        signature=("填表人", "复核人", "单位负责人"),
    )


# ---------------------------------------------------------------------------- summary
def quarter_bounds(quarter: Any) -> tuple[str, dt.date, dt.date]:
    """("2026Q4", first day, last day) from "2026Q4" or any date in the quarter."""
    yq = parse_quarter(quarter)
    if yq is None:
        raise FormError(f"季度写法不对：{quarter!r}（应写成 2026Q4）")
    return f"{yq[0]}Q{yq[1]}", quarter_start(*yq), quarter_end(*yq)


def summary_columns(spec: dict, unit_label: str) -> list[Column]:
    cols = [Column(key="unit", label=unit_label, width=12)]
    cols += [Column(key=c["key"], label=c["label"], groups=tuple(c.get("groups") or ()),
                    width=c.get("width", 6), number=str(c.get("number", "")) or None, kind="int")
             for c in spec.get("columns", [])]
    return cols


class Tally:
    """Counts per unit and column, plus the expression failures met on the way."""

    def __init__(self, spec: dict, units: list[str]):
        self.cols = spec.get("columns", [])
        self.counts: dict[str, dict[str, int]] = {u: {c["key"]: 0 for c in self.cols} for u in units}
        self.failures: dict[str, tuple[int, str]] = {}

    def unit(self, code: str) -> dict[str, int]:
        if code not in self.counts:
            self.counts[code] = {c["key"]: 0 for c in self.cols}
        return self.counts[code]

    def counter(self, evaluator, cols: list[dict]) -> Callable[[dict, dict[str, int]], None]:
        """`count(names, unit)` for many columns at once: their `count` expressions joined into
        one tuple expression, so a row costs one evaluation instead of one per column (31
        columns over 50,000 people were 1.5 million calls). A row on which the joined
        expression fails is counted column by column, so each failure is still told apart."""
        if not cols:
            return lambda names, unit: None
        keys = [c["key"] for c in cols]
        joined = "(" + ", ".join(f"bool({c['count']})" for c in cols) + ",)"
        run = evaluator.eval
        try:
            evaluator.compiled(joined)
        except ExpressionError:
            return lambda names, unit: self.add(run, cols, names, unit)

        def count(names: dict, unit: dict[str, int]) -> None:
            try:
                hits = run(joined, names)
            except ExpressionError:
                self.add(run, cols, names, unit)
                return
            for key, hit in zip(keys, hits):
                if hit:
                    unit[key] += 1
        return count

    def add(self, run: Callable[[str, dict], Any], cols: Iterable[dict], names: dict, unit: dict[str, int]) -> None:
        for c in cols:
            try:
                hit = run(c["count"], names)
            except ExpressionError as exc:
                n, _ = self.failures.get(c["key"], (0, ""))
                self.failures[c["key"]] = (n + 1, str(exc))
                continue
            if hit:
                unit[c["key"]] += 1


def _unit_of(data: dict, by_village: bool) -> str | None:
    return data.get("village") if by_village else data.get("town")


def _count_people(eng, spec: dict, tally: Tally, scope: dict, parts: list[str] | None, by_village: bool,
                  town: str | None) -> None:
    form_id = spec.get("form", "registration")
    validator = eng.validator(form_id)
    run = eng.evaluator.eval
    base = spec.get("base")
    in_base = [c for c in tally.cols if c.get("over", form_id) == form_id and c.get("base") != "all"]
    in_all = [c for c in tally.cols if c.get("over", form_id) == form_id and c.get("base") == "all"]
    used = _fields_used(eng, [], [base] if base else []) | {
        n for c in in_base + in_all for n in names_in(eng.evaluator, c["count"])}
    stored = {n for n in used | {"town", "village"} if eng.form(form_id).field(n) is not None}
    try:
        plan = tallyvalues.Plan(eng.evaluator, validator, base, in_all + in_base)
    except ExpressionError:          # a column that does not parse: each row says so, as below
        plan = None
    if plan is not None:
        needed = frozenset(stored | plan.fields | {"town", "village"})
        cols = _people_columns(eng, form_id, needed, stored, parts, town)
        unit_key = "village" if by_village else "town"
        units = [unit or "" for unit in cols[unit_key]]

        def fail_message(col: dict, row: dict) -> str | None:
            names = validator.names(row, used)
            names.update(scope)
            if col in in_base and base and not _truth(run, base, names):
                return None
            try:
                run(col["count"], names)
            except ExpressionError as exc:
                return str(exc)
            return None

        tallyvalues.count_rows(plan, cols, units, scope, in_all, in_base, tally, fail_message)
        return
    count_all, count_base = tally.counter(eng.evaluator, in_all), tally.counter(eng.evaluator, in_base)
    if parts is None:
        parts = partitions_for(eng, form_id, town, None)
    for data in _people(eng, form_id, stored, parts):
        if town and data.get("town") != town:
            continue
        unit = tally.unit(_unit_of(data, by_village) or "")
        names = validator.names(data, used)
        names.update(scope)
        count_all(names, unit)
        if not base or _truth(run, base, names):
            count_base(names, unit)


def _people_columns(eng, form_id: str, needed: frozenset[str], stored: set[str], parts: list[str] | None,
                    town: str | None) -> dict[str, list]:
    """{field: values} of `needed` for the people of `town` (or all): from the report column
    cache (`core.reporting.columncache`), else from the list rows (`_people`). `parts` (the
    town's partitions) is worked out here when None."""
    from core.reporting import columncache

    got = columncache.columns(eng, form_id, needed)
    if got is not None:
        cols = got.cols
        if town:
            keep = [i for i, t in enumerate(cols["town"]) if t == town]
            cols = {f: [values[i] for i in keep] for f, values in cols.items()}
        return cols
    if parts is None:
        parts = partitions_for(eng, form_id, town, None)
    rows = [data for data in _people(eng, form_id, stored, parts) if not town or data.get("town") == town]
    return {f: [data.get(f) for data in rows] for f in needed}


def _people(eng, form_id: str, used: frozenset[str] | set[str], parts: list[str]) -> Iterator[dict]:
    """Each record's values of `used`, in `parts`: the list rows when they carry those fields
    (`Engine.row_fields`), else the record itself (rows saved before a field was declared)."""
    from core.reporting.rowfields import current_rows

    for _rid, values, _part in current_rows(eng, form_id, frozenset(used), parts):
        yield values


def _count_visits(eng, spec: dict, tally: Tally, scope: dict, by_village: bool, town: str | None) -> None:
    visit_form = spec.get("visit_form", "visit")
    cols = [c for c in tally.cols if c.get("over") == visit_form]
    if not cols:
        return
    from core.reporting.schedule import rows_with

    date_f = spec.get("visit_date_field", "visit_date")
    needed = {date_f} | set().union(*(names_in(eng.evaluator, c["count"]) for c in cols))
    # A visit is stored in its village's partition, and the village gives the town: neither
    # has to be read from the 300,000 full visit records.
    needed -= CONTEXT_NAMES | set(scope) | {"town", "village"}
    town_of = eng.divisions.town_of
    if _count_visits_from_rollup(eng, spec, tally, scope, by_village, town, cols, needed, date_f):
        return
    validator = eng.validator(visit_form)
    first, last = scope["q_start"].isoformat(), scope["q_end"].isoformat()
    read = frozenset(needed | {"town", "village"})
    def in_quarter(row: dict) -> bool:
        return first <= str(row.get(date_f) or "")[:10] <= last

    count = tally.counter(eng.evaluator, cols)
    for row in rows_with(eng, visit_form, needed, in_quarter).values():
        if "town" not in row or "village" not in row:
            village_code = row.get("village") or row.get("_p") or ""
            row = {**row, "village": village_code, "town": row.get("town") or town_of(village_code)}
        if town and row.get("town") != town:
            continue
        names = validator.names(row, read)
        names.update(scope)
        count(names, tally.unit(_unit_of(row, by_village) or ""))


def _count_visits_from_rollup(eng, spec: dict, tally: Tally, scope: dict, by_village: bool, town: str | None,
                              cols: list[dict], needed: set[str], date_f: str) -> bool:
    """Visit columns that read only the rollup's key (`visit_level == '村委会'`) summed from the
    per-person quarterly counts kept at save time (`core.records.rollup`), without reading the
    quarter's visits. False when the counts cannot answer (other fields read, no rollup, rows
    written before counts were kept): the caller then counts the visits themselves."""
    from core.records import rollup

    visit_form = spec.get("visit_form", "visit")
    form = eng.form(visit_form)
    rspec = rollup.spec_of(form) if form is not None else None
    if not rollup.covers(rspec, date_f, set(needed) - {date_f}):
        return False
    counts = rollup.quarter_counts(_rollup_rows(eng, visit_form), quarter_of(scope["q_start"]))
    if counts is None:
        return False
    key_f, town_of = rspec["key"], eng.divisions.town_of
    validator = eng.validator(visit_form)
    count = tally.counter(eng.evaluator, cols)
    hits: dict[str, dict[str, int]] = {}          # key value -> the columns one such visit adds to
    by_village_key: dict[str, dict[str, int]] = {}   # the people's counts summed per village first:
    for village, per_key in counts:                  # 50,000 rows, a few hundred villages
        summed = by_village_key.setdefault(village or "", {})
        for key, n in per_key.items():
            summed[key] = summed.get(key, 0) + n
    for village, per_key in by_village_key.items():
        row_town = town_of(village) if village else None
        if town and row_town != town:
            continue
        unit = tally.unit((village if by_village else row_town) or "")
        for key, n in per_key.items():
            if key not in hits:
                names = validator.names({key_f: key}, frozenset({key_f}))
                names.update(scope)
                hits[key] = {c["key"]: 0 for c in cols}
                count(names, hits[key])
            for col, one in hits[key].items():
                if one:
                    unit[col] += one * n
    return True


def _rollup_rows(eng, visit_form: str) -> Iterable[dict]:
    """The rollup rows `rollup.quarter_counts` reads: one a village, its people's quarterly
    counts summed, from the report column cache (`core.reporting.columncache`); the per-person
    rows when the cache cannot answer (a rollup table still to be built: `Engine.rollup_rows`)."""
    from core.records import rollup
    from core.reporting import columncache

    got = columncache.columns(eng, rollup.table_of(visit_form), (), complete=False)
    if got is None or not (got.ids or not eng.store.count(visit_form)):
        return eng.rollup_rows(visit_form).values()
    return [{"_p": village, rollup.COUNTS: sums} for village, sums in got.sums]


def pretty_identity(expr: str) -> str:
    """"c1 == c2 + c3" → "第1栏 = 第2栏 + 第3栏", as a civil-affairs form states it."""
    text = re.sub(r"\bc(\d+)\b", r"第\1栏", expr)
    return text.replace("==", "=").replace("<=", "≤").replace(">=", "≥")


def check_identities(evaluator, identities: list, row: dict, unit_name: str) -> list[Problem]:
    """One Problem per identity that does not hold on a row (the unit named first)."""
    out = []
    for item in identities:
        expr = item["check"] if isinstance(item, dict) else str(item)
        try:
            ok = bool(evaluator.eval(expr, dict(row)))
        except ExpressionError as exc:
            out.append(Problem(f"{unit_name}：勾稽关系 {expr} 无法计算：{exc}", path=unit_name, rule="identity"))
            continue
        if not ok:
            keys = sorted(set(re.findall(r"\bc\d+\b", expr)), key=lambda k: int(k[1:]))
            values = "，".join(f"第{k[1:]}栏={row.get(k)}" for k in keys)
            msg = item.get("message") if isinstance(item, dict) else None
            out.append(Problem(f"{unit_name}：表内勾稽关系不成立：{pretty_identity(expr)}（{values}）"
                               + (f"，{msg}" if msg else "") + f" ({expr})",
                               path=unit_name, rule="identity"))
    return out


def _units(eng, town: str | None, by_village: bool, as_of: dt.date) -> list[str]:
    divs = eng.divisions
    if by_village:
        towns = [town] if town else [t.code for t in divs.towns(as_of)]
        return [v.code for t in towns for v in divs.villages(t, as_of)]
    return [town] if town else [t.code for t in divs.towns(as_of)]


def build_summary(eng, quarter: Any = None, town: str | None = None, by_village: bool = False,
                  as_of: dt.date | None = None, report: str | None = None) -> Report:
    """汇总表 of a quarter: one row per town (or per village), a total row, identities checked."""
    as_of = as_of or today()
    period, q_start, q_end = quarter_bounds(quarter or as_of)
    spec = report_file(eng, "report", report or "summary")
    form_id = spec.get("form", "registration")
    report_date = min(as_of, q_end)
    scope = {"q_start": q_start, "q_end": q_end, "report_date": report_date, "today": report_date,
             "settings": eng.validator(form_id).names({})["settings"]}
    units = _units(eng, town, by_village, q_end)
    tally = Tally(spec, units)
    if not sqlreports.count_summary(eng, spec, tally, scope, by_village, town):     # on a server
        _count_people(eng, spec, tally, scope, None, by_village, town)
        _count_visits(eng, spec, tally, scope, by_village, town)

    divs = eng.divisions
    keys = [c["key"] for c in tally.cols]
    rows = []
    for code, counts in tally.counts.items():
        label = divs.name(code) or (f"未知区划 {code}" if code else "未填区划")
        rows.append({"unit": label, "unit_code": code, **counts})
    total = {"unit": "合计", "unit_code": "", **{k: sum(r[k] for r in rows) for k in keys}}

    identities = spec.get("identities") or []
    checks: list[Problem] = []
    for row in rows + [total]:
        checks += check_identities(eng.evaluator, identities, {k: row[k] for k in keys}, row["unit"])
    for key, (n, why) in tally.failures.items():
        col = next(c for c in tally.cols if c["key"] == key)
        checks.append(Problem(f"第{col.get('number', key)}栏（{col['label']}）的计数表达式在 {n} 条记录上无法计算：{why}",
                              path=key, severity="warning", rule="expression"))

    due_day = int(spec.get("due_day", 15))
    due = dt.date(q_end.year, q_end.month, due_day)
    unit = divs.name(town) if town else divs.county.name
    return Report(
        name="summary", title=spec.get("title", "汇总表"),
        columns=summary_columns(spec, "村（居）委会" if by_village else "街镇"),
        rows=rows, total=total, unit=unit or "", date=report_date.isoformat(), period=period,
        due=due.isoformat(), late=as_of > due, checks=checks, row_count=len(rows),
        notes=[f"统计期：{q_start.isoformat()} 至 {q_end.isoformat()}；"
               + spec.get("basis", "人数按 {report_date} 在册计算").replace("{report_date}", report_date.isoformat()),
               f"报送截止：{due.isoformat()}（每季度最后一个月{due_day}日前报区民政局）"],
    )
