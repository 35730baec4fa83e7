"""The summary, the roster's selection and the due lists computed by SQL on a server ledger.

On a PostgreSQL ledger (`core.storage.pgstore`) the Python reports would pull every list row
over the network and evaluate the form's expressions row by row; here the server does it: one
GROUP BY per summary (people by town or village, visits of the quarter by village), one query
choosing the roster's people, one query for everyone due. The results are the Python path's
(`core.reporting.reports`, `core.reporting.schedule`) to the row — the tests compare them on the
same ledger — and the reports are still declared in the form files: the SQL is built from
`forms/summary.yaml`, `roster.yaml` and `schedule.yaml` each time (`core.reporting.sqlexpr`).

Explicit fallbacks (logged, and listed in `last_fallbacks` for the benchmark and tests):

- a summary column (or the base) whose expression has no SQL translation is counted by the
  Python tally for that column only — over the same rows, so the sum is still exact;
- the roster's cells (pinyin order, expressions with lists and subscripts) are formatted in
  Python from the records the SQL chose; a `where` without translation means the whole roster
  is chosen in Python;
- a schedule with cadences the SQL builder does not know falls back to Python entirely.
"""
from __future__ import annotations

import datetime as dt
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterator

from core.reporting.sqlexpr import (TEXT, Fields, Translator, Untranslatable, iso_date, json_value,
                                    literal, strict_retry)

log = logging.getLogger("carebook.sqlreports")
last_fallbacks: list[str] = []          # what the last SQL report left to Python, and why


def runner(eng) -> Callable[..., list[tuple]] | None:
    """The store's SQL entry when the ledger is on a server (None on a data folder)."""
    return getattr(eng.store, "sql_rows", None)


def _fallback(what: str, why: Exception | str) -> None:
    last_fallbacks.append(f"{what}: {why}")
    log.info("SQL report falls back to Python for %s (%s)", what, why)


# ---------------------------------------------------------------------------- summary
def count_summary(eng, spec: dict, tally, scope: dict, by_village: bool, town: str | None) -> bool:
    """Fill `tally` (a `reports.Tally`) on the server; False when the ledger is a folder."""
    run = runner(eng)
    if run is None:
        return False
    last_fallbacks.clear()
    form_id = spec.get("form", "registration")
    visit_form = spec.get("visit_form", "visit")
    people = [c for c in tally.cols if c.get("over", form_id) == form_id]
    visits = [c for c in tally.cols if c.get("over") == visit_form]
    done, visits_left, fetch = _visit_rows(eng, spec, scope, visits)
    aside = getattr(eng.store, "sql_rows_aside", None)
    rows: list[tuple] = []
    if fetch is not None and people and aside is not None:
        # the visits counted on a second connection while the people are counted on the first:
        # two server processes, two cores (only the queries run in the thread; the tally is
        # filled here, in this thread)
        with ThreadPoolExecutor(1, thread_name_prefix="carebook-summary") as pool:
            pending = pool.submit(fetch, aside)
            left = _count_people(eng, run, spec, tally, scope, by_village, town, people)
            rows = pending.result()
    else:
        left = _count_people(eng, run, spec, tally, scope, by_village, town, people)
        rows = fetch(run) if fetch is not None else []
    _add_visits(eng, tally, by_village, town, done, rows)
    left += visits_left
    if left:
        _python_columns(eng, spec, tally, scope, by_village, town, left)
    return True


def _conditions(tr: Translator, cols: list[dict], what: str) -> tuple[list[tuple[dict, str]], list[dict]]:
    done, left = [], []
    for c in cols:
        try:
            done.append((c, tr.condition(c["count"])))
        except Untranslatable as exc:
            _fallback(f"{what} {c['key']}", exc)
            left.append(c)
    return done, left


FAILED = 1 << 32       # a column's sum is hits + FAILED × failures: one aggregate per column


def _grouped(with_: str, group: str, done: list[tuple[dict, str]], base: str = "TRUE",
             weight: str | None = None, where: str = "") -> str:
    """SQL: per value of `group`, for each column the rows where its condition is true and the
    rows where it failed (the Python tally's `failures`), as one sum (`FAILED`; `_add` splits
    it); columns under the base count only rows the base lets through. Each condition is
    evaluated once per row, inside its column's sum, and the base once per row (the subquery);
    nothing is stored between the steps but the typed values of `p`. `weight`: how many
    records a row stands for (the rollup's counts)."""
    one = "p._w" if weight else "1"
    aggs = []
    for c, cond in done:
        code = f"CASE ({cond}) WHEN TRUE THEN {one} WHEN FALSE THEN 0 ELSE {one} * {FAILED} END"
        if c.get("base") != "all":
            code = f"CASE WHEN p._base THEN {code} ELSE 0 END"
        aggs.append(f"COALESCE(sum({code}), 0)::bigint")
    w = f", {weight} AS _w" if weight else ""
    # the subquery keeps the name `p`, so the conditions read its columns as they read `p`'s
    return (f"WITH {with_} SELECT p._g, {', '.join(aggs)} FROM "
            f"(SELECT p.*, {group} AS _g, {base} AS _base{w} FROM p {where} OFFSET 0) p GROUP BY 1 ORDER BY 1")


def _add(tally, unit: str, done: list[tuple[dict, str]], numbers: tuple) -> None:
    counts = tally.unit(unit)
    for (c, _), n in zip(done, numbers):
        failed, hits = divmod(int(n), FAILED)
        counts[c["key"]] += hits
        if failed:
            n, _why = tally.failures.get(c["key"], (0, ""))
            tally.failures[c["key"]] = (n + failed, "值缺失或类型不符（服务器计算）")


def _count_people(eng, run, spec, tally, scope, by_village, town, cols) -> list[dict]:
    if not cols:
        return []
    form_id = spec.get("form", "registration")
    fields = Fields(eng.form(form_id), eng.registry)
    tr = Translator(eng.evaluator, fields, scope)
    try:
        unit = fields.ref("village" if by_village else "town")
        town_ref = fields.ref("town")
        base = f"COALESCE({tr.condition(spec['base'])}, FALSE)" if spec.get("base") else "TRUE"
        if TEXT != unit.kind or TEXT != town_ref.kind:
            raise Untranslatable("town / village are not text fields")
    except Untranslatable as exc:
        _fallback("summary base", exc)
        return cols
    done, left = _conditions(tr, cols, "summary column")
    if done:
        where = f"WHERE {town_ref.text} = {literal(town).text}" if town else ""
        rows = strict_retry(lambda strict: run(_grouped(
            fields.cte(f"r.tbl = {literal(form_id).text}", strict=strict), f"COALESCE({unit.text}, '')", done,
            base, where=where)))
        for unit_code, *numbers in rows:
            _add(tally, unit_code, done, numbers)
    return left


Fetch = Callable[[Callable[..., list[tuple]]], list[tuple]]


def _visit_rows(eng, spec: dict, scope: dict, cols: list[dict]) -> tuple[list, list[dict], Fetch | None]:
    """The quarter's visits per village (their partition), as `reports._count_visits`: the
    translated columns, those left to Python, and a function fetching the counts with a given
    SQL runner (None when no column translates). The SQL text is built here; the function only
    runs queries, so it may run in another thread."""
    if not cols:
        return [], [], None
    date_f = spec.get("visit_date_field", "visit_date")
    fields = Fields(eng.form(spec.get("visit_form", "visit")), eng.registry)
    done, left = _conditions(Translator(eng.evaluator, fields, scope), cols, "summary visit column")
    if not done:
        return done, left, None
    rollup_sql = _visits_from_rollup(eng, spec, fields, done, scope)
    day = f"left({json_value(date_f)} #>> '{{}}', 10) COLLATE \"C\""
    first, last = literal(scope["q_start"].isoformat()).text, literal(scope["q_end"].isoformat()).text
    quarter = f"r.tbl = {literal(spec.get('visit_form', 'visit')).text} AND {day} BETWEEN {first} AND {last}"

    def fetch(run: Callable[..., list[tuple]]) -> list[tuple]:
        if rollup_sql is not None:
            check, sql = rollup_sql
            (rows, without), = run(check)
            if rows and not without:
                return run(sql)
        return strict_retry(lambda strict: run(_grouped(
            fields.cte(quarter, ("r.partition AS _p",), strict=strict), "p._p", done)))
    return done, left, fetch


def _add_visits(eng, tally, by_village: bool, town: str | None, done: list, rows: list[tuple]) -> None:
    town_of = eng.divisions.town_of
    for village, *numbers in rows:
        village = "" if village == "_none" else village
        row_town = town_of(village) if village else None
        if town and row_town != town:
            continue
        _add(tally, (village if by_village else row_town) or "", done, numbers)


def _visits_from_rollup(eng, spec, fields: Fields, done, scope) -> tuple[str, str] | None:
    """SQL summing the quarter's counts the rollup keeps per person (`core.records.rollup`:
    50,000 small rows instead of 300,000 visits), when the columns read only the rollup's key,
    and the query telling whether every rollup row keeps counts (else the visits themselves
    are counted) — the same rule as `reports._count_visits_from_rollup`."""
    from core.dates import quarter_of
    from core.records import rollup

    visit_form = spec.get("visit_form", "visit")
    rspec = rollup.spec_of(eng.form(visit_form))
    key = (rspec or {}).get("key")
    if not rollup.covers(rspec, spec.get("visit_date_field", "visit_date"), set(fields.used)) \
            or fields.used.get(key, TEXT) != TEXT:
        return None
    table = literal(rollup.table_of(visit_form)).text
    check = (f"SELECT count(*), count(*) FILTER (WHERE NOT row ? {literal(rollup.COUNTS).text}) "
             f"FROM records WHERE tbl = {table}")
    quarter = literal(quarter_of(scope["q_start"])).text
    cols = [f'kv.key AS "t_{key}"'] if key in fields.used else []
    # summed per village and key value first: the columns are then judged on a few hundred rows
    return check, _grouped(f"p AS MATERIALIZED (SELECT {', '.join(['r.partition AS _p', *cols])}, "
                    f"sum((kv.value #>> '{{}}')::numeric) AS _n FROM records r, "
                    f"jsonb_each(r.row -> {literal(rollup.COUNTS).text} -> {quarter}) kv WHERE r.tbl = {table} "
                    f"GROUP BY {', '.join(str(i + 1) for i in range(1 + len(cols)))})",
                    "p._p", done, weight="p._n")


def _python_columns(eng, spec, tally, scope, by_village, town, cols: list[dict]) -> None:
    """The columns SQL could not count, counted by the Python path over the same ledger."""
    from core.reporting import reports

    sub_spec = {**spec, "columns": cols}
    sub = reports.Tally(sub_spec, list(tally.counts))
    parts = reports.partitions_for(eng, spec.get("form", "registration"), town, None)
    reports._count_people(eng, sub_spec, sub, scope, parts, by_village, town)
    reports._count_visits(eng, sub_spec, sub, scope, by_village, town)
    for unit, counts in sub.counts.items():
        mine = tally.unit(unit)
        for key, n in counts.items():
            mine[key] += n
    tally.failures.update(sub.failures)


# ---------------------------------------------------------------------------- roster
def roster(eng, spec: dict, town: str | None, village: str | None, as_of: dt.date,
           own_town: str | None) -> tuple[Iterator[dict], int] | None:
    """(rows, how many) of the roster, its people chosen on the server (`where`, town, village)
    and read one village at a time — the desk never loads the form's list rows; None (use
    Python) on a folder or without a translation."""
    run = runner(eng)
    if run is None:
        return None
    last_fallbacks.clear()
    form_id = spec.get("form", "registration")
    fields = Fields(eng.form(form_id), eng.registry)
    consts = {"as_of": as_of, "today": as_of, "settings": eng.validator(form_id).names({})["settings"]}
    tr = Translator(eng.evaluator, fields, consts)
    try:
        where = [f"COALESCE({tr.condition(spec['where'])}, FALSE)"] if spec.get("where") else []
        for key, value in (("town", town), ("village", village)):
            if value:
                where.append(f"{fields.ref(key).text} = {literal(value).text}")
    except Untranslatable as exc:
        _fallback("roster where", exc)
        return None
    def query(strict: bool) -> list[tuple]:
        return run(f"WITH {fields.cte('r.tbl = %s', ('r.id', 'r.partition AS _p'), strict=strict)} "
                   f"SELECT p._p, p.id FROM p {'WHERE ' + ' AND '.join(where) if where else ''} "
                   f"ORDER BY p._p COLLATE \"C\", p.id COLLATE \"C\"", (form_id,))

    chosen: dict[str, list[str]] = {}
    for part, rid in strict_retry(query):
        chosen.setdefault(part, []).append(rid)
    _fallback("roster cells", "formatted in Python (pinyin order, list expressions)")
    from core.reporting.reports import _roster_rows

    return (_roster_rows(_Chosen(eng, run, form_id, chosen), {**spec, "where": None}, list(chosen), None, None,
                         as_of, own_town), sum(map(len, chosen.values())))


class _Chosen:
    """The engine as the Python roster sees it, its `iter_records` giving only the records the
    server chose (one village at a time): the cells, the pinyin order and the numbering are
    the Python roster's own code, unchanged."""

    def __init__(self, eng, run, form_id: str, chosen: dict[str, list[str]]):
        self._eng, self._run, self._form_id, self._chosen = eng, run, form_id, chosen

    def __getattr__(self, name: str) -> Any:
        return getattr(self._eng, name)

    def iter_records(self, form_id: str, parts) -> Iterator[dict]:
        for part in parts:
            ids = self._chosen.get(part) if form_id == self._form_id else None
            if ids:
                for rid, data in self._run("SELECT id, doc -> 'data' FROM records WHERE tbl = %s AND id = ANY(%s) "
                                           "ORDER BY id COLLATE \"C\"", (form_id, ids)):
                    yield {"id": rid, "partition": part, "data": data}


# ---------------------------------------------------------------------------- due lists
def _text(key: str) -> str:
    return json_value(key, text=True)


def _plus(day: str, spec: Any) -> str:
    """SQL for `schedule.add_interval(day, spec)`: months first (the day clamped to the month's
    end, as PostgreSQL and `core.dates.add_months` both do), then days."""
    spec = spec or {"months": 1}
    if not isinstance(spec, dict):
        raise Untranslatable(f"interval {spec!r}")
    months, days = int(spec.get("months", 0)), int(spec.get("days", 0))
    return f"(({day} + make_interval(months => {months}))::date + {days})"


def _due(level: dict, start: str, last: str, risk: str) -> str:
    if level.get("per") == "quarter":
        return (f"(CASE WHEN {last} IS NULL THEN (date_trunc('quarter', {start}) + interval '3 months - 1 day')::date "
                f"ELSE (date_trunc('quarter', {last}) + interval '6 months - 1 day')::date END)")
    if level.get("per"):
        raise Untranslatable(f"per: {level.get('per')}")
    base = f"COALESCE({last}, {start})"
    every = level.get("every") or {}
    if any(not isinstance(k, str) for k in every):
        raise Untranslatable("risk levels that are not text")
    cases = " ".join(f"WHEN {literal(k).text} THEN {_plus(base, v)}" for k, v in every.items() if v)
    due = f"(CASE {risk} {cases} ELSE {_plus(base, level.get('default'))} END)" if cases else \
        _plus(base, level.get("default"))
    return f"LEAST({due}, {_plus(base, level['floor'])})" if level.get("floor") else due


def _latest(eng, run, sch: dict, as_of: dt.date, on: str, strict: bool, values: list) -> str:
    """SQL of one row per person: ``d0``, ``d1`` … the last visit at each level of `values` on
    or before `on`. For today the rollup's latest date per level (one small row a person, as
    `schedule.last_visits` reads it); for a past date every visit (later ones left out)."""
    from core.records import rollup

    form_id = sch.get("visit_form", "visit")
    p, d, lv = sch.get("person_field", "person"), sch.get("date_field", "visit_date"), sch.get("level_field", "visit_level")
    spec = rollup.spec_of(eng.form(form_id)) or {}
    table = literal(rollup.table_of(form_id)).text
    if as_of >= eng.today() and (spec.get("ref"), spec.get("key"), spec.get("date")) == (p, lv, d) \
            and run(f"SELECT EXISTS (SELECT 1 FROM records WHERE tbl = {table})")[0][0]:
        days = [iso_date(f"left(r.row ->> {literal(v).text}, 10)", strict=strict) if v is not None else "NULL::date"
                for v in values]
        return ("SELECT r.id AS person, " + ", ".join(
            f"(CASE WHEN {day} <= {on} THEN {day} END) AS d{i}" for i, day in enumerate(days))
            + f" FROM records r WHERE r.tbl = {table}")
    return ("SELECT v.person, " + ", ".join(f"max(v.day) FILTER (WHERE v.level = {literal(v).text}) AS d{i}"
                                            for i, v in enumerate(values))
            + f" FROM (SELECT {_text(p)} AS person, {_text(lv)} AS level, "
            f"{iso_date(f'left({_text(d)}, 10)', strict=strict)} AS day FROM records r "
            f"WHERE r.tbl = {literal(form_id).text}) v WHERE v.day <= {on} GROUP BY 1")


def visits_due(eng, sch: dict, as_of: dt.date, town: str | None, village: str | None) -> list | None:
    """`schedule.visits_due` on the server: None on a folder or for a cadence not translated.
    One join of the people with their last visits; each level a row of a VALUES list."""
    run = runner(eng)
    if run is None:
        return None
    from core.reporting.schedule import DueItem

    last_fallbacks.clear()
    form_id = sch.get("form", "registration")
    risk_f, status_f = sch.get("risk_field", "risk_level"), sch.get("status_field", "status")
    start_f = sch.get("start_field", "filing_date")
    soon = int(sch.get("due_soon_days", 7))
    on = f"DATE '{as_of.isoformat()}'"
    scope = "".join(f" AND {_text(k)} = {literal(v).text}" for k, v in (("town", town), ("village", village)) if v)
    levels = sch.get("levels", [])
    values = [None if lv.get("value") is None else str(lv.get("value")) for lv in levels]
    try:
        rows = [f"({i}, l.d{i}, {_due(level, 'pp.start', f'l.d{i}', 'pp.risk')}, "
                f"{int(level.get('due_soon_days', soon))})" for i, level in enumerate(levels)]
    except (Untranslatable, ValueError, TypeError) as exc:
        _fallback("due list", exc)
        return None
    if not rows:
        return []

    # people filed after as_of (or without a filing date) are nobody's due yet
    def query(strict: bool) -> list[tuple]:
        return run(f"WITH people AS MATERIALIZED (SELECT * FROM (SELECT r.id, {_text('name')} AS name, "
                   f"{_text('town')} AS town, {_text('village')} AS village, {_text(risk_f)} AS risk, "
                   f"{iso_date(f'left({_text(start_f)}, 10)', strict=strict)} AS start FROM records r "
                   f"WHERE r.tbl = %s AND {_text(status_f)} = %s{scope}) q WHERE q.start <= {on}), "
                   f"last AS MATERIALIZED ({_latest(eng, run, sch, as_of, on, strict, values)}) "
                   f"SELECT pp.id, v.ord, pp.name, pp.town, pp.village, pp.risk, v.prev, v.due "
                   f"FROM people pp LEFT JOIN last l ON l.person = pp.id "
                   f"CROSS JOIN LATERAL (VALUES {', '.join(rows)}) v(ord, prev, due, soon) "
                   f"WHERE v.due - {on} <= v.soon ORDER BY pp.id COLLATE \"C\", v.ord",
                   (form_id, sch.get("active_status", "在册")))

    out = []
    for rid, ord_, name, row_town, row_village, risk, prev, due in strict_retry(query):
        days = (due - as_of).days
        out.append(DueItem(rid, name or "", row_town or "", row_village or "", levels[ord_].get("value"), risk,
                           prev, due, max(0, -days), "overdue" if days < 0 else "due"))
    out.sort(key=lambda i: (-i.overdue_days, i.due_date, i.town, i.village, i.name))
    return out
