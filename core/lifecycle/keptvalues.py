"""Rows the list row alone cannot decide, decided again with the values it lacks.

Raising 高龄 from 80 to 85 makes 80–84-year-olds' 风险等级 depend on the cases after it: a
serious illness, a disability grade, a housing hazard, the diseases, the children's contact —
none of them in the list rows, which the roster holds in memory for 50,000 people. Reading and
parsing every village file for them was half of a dry run. Instead, what the form's computed
fields read (`core.reporting.rowfields.computed_reads`, derived from the form files) is read
from the full records once and kept beside the ledger per village under its files key
(`core.lifecycle.keptfiles`): a village saved since is read again, the others answer from the
file. A kept value counts only when its save time is the row's, to the nanosecond (the row may be
older than the files, another process having saved since); otherwise, or without such a file
(the server), the record is read as before. So the answer is the full read's, only faster.
"""
from __future__ import annotations

from typing import Any, Iterator


def decided(engine, form, retry: dict[str, tuple], read_missing: bool = True) -> Iterator[tuple[str, Any]]:
    """(record id, `RowOnly.decide`'s answer or None: read the record) for each of `retry`:
    {record id: (village, row, Partial, RowOnly, probe arguments, probe values)}.
    `read_missing`: a village whose values are not kept is read for them (a dry run), else its
    records are answered None (an applied run, which reads them next)."""
    from core.lifecycle.keptfiles import SAVED, values

    spec = kept_spec(engine, form)
    wanted: dict[str, set[str]] = {}
    asked: set[str] = set()
    for rid, (part, row, _, row_only, _, _) in retry.items():
        lacking = row_only.reads - row.keys() - row_only.worked_out
        if lacking <= spec.keys():       # else no kept value makes the row decidable
            wanted.setdefault(part, set()).add(rid)
            asked |= lacking
    got = values(engine, form.id, spec, wanted, asked, read_missing) if wanted else None
    for rid, (part, row, _, row_only, args, probes) in retry.items():
        values_of = (got or {}).get(rid)
        # the value is the row's only when taken from the very save the row shows (to the
        # nanosecond: two saves within a second are told apart)
        if values_of is None or row.get(SAVED) is None or values_of.get(SAVED) != row.get(SAVED):
            yield rid, None
            continue
        full = {f: values_of[f] for f in asked if f not in row}
        full.update(row)
        yield rid, row_only.decide(rid, full, args, probes)


def kept_spec(engine, form) -> dict:
    """{field: None or repeat columns} kept beside the ledger for `form`: what the computed
    fields of the form and every town's overlay read (`computed_reads`) that the list rows do
    not carry. Every town's form, not only those asked about, so the spec stays the same from
    run to run."""
    from core.reporting.rowfields import computed_reads

    # a copy first (one C call): the background keeping runs this while a TUI save may add a row
    towns = {row.get("town") for row in list(engine.index(form.id).rows.values())}
    spec = computed_reads([form] + [engine.validator(form.id, town=t).form for t in sorted(towns, key=str) if t])
    carried = _carried(engine, form)
    return {f: cols for f, cols in spec.items() if f not in carried}


def _carried(engine, form) -> set[str]:
    """The fields every list row carries (`RecordIndex.row_for`): `list_fields` and unique fields
    but for lists, and the fields reports read (`Engine.row_fields`) but for repeat groups. They
    are not kept again (an ID number is not copied); a row that lacks one anyway is read."""
    out = set()
    for f in form.top_fields():
        listed = f.id in (form.list_fields or ()) or getattr(f, "unique", False)
        if (listed and f.type != "multi" and not f.fields) or (f.id in engine.row_fields(form.id) and not f.fields):
            out.add(f.id)
    return out
