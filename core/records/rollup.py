"""Per-person facts kept up to date at save time, so due lists and the summary read no visits.

A form may declare `rollup: {ref: person, key: visit_level, date: visit_date}`. For every
referenced record (a person) the engine then keeps one small row in a table of its own:

- the latest date per key value (`{"村委会": "2026-11-20", "街镇": "2026-10-03"}`): the due
  lists need only that, so they never load 300,000 visit rows;
- under `COUNTS`, how many records fall in each quarter per key value
  (`{"2026Q4": {"村委会": 3}}`): the summary's visit columns sum these instead of scanning the
  quarter's visits.

The row is written in the same commit as the record that changes it. An edit that changes a
record's reference, key or date cannot be undone from one row alone, so it recomputes the rows
it touches from every list row of the form (`scan`), as does a rollup table found missing.
Rows written before counts were kept have no `COUNTS` key; readers then scan the visits.
"""
from __future__ import annotations

from typing import Any, Iterable

from core.dates import quarter_of, to_date

PREFIX = "rollup_"      # engine-kept tables; not a form id prefix
COUNTS = "_counts"      # "_": not a key value, and `latest` leaves it out


def table_of(form_id: str) -> str:
    return f"{PREFIX}{form_id}"


def spec_of(form) -> dict | None:
    return form.raw.get("rollup") if getattr(form, "raw", None) else None


def _fact(spec: dict, data: dict) -> tuple[Any, str, Any]:
    key_f = spec.get("key")
    return data.get(spec["ref"]), str(data.get(key_f) or "") if key_f else "", data.get(spec["date"])


def _quarter(day: Any) -> str | None:
    d = to_date(day)
    return quarter_of(d) if d else None


def _count(row: dict, key: str, day: Any, by: int) -> None:
    quarter = _quarter(day)
    if quarter is None or COUNTS not in row:
        return
    per_key = row[COUNTS].setdefault(quarter, {})
    per_key[key] = per_key.get(key, 0) + by
    if per_key[key] <= 0:
        del per_key[key]
        if not per_key:
            del row[COUNTS][quarter]


def _copy(row: dict) -> dict:
    """A held row as a fresh dict to change: dates by key, and a deep copy of its counts."""
    out = {k: v for k, v in row.items() if not k.startswith("_")}
    if COUNTS in row:
        out[COUNTS] = {q: dict(n) for q, n in row[COUNTS].items()}
    return out


def items(eng, form, records: list[dict], olds: dict[str, dict]) -> tuple[str, list] | None:
    """The rollup table and the rows these records change (`None`: the form has no rollup)."""
    spec = spec_of(form)
    if not spec or eng.readonly:
        return None
    table = table_of(form.id)
    changed: dict[str, dict] = {}
    parts: dict[str, str] = {}
    rescan: set[str] = set()
    # Only the rows these records touch (a copy of the whole table cost ~1.5 ms a save).
    touched = [_fact(spec, d)[0] for rec in records
               for d in (rec["data"], (olds.get(rec["id"]) or {}).get("data") or {})]
    held = eng.store.rows(table, [ref for ref in touched if isinstance(ref, str)])
    for rec in records:
        ref, key, day = _fact(spec, rec["data"])
        old = olds.get(rec["id"])
        if ref:
            parts[ref] = rec["partition"]
        if old is not None and _fact(spec, old["data"]) != (ref, key, day):
            # an edited date may lower the latest one, a moved visit leaves a count behind:
            # both people's rows are recomputed from every row, this record's new one included
            rescan.update(r for r in (_fact(spec, old["data"])[0], ref) if r)
            continue
        if not ref or not day:
            continue
        row = changed.get(ref)
        if row is None:
            row = _copy(held[ref]) if ref in held else {COUNTS: {}}    # a first visit: counts from 0
        if row.get(key) is None or str(day) > row[key]:
            row[key] = str(day)
        if old is None:
            _count(row, key, day, +1)
        changed[ref] = row
    if rescan:
        full = scan(eng, form, {rec["id"]: rec["data"] for rec in records})
        for ref in rescan:
            changed[ref] = full.get(ref, {COUNTS: {}})
            parts.setdefault(ref, held.get(ref, {}).get("_p"))
    return table, [_item(table, ref, parts.get(ref) or held.get(ref, {}).get("_p"), row)
                   for ref, row in changed.items()]


def _item(table: str, ref: str, partition: str | None, row: dict) -> tuple[dict, dict, None]:
    return {"id": ref, "form": table, "version": 1, "partition": partition, "data": row}, dict(row), None


def scan(eng, form, saving: dict[str, dict] | None = None) -> dict[str, dict]:
    """Every rollup row recomputed from the form's list rows (slow; rebuilds and rare edits).

    `saving`: {record id: data} of records being saved, which replace their stored rows."""
    spec = spec_of(form)
    saving = saving or {}
    rows = eng.index(form.id).rows
    out: dict[str, dict] = {}
    every = [saving.get(rid, row) for rid, row in rows.items()] + [d for rid, d in saving.items() if rid not in rows]
    for row in every:
        ref, key, day = _fact(spec, row)
        if not ref or not day:
            continue
        held = out.setdefault(ref, {COUNTS: {}})
        if (held.get(key) or "") < str(day):
            held[key] = str(day)
        _count(held, key, day, +1)
    return out


def rebuild_items(eng, form) -> tuple[str, list]:
    """The whole rollup table as items for `Store.put_many` (a ledger from before rollups)."""
    full = scan(eng, form)
    ref_parts = {r.get(spec_of(form)["ref"]): r.get("_p") for r in eng.index(form.id).rows.values()}
    table = table_of(form.id)
    return table, [_item(table, ref, ref_parts.get(ref), row) for ref, row in full.items()]


def latest_of(rows: dict[str, dict]) -> dict[str, dict[str, str]]:
    """{ref: {key value: latest ISO date}} from rollup rows (counts and store keys left out)."""
    return {ref: {k: v for k, v in row.items() if not k.startswith("_")} for ref, row in rows.items()}


def quarter_counts(rows: Iterable[dict], quarter: str) -> list[tuple[str | None, dict[str, int]]] | None:
    """[(partition, {key value: records in `quarter`})] per rollup row, or None when any row was
    written before counts were kept (the caller must then count the records themselves)."""
    out = []
    for row in rows:
        counts = row.get(COUNTS)
        if not isinstance(counts, dict):
            return None
        got = counts.get(quarter)
        if got:
            out.append((row.get("_p"), got))
    return out


def covers(spec: dict | None, date_field: str, names: set[str]) -> bool:
    """Whether counts kept by this rollup can answer columns reading `names` of records dated
    by `date_field`: they must read nothing but the rollup's key."""
    return bool(spec) and spec.get("date") == date_field and bool(spec.get("key")) and names <= {spec["key"]}



def differences(eng, form) -> list[str]:
    """Chinese findings where stored rollup rows differ from a recount (`carebook verify`)."""
    table = table_of(form.id)
    stored = {ref: {k: v for k, v in row.items() if k == COUNTS or not k.startswith("_")}
              for ref, row in eng.store.index(table).items()}
    expected = scan(eng, form)
    out = []
    for ref in sorted(set(stored) | set(expected)):
        have, want = stored.get(ref, {}), expected.get(ref, {})
        if COUNTS not in have:          # a row from before counts were kept: its dates still count
            want = {k: v for k, v in want.items() if k != COUNTS}
        if have != want:
            out.append(f"汇总表 {table} 中 {ref} 的最近探访日期或季度探访次数与探访记录不符："
                       f"存的是 {have or '无'}，应为 {want or '无'}")
    return out
