"""Who must be visited, and by when: the visit cadence of `forms/schedule.yaml` applied.

The plan (domain §1, §6) sets how often each level visits: the village committee by risk
level but at least monthly, the town once every calendar quarter. The numbers live in the
schedule file so an admin changes a cadence without a programmer. Everything here reads the
in-memory index rows (the forms' `list_fields`), never the full records, so the home screen's
due list for 50,000 people and 200,000 visits costs one pass over two dicts.

Definitions (also in forms/README.md):
- every (village): due = last visit at that level + interval for the person's risk level
  (never longer than `floor`); a person never visited counts from the filing date.
- per: quarter (town): a quarter with a visit covers that quarter; due = last day of the
  quarter after the one of the last visit (never visited: the last day of the filing quarter),
  so the person is overdue once a whole quarter has ended without a visit.
- overdue: due date before as_of (overdue_days = days since the due date);
  due: due date within the next `due_soon_days` days (today included).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from typing import Any, Iterable

from core.dates import add_months, quarter_end, today

from core.problems import FormError


@dataclass(frozen=True)
class DueItem:
    record_id: str
    name: str
    town: str
    village: str
    level: str                 # the visit level's value, e.g. 村委会 / 街镇
    risk: str | None
    last_visit: dt.date | None
    due_date: dt.date
    overdue_days: int          # 0 when not yet overdue
    status: str                # "due" | "overdue"

    @classmethod
    def many(cls, rows: Iterable[tuple]) -> list["DueItem"]:
        """Items from tuples of the fields in their order, without the frozen `__init__`'s
        `object.__setattr__` per field: 24,000 items at 50,000 people took ~60 ms that way."""
        new, names = object.__new__, [f.name for f in fields(cls)]
        out = []
        for row in rows:
            item = new(cls)
            item.__dict__.update(zip(names, row))
            out.append(item)
        return out

    @property
    def status_label(self) -> str:
        return "已逾期" if self.status == "overdue" else "待探访"


def _date(value: Any) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def schedule_file(eng) -> dict:
    """The raw `kind: schedule` file (the first one, by id, when there are several)."""
    files = [f for _, f in sorted(eng.forms.files.items()) if f.get("kind") == "schedule"]
    if not files:
        raise FormError("没有探访周期文件（forms/schedule.yaml，kind: schedule），无法计算待探访")
    return files[0]


def add_interval(day: dt.date, spec: dict | None) -> dt.date:
    """`{days: 7}` or `{months: 1}` (both may be given) added to a date."""
    spec = spec or {"months": 1}
    return add_months(day, int(spec.get("months", 0))) + dt.timedelta(days=int(spec.get("days", 0)))


def rows_with(eng, form_id: str, fields: Iterable[str], where=None) -> dict[str, dict]:
    """`{id: row}` holding `fields` (and `_p`, the partition), for rows passing `where`: from
    the list rows when they carry the fields, else read from the records.

    The list rows are scanned one partition at a time and only what is asked for is kept
    (`Engine.scan_rows`): 300,000 visit rows loaded whole stayed in memory (~300 MB) after a
    summary. The shipped forms list every field the schedule and the summary need in
    `list_fields`; an admin who removes one still gets a right answer, only slower.
    """
    fields = list(fields)
    form = eng.form(form_id)
    if eng.index_loaded(form_id):        # the UI's roster and counts hold them already
        return _held_rows(eng, form_id, fields, where)
    if set(fields) <= set(form.list_fields):
        return eng.scan_rows(form_id, fields, where)
    out = {}
    for r in eng.iter_records(form_id):
        row = {f: r["data"].get(f) for f in fields}
        row["_p"] = r.get("partition")
        if where is None or where(row):
            out[r["id"]] = row
    return out


def _held_rows(eng, form_id: str, fields: list[str], where) -> dict[str, dict]:
    """`rows_with` from the list rows in memory: rows that carry `fields` as they are (callers
    only read them), the others — saved before a field was declared — from their records."""
    from core.reporting.rowfields import current_rows

    out: dict[str, dict] = {}
    held = eng.index(form_id).rows
    for rid, values, part in current_rows(eng, form_id, frozenset(fields)):
        row = values if held.get(rid) is values else {**{f: values.get(f) for f in fields}, "_p": part}
        if where is None or where(row):
            out[rid] = row
    return out


def last_visits(eng, sch: dict, as_of: dt.date) -> dict[tuple[str, str], dt.date]:
    """The latest visit date on or before as_of per (person id, level value).

    For today (or later) the engine's rollup of the visit form answers without loading a
    single visit row (300,000 rows cost ~500 MB); for a past date visits after it must be
    ignored, so the visit list rows are scanned.
    """
    p, d, lv = sch.get("person_field", "person"), sch.get("date_field", "visit_date"), sch.get("level_field", "visit_level")
    form_id = sch.get("visit_form", "visit")
    rollup = (eng.form(form_id).raw or {}).get("rollup") or {}
    if as_of >= eng.today() and (rollup.get("ref"), rollup.get("key"), rollup.get("date")) == (p, lv, d):
        return {(ref, level): day for ref, levels in eng.latest(form_id).items()
                for level, iso in levels.items() if (day := _date(iso)) is not None and day <= as_of}
    last: dict[tuple[str, str], dt.date] = {}
    for row in rows_with(eng, form_id, (p, d, lv)).values():
        day = _date(row.get(d))
        if day is None or day > as_of:
            continue
        key = (row.get(p), row.get(lv))
        if key not in last or day > last[key]:
            last[key] = day
    return last


def _last_by_level(eng, sch: dict, as_of: dt.date, values: list) -> dict[Any, dict[str, dt.date]]:
    """{level value: {person id: latest visit at that level on or before as_of}}. For today
    the rollup rows answer directly, each date read once (the same few hundred dates over
    50,000 people); otherwise `last_visits`."""
    p, d, lv = sch.get("person_field", "person"), sch.get("date_field", "visit_date"), sch.get("level_field", "visit_level")
    form_id = sch.get("visit_form", "visit")
    rollup = (eng.form(form_id).raw or {}).get("rollup") or {}
    out: dict[Any, dict[str, dt.date]] = {}
    if not (as_of >= eng.today() and (rollup.get("ref"), rollup.get("key"), rollup.get("date")) == (p, lv, d)):
        for (rid, level), day in last_visits(eng, sch, as_of).items():
            out.setdefault(level, {})[rid] = day
        return out
    dates: dict[Any, dt.date | None] = {}
    for level, held in _latest_dates(eng, form_id, values).items():
        mine = out[level] = {}
        for rid, iso in held.items():
            day = dates[iso] if iso in dates else dates.setdefault(iso, _date(iso))
            if day is not None and day <= as_of:
                mine[rid] = day
    return out


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _latest_dates(eng, form_id: str, levels: list) -> dict[str, dict[str, Any]]:
    """{level value: {person id: latest ISO date}}: of the rollup rows only the level columns,
    from the report column cache (`core.reporting.columncache`), else read a village at a time
    with repeated dates shared (`Engine.scan_rows`). Holding the rows whole — their quarterly
    counts too, ~65 MB for 50,000 people — is the summary's business."""
    from core.records import rollup
    from core.reporting import columncache

    keys = [lv for lv in levels if isinstance(lv, str) and not lv.startswith("_")]
    table = rollup.table_of(form_id)
    got = columncache.columns(eng, table, keys, complete=False)
    if got is not None and (got.ids or not eng.store.count(form_id)):
        return {key: {rid: iso for rid, iso in zip(got.ids, got.column(key)) if iso is not None} for key in keys}
    rows = eng.scan_rows(table, keys)
    if not rows and eng.store.count(form_id):
        rows = eng.rollup_rows(form_id)
    return {key: {rid: row[key] for rid, row in rows.items() if row.get(key) is not None} for key in keys}


def _people(eng, form_id: str, fields: tuple[str, ...]) -> tuple[list[str], list[list[Any]]]:
    """(ids, one list of values per field of `fields`) of every person: from the report
    column cache (`core.reporting.columncache`: a few lists, where the rows held in memory would
    be 50,000 dicts to walk), else from the list rows, read whole (and held for what comes next)."""
    from core.reporting import columncache

    got = columncache.columns(eng, form_id, fields)
    if got is not None:
        return got.ids, [got.column(f) for f in fields]
    eng.index(form_id)
    rows = rows_with(eng, form_id, fields)
    return list(rows), [[row.get(f) for row in rows.values()] for f in fields]


def due_date(level: dict, risk: str | None, last: dt.date | None, start: dt.date) -> dt.date:
    """When the next visit at `level` is due for a person (see the module docstring)."""
    if level.get("per") == "quarter":
        base = last
        if base is None:                      # never visited: the filing quarter must have one
            return quarter_end(start.year, (start.month - 1) // 3 + 1)
        nxt = add_months(dt.date(base.year, (base.month - 1) // 3 * 3 + 1, 1), 3)
        return quarter_end(nxt.year, (nxt.month - 1) // 3 + 1)
    base = last or start
    every = (level.get("every") or {}).get(risk) or level.get("default")
    due = add_interval(base, every)
    if level.get("floor"):
        due = min(due, add_interval(base, level["floor"]))
    return due


class _Dues(dict):
    """(due date, days from as_of) per (risk, last visit) — or (risk, None, start) for someone
    never visited at the level — worked out on first use."""

    def __init__(self, level: dict, as_of: dt.date):
        super().__init__()
        self.level, self.as_of = level, as_of

    def __missing__(self, key: tuple) -> tuple[dt.date, int]:
        risk, prev = key[0], key[1]
        due = due_date(self.level, risk, prev, key[2] if prev is None else None)
        found = self[key] = (due, (due - self.as_of).days)
        return found


def visits_due(eng, as_of: dt.date | None = None, town: str | None = None,
               village: str | None = None) -> list["DueItem"]:
    """Everyone in the ledger who is due (within `due_soon_days`) or overdue, per level.

    Sorted most overdue first, then by due date; one item per person and level.
    """
    as_of = as_of or today()
    sch = schedule_file(eng)
    from core.reporting import sqlreports

    on_server = sqlreports.visits_due(eng, sch, as_of, town, village)
    if on_server is not None:
        return on_server
    form_id = sch.get("form", "registration")
    risk_f, status_f = sch.get("risk_field", "risk_level"), sch.get("status_field", "status")
    start_f = sch.get("start_field", "filing_date")
    active = sch.get("active_status", "在册")
    soon = int(sch.get("due_soon_days", 7))
    ids, (names, towns, villages, risks, statuses, raws) = _people(
        eng, form_id, ("name", "town", "village", risk_f, status_f, start_f))
    values = [level.get("value") for level in sch.get("levels", [])]
    lasts = _last_by_level(eng, sch, as_of, values)
    levels = [(n, level, level.get("value"), int(level.get("due_soon_days", soon)),
               lasts.get(level.get("value"), {}) if _hashable(level.get("value")) else {})
              for n, level in enumerate(sch.get("levels", []))]
    keep = [i for i, status in enumerate(statuses) if status == active]
    if town:
        keep = [i for i in keep if towns[i] == town]
    if village:
        keep = [i for i in keep if villages[i] == village]
    dates: dict[Any, dt.date | None] = {}
    chosen: list[int] = []         # the people counted, by their place in the columns
    starts: list[dt.date] = []
    for i in keep:
        raw = raws[i]
        start = dates[raw] if raw in dates else dates.setdefault(raw, _date(raw))
        if start is not None and start <= as_of:
            chosen.append(i)
            starts.append(start)
    chosen_ids = [ids[i] for i in chosen]
    chosen_risks = [risks[i] for i in chosen]
    hits: list[tuple] = []         # (place in `chosen`, level's place, last visit, due, days)
    for n, level, value, level_soon, held in levels:
        # A level at a time, the lookups in C: 50,000 people share a few hundred (risk, last
        # visit) pairs, so each due date is worked out once (`_Dues`).
        prevs = list(map(held.get, chosen_ids))
        keys = [(risk, prev) if prev is not None else (risk, None, start)
                for risk, prev, start in zip(chosen_risks, prevs, starts)]
        found = list(map(_Dues(level, as_of).__getitem__, keys))
        hits += [(j, n, prevs[j], due, days) for j, (due, days) in enumerate(found) if days <= level_soon]
    rows = []
    for j, n, prev, due, days in hits:
        i = chosen[j]
        rows.append((ids[i], names[i] or "", towns[i] or "", villages[i] or "", levels[n][2], risks[i], prev, due,
                     max(0, -days), "overdue" if days < 0 else "due", j, n))
    # most overdue first, then by due date, town, village, name; ties as listed (person, level)
    rows.sort(key=lambda r: (-r[8], r[7], r[2], r[3], r[1], r[10], r[11]))
    out = DueItem.many(r[:10] for r in rows)
    return out
