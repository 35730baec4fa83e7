"""A form change's effect on one person decided from the in-memory list row, without reading
the record — when the row holds enough to decide it.

After 高龄 moved from 80 to 75, `core.lifecycle.fielddeps` narrows each covered record's work to
高龄 and 风险等级. Both still need the stored record: 风险等级 reads the children table, the
diseases and more that the list row does not carry, and parsing 50,000 full records is most of
a run. Yet the change sits in one place — the condition of one case — and what surrounds it
is the same before and after. So, per person, from the row alone:

- a `calculate` field whose inputs the row carries is computed under the old form (the value the
  last run stored) and the new one;
- for `cases`, the old and new lists must match case by case except in conditions. A changed
  condition the row can evaluate under both forms, giving the same answer both times, changes
  nothing: every case reads the same inputs as the last run, so the same case wins. Where it
  flips to true, the new value is that case's — or an earlier case's, which must be decidable
  from the row or give the same value (the first two risk cases are both 高). Anything else
  (an undecidable case in the way, a flip to false) is left to the full record;
- a staff override (kept in the marker per record, since rows do not carry it) keeps its value.

Only dry runs use this (an applied run writes records, so it reads them), and only for the
changed fields of `Partial` with no changed rule. `tests/test_reevaluate_fields.py` holds the
outcome equal to evaluating every record.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from core.formlang.calcdeps import names_in
from core.lifecycle.fielddeps import Partial, settings_read

_UNDECIDED = object()


def _when_key(form, expr: str | None) -> tuple:
    """What a condition's answer depends on besides the record: its text and the settings it reads."""
    wanted = settings_read(expr)
    settings = form.settings or {}
    picked = settings if wanted is None else {k: settings.get(k) for k in wanted}
    return (expr or "").strip(), repr(sorted(picked.items(), key=lambda kv: kv[0]))


class RowOnly:
    """The changed fields of a `Partial`, worked out from list rows (`decide`)."""

    def __init__(self, partial: Partial, old_validator, overrides: dict):
        self.new_v, self.old_v = partial.v, old_validator
        self.overrides = overrides        # record id -> field ids staff overrode (the marker's)
        self.units = []
        self.usable = not partial.rules and old_validator is not None
        if not self.usable:
            return
        reads: set[str] = set()
        for f in partial.fields:
            old = old_validator.form.field(f.id)
            if f.fields or old is None or old.fields or not old.computed:
                self.usable = False
                return
            if f.calculate and old.calculate:
                kind = "calc"
            elif (f.cases and old.cases and len(f.cases) == len(old.cases) and not f.calculate
                  and all((a.value, a.reason) == (b.value, b.reason) for a, b in zip(f.cases, old.cases))):
                kind = "cases"
            else:
                self.usable = False
                return
            exprs = [f.calculate, old.calculate, *(c.when for c in f.cases), *(c.when for c in old.cases)]
            needs = {c: set().union(*(names_in(e) for e in (case.when, oc.when))) - {"today", "settings"}
                     for c, (case, oc) in enumerate(zip(f.cases, old.cases))}
            changed = [i for i, (a, b) in enumerate(zip(f.cases, old.cases))
                       if _when_key(partial.v.form, a.when) != _when_key(old_validator.form, b.when)]
            needs["new"] = names_in(f.calculate) - {"today", "settings"}
            needs["old"] = names_in(old.calculate) - {"today", "settings"}
            self.units.append((f, old, kind, needs, changed))
            reads |= set().union(*(names_in(e) for e in exprs if e)) | {f.id}
        top = {f.id for f in partial.v.form.top_fields()}
        self.reads = frozenset((reads - {"today", "settings"}) & top)

    def decide(self, rid: str, row: dict) -> list[tuple[Any, Any, Any]] | None:
        """[(field, stored value, new value)] for the changed fields, or None: read the record."""
        have = row.keys()          # the fields the row carries (a value or None); reads never start with _
        new_names = self.new_v.names(row, self.reads)      # a missing key and a None read the same
        old_names = self.old_v.names(row, self.reads)
        kept = self.overrides.get(rid) or ()
        out = []
        for f, old, kind, needs, changed in self.units:
            before = row[f.id] if f.id in row else self._value(self.old_v, old, kind, needs, old_names, have)
            if before is _UNDECIDED or (f.id in kept and f.id not in row):
                return None
            if f.id in kept and f.override:
                after = before
            elif kind == "calc":
                if not needs["new"] <= have:
                    return None
                after, _ = self.new_v._compute_one(f, new_names)
            else:
                after = self._flip(f, old, needs, changed, new_names, old_names, have, before)
                if after is _UNDECIDED:
                    return None
            new_names[f.id] = self.new_v._python(f, after)
            old_names[f.id] = self.old_v._python(old, before)
            out.append((f, before, after))
        return out

    def _value(self, v, field, kind, needs, names, have):
        """A field's value under one form from the row; _UNDECIDED when the row cannot say."""
        if kind == "calc":
            if not needs["old"] <= have:
                return _UNDECIDED
            return v._compute_one(field, names)[0]
        return self._walk(v, field, needs, names, have)

    def _walk(self, v, field, needs, names, have, stop: int | None = None):
        """The first case that holds, with undecidable cases as "maybe": the value when every
        way the walk can go gives the same one (cases from `stop` on are not looked at: the
        caller knows case `stop` holds)."""
        values = set()
        for i, case in enumerate(field.cases):
            if stop is not None and i == stop:
                values.add(_key(case.value))
                return _finish(v, field, case.value) if len(values) == 1 else _UNDECIDED
            if not needs[i] <= have:
                values.add(_key(case.value))
                continue
            if not case.when or v.evaluator.relevant(case.when, names):
                values.add(_key(case.value))
                return _finish(v, field, case.value) if len(values) == 1 else _UNDECIDED
        values.add(_key(None))
        return _finish(v, field, None) if len(values) == 1 else _UNDECIDED

    def _flip(self, f, old, needs, changed, new_names, old_names, have, before):
        """The new value of a `cases` field whose conditions at `changed` may answer otherwise."""
        for i in changed:
            if not needs[i] <= have:
                return _UNDECIDED
            was = not old.cases[i].when or self.old_v.evaluator.relevant(old.cases[i].when, old_names)
            now = not f.cases[i].when or self.new_v.evaluator.relevant(f.cases[i].when, new_names)
            if was == now:
                continue
            if was:
                return _UNDECIDED          # the old winner may have been this case: later ones decide
            return self._walk(self.new_v, f, needs, new_names, have, stop=i)
        return before


def _key(value: Any) -> Any:
    try:
        hash(value)
        return value
    except TypeError:
        return repr(value)


def _finish(v, field, value: Any) -> Any:
    """A case's value as `Validator._compute_one` stores it (dates as text, normalised by type)."""
    if isinstance(value, dt.date):
        value = value.isoformat()
    ft = v.registry.field_types.get(field.type)
    try:
        return ft.normalize(value, field) if ft else value
    except Exception:  # noqa: BLE001 - a computed value that does not fit is "not computed"
        return None
