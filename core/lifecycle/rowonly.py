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
  from the row or give the same value (the first two risk cases are both 高). The stored value
  narrows it: the cases before the flip answer as in the last run, so one whose value (and
  every earlier case's) differs from the stored one did not hold then and does not now — and a
  stored value no later case gives means the old winner came earlier and still wins (someone
  turning 70 stored 低 or 中 becomes 中, stored 高 stays 高, without the diseases or children
  the row does not carry). Where it flips to false, the new cases are walked from the row.
  Anything the row cannot say (an undecidable case in the way) is left to the full record —
  or to the values the row lacks, read once from the full records and kept beside the ledger
  (`core.lifecycle.keptfiles`; see `core.lifecycle.reevaluate`);
- a staff override (kept in the marker per record, since rows do not carry it) keeps its value;
- a birthday since the last run (a date probe that moved, see `Partial.moved`) counts as a
  changed condition: the old form is evaluated on the last run's day, the new one on today, so
  the people whose age moved are decided from their rows too instead of reading ~110 villages.

Dry runs and applied runs use this, only for the changed fields of `Partial` with no changed
rule; an applied run reads (and writes) the records whose values change. `tests/test_reevaluate_fields.py` holds the
outcome equal to evaluating every record.
"""
from __future__ import annotations

import ast
import datetime as dt
from typing import Any

from core.formlang.calcdeps import names_in
from core.lifecycle.dateprobes import _FAILED, probes_in
from core.lifecycle.fielddeps import Partial, settings_read

_UNDECIDED = object()
_SCOPED = (ast.ListComp, ast.GeneratorExp, ast.DictComp, ast.SetComp, ast.Lambda)


class _Shared:
    """Expressions evaluated over 50,000 rows with each part that does not read `today` taken
    out as an argument (`core.lifecycle.dateprobes._Split`): `age_on(id_birth_date(id_number),
    today) >= settings.advanced_age` runs once per birth date and threshold, not once per person
    and form, and `id_birth_date(id_number)` once per person for all the expressions around it.
    An argument that fails (a part the original would have skipped) falls back to the whole
    expression, so the answers are the evaluator's own."""

    def __init__(self, validator, common: frozenset = frozenset(), side: int = 1):
        self.ev = validator.evaluator
        self.split: dict[str, Any] = {}
        self.common = common      # names that read the same under the old and the new form
        self.row: dict = {}       # this row's arguments that read only `common` names (both forms)
        self.side = side          # 0: the form of the last run, on its day; 1: today's form, today
        self.probes: dict = {}    # this row's date probes: source -> (value that day, value today)
        self.fixed: dict = {}     # arguments that read no field (`settings.advanced_age`): every row's
        self.finished: dict = {}  # (field, type, value) -> as stored (`finish`)

    def _plan(self, expr: str, dated: bool):
        """(arguments, the rest compiled, its memo); each argument (source, compiled, reads only
        `common` names, the date probe it stands for or None). `dated`: the row's
        `ProbeRunner` has the probes' values (`age_on(id_birth_date(id_number), today)`): each
        is an argument too, and the rest runs once per age and threshold, not once per birth
        date."""
        found = self.split.get((expr, dated))
        if found is None:
            from core.lifecycle.dateprobes import _sources, _Split

            tree = ast.parse(expr.strip(), mode="eval")
            if any(isinstance(n, _SCOPED) for n in ast.walk(tree)):
                found = None
            else:
                stands: dict[str, str] = {}
                wanted = {p for p in _sources(tree) or () if names_in(p) - {"today"} <= self.common} if dated else ()
                if wanted:
                    tree = _ProbeNames(wanted, stands).visit(tree)
                cut = _Split(frozenset(stands))
                body = cut._sub(tree.body) if stands else cut.visit(tree.body)
                found = ([(a, self.ev.compiled(a), _held(names_in(a), self.common), stands.get(a)) for a in cut.args],
                         self.ev.compiled(ast.unparse(body)), {})
            self.split[(expr, dated)] = found or False
        return found or None

    def run(self, expr: str, names: dict, args: dict) -> Any:
        """The expression's value, or _FAILED where the evaluator raises. `args`: this row's
        arguments already worked out under these names."""
        plan = self._plan(expr, bool(self.probes))
        if plan is None:
            return self._whole(expr, names)
        parts, body, memo = plan
        values = []
        for source, code, common, probe in parts:
            if probe is not None:
                both = self.probes.get(probe)
                if both is None or both[self.side] is _FAILED:
                    return self._whole(expr, names)
                values.append(both[self.side])
                continue
            if source in names:           # a bare field name: its value, as eval would read it
                values.append(names[source])
                continue
            held = args if common is None else self.row if common else self.fixed
            if source not in held:
                try:
                    held[source] = code.run(self.ev._globals, names)
                except Exception:  # noqa: BLE001 - the whole expression says what it gives
                    held[source] = _FAILED
            if held[source] is _FAILED:
                return self._whole(expr, names)
            values.append(held[source])
        key = (tuple(values), names.get("today"))
        try:
            return memo[key]
        except KeyError:
            pass
        except TypeError:                 # a list or mapping: no sharing
            key = None
        scope = {f"probe_arg_{i}": v for i, v in enumerate(values)}
        scope["today"], scope["settings"] = names.get("today"), names.get("settings")
        try:
            found = body.run(self.ev._globals, scope)
        except Exception:  # noqa: BLE001 - as the evaluator: a failing expression
            found = _FAILED
        if key is not None:
            memo[key] = found
        return found

    def _whole(self, expr: str, names: dict) -> Any:
        try:
            return self.ev.compiled(expr).run(self.ev._globals, names)
        except Exception:  # noqa: BLE001 - as the evaluator: a failing expression
            return _FAILED

    def holds(self, expr: str | None, names: dict, args: dict) -> bool:
        """`Evaluator.relevant`: no condition holds; a failing one does not."""
        if not expr:
            return True
        found = self.run(expr, names, args)
        return found is not _FAILED and bool(found)

    def calculate(self, v, field, names: dict, args: dict) -> Any:
        """`Validator._compute_one` of a `calculate` field."""
        found = self.run(field.calculate, names, args)
        return self.finish(v, field, None if found is _FAILED else found)

    def finish(self, v, field, value: Any) -> Any:
        """`_finish`, remembered per field and plain value (高龄's 是/否, an age) for the run:
        normalising by type was a tenth of a run deciding 50,000 rows."""
        if value is not None and type(value) not in (str, int, bool):
            return _finish(v, field, value)
        key = (field.id, type(value), value)
        try:
            return self.finished[key]
        except KeyError:
            found = self.finished[key] = _finish(v, field, value)
            return found


def _pinned(validator):
    """The validator with today's date read once, not once per row (`Validator.names`)."""
    import copy

    day = validator.today()
    view = copy.copy(validator)
    view.today = lambda: day
    return view


def _held(reads: set[str], common: frozenset) -> bool | None:
    """Where `_Shared.run` keeps an argument: False, with this form's fixed values (it reads
    no field); True, with the row's values under both forms (it reads only `common` fields);
    None, with the row's values under this form."""
    if reads <= {"settings"}:
        return False
    return True if reads <= common else None


class _ProbeNames(ast.NodeTransformer):
    """Each date probe in `wanted` (its source) replaced by a name `stands` maps back to it."""

    def __init__(self, wanted: set[str], stands: dict[str, str]):
        self.wanted, self.stands = wanted, stands

    def generic_visit(self, node):
        if isinstance(node, ast.expr) and not isinstance(node, ast.Name):
            source = ast.unparse(node)
            if source in self.wanted:
                name = f"probe_value_{len(self.stands)}"
                self.stands[name] = source
                return ast.copy_location(ast.Name(id=name, ctx=ast.Load()), node)
        return super().generic_visit(node)


def _field_ids(*forms) -> set[str]:
    return {f.id for form in forms for f in form.top_fields()}


def _all_exprs(*forms) -> list[str]:
    """The `calculate` and case conditions of every top-level field of `forms`."""
    return [e for form in forms for f in form.top_fields() for e in (f.calculate, *(c.when for c in f.cases)) if e]


def _when_key(form, expr: str | None) -> tuple:
    """What a condition's answer depends on besides the record: its text and the settings it reads."""
    wanted = settings_read(expr)
    settings = form.settings or {}
    picked = settings if wanted is None else {k: settings.get(k) for k in wanted}
    return (expr or "").strip(), repr(sorted(picked.items(), key=lambda kv: kv[0]))


class RowOnly:
    """The changed fields of a `Partial`, worked out from list rows (`decide`)."""

    def __init__(self, partial: Partial, old_validator, overrides: dict):
        self.new_v, self.old_v = _pinned(partial.v), old_validator
        self.overrides = overrides        # record id -> field ids staff overrode (the marker's)
        self.units = []
        self.worked_out: frozenset = frozenset()
        self.usable = not partial.rules and old_validator is not None
        if not self.usable:
            return
        reads: set[str] = set()
        ids = [u.id for u in partial.fields]
        # what an expression reads that no field of either form is named (a comprehension's
        # `c`) never comes from a record (`Validator.names` gives fields only): not needed
        unnamed = {"today", "settings"} | {n for e in _all_exprs(partial.v.form, old_validator.form)
                                          for n in names_in(e)} - _field_ids(partial.v.form, old_validator.form)
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
            # the changed fields before this one: `decide` has their values under both forms
            before = set(ids[:ids.index(f.id)])
            given = unnamed | before
            needs = {c: set().union(*(names_in(e) for e in (case.when, oc.when))) - given
                     for c, (case, oc) in enumerate(zip(f.cases, old.cases))}
            # cases whose answer may differ: a changed condition, one reading a value changed
            # before it, one holding a date probe that moved for these people
            changed = [i for i, (a, b) in enumerate(zip(f.cases, old.cases))
                       if _when_key(partial.v.form, a.when) != _when_key(old_validator.form, b.when)
                       or names_in(a.when) & before or probes_in(a.when) & partial.moved]
            needs["new"] = names_in(f.calculate) - given
            needs["old"] = names_in(old.calculate) - given
            self.units.append((f, old, kind, needs, changed))
            reads |= set().union(*(names_in(e) for e in exprs if e)) | {f.id}
        top = {f.id for f in partial.v.form.top_fields()}
        self.reads = frozenset((reads - {"today", "settings"}) & top)
        # the changed fields themselves: `decide` works out their stored value when the row lacks it
        self.worked_out = frozenset(f.id for f, *_ in self.units)
        changed_ids = {f.id for f, *_ in self.units}
        same = frozenset(f.id for f in partial.v.form.top_fields() if f.id not in changed_ids
                         and (o := old_validator.form.field(f.id)) is not None and o.type == f.type
                         and [(c.id, c.type) for c in o.fields] == [(c.id, c.type) for c in f.fields])
        self.new_x, self.old_x = _Shared(partial.v, same, 1), _Shared(old_validator, same, 0)
        self.seeded: dict[str, bool] = {}     # probe argument -> reads only `same` names
        self.given: dict[str, list] = {}       # `_given`, per field

    def decide(self, rid: str, row: dict, args: dict | None = None,
               probes: dict | None = None) -> list[tuple[Any, Any, Any]] | None:
        """[(field, stored value, new value)] for the changed fields, or None: read the record.
        `args`, `probes`: what the date probes' parts and the probes gave for this row
        (`ProbeRunner.moved`), reused."""
        have = row.keys()          # the fields the row carries (a value or None); reads never start with _
        new = (self.new_v, self.new_x, self.new_v.names(row, self.reads), {})   # a missing key and a
        old = (self.old_v, self.old_x, self.old_v.names(row, self.reads), {})   # None read the same
        kept = self.overrides.get(rid) or ()
        self.new_x.row = self.old_x.row = self._seed(args) if args else {}
        self.new_x.probes = self.old_x.probes = probes or {}
        out = []
        for f, was, kind, needs, changed in self.units:
            if f.id in kept and not (f.override and was.override and f.id in row):
                return None      # a staff value the change may let go of, or one the row does not show
            before = row[f.id] if f.id in row else self._value(old, was, kind, needs, have)
            if before is _UNDECIDED:
                return None
            if f.id in kept:
                after = before   # kept by the override, as the last run stored it
            elif kind == "calc":
                if not needs["new"] <= have:
                    return None
                after = self.new_x.calculate(self.new_v, f, new[2], new[3])
            else:
                after = self._flip(f, was, needs, changed, new, old, have, before)
                if after is _UNDECIDED:
                    return None
            for (v, _, names, args), field, value in ((new, f, after), (old, was, before)):
                names[field.id] = v._python(field, value)
                args.clear()              # arguments may read the value just set
            out.append((f, before, after))
        return out

    def _seed(self, args: dict) -> dict:
        """The probe arguments that read the same under both forms, as `_Shared` keeps them."""
        seeded = self.seeded
        out = {}
        for source, value in args.items():
            ok = seeded.get(source)
            if ok is None:
                ok = seeded[source] = names_in(source) <= self.new_x.common
            if ok:
                out[source] = value
        return out

    def _value(self, side, field, kind, needs, have):
        """A field's value under one form from the row; _UNDECIDED when the row cannot say."""
        v, shared, names, args = side
        if kind == "calc":
            return shared.calculate(v, field, names, args) if needs["old"] <= have else _UNDECIDED
        return self._walk(side, field, needs, have)

    def _walk(self, side, field, needs, have, stop: int | None = None, before: Any = _UNDECIDED):
        """The first case that holds, with undecidable cases as "maybe": the value when every
        way the walk can go gives the same one (cases from `stop` on are not looked at: the
        caller knows case `stop` holds). `before`: the stored value (as `_key`), when every case
        before `stop` answers as it did in the last run — an undecidable case whose value, and
        every earlier case's, differs from it did not hold then, so does not now."""
        v, shared, names, args = side
        values = set()
        given = self.given.get(field.id) if before is not _UNDECIDED else None
        for i, case in enumerate(field.cases):
            if stop is not None and i == stop:
                values.add(_key(case.value))
                return shared.finish(v, field, case.value) if len(values) == 1 else _UNDECIDED
            if not needs[i] <= have:
                if given is None or before in given[i][0]:
                    values.add(_key(case.value))
                continue
            if shared.holds(case.when, names, args):
                values.add(_key(case.value))
                return shared.finish(v, field, case.value) if len(values) == 1 else _UNDECIDED
        values.add(_key(None))
        return shared.finish(v, field, None) if len(values) == 1 else _UNDECIDED

    def _flip(self, f, was_field, needs, changed, new, old, have, before):
        """The new value of a `cases` field whose conditions at `changed` may answer otherwise."""
        for i in changed:
            if not needs[i] <= have:
                return _UNDECIDED
            was = old[1].holds(was_field.cases[i].when, old[2], old[3])
            now = new[1].holds(f.cases[i].when, new[2], new[3])
            if was == now:
                continue
            if was:     # the old winner may have been this case: the new cases walked, when the row says
                return self._walk(new, f, needs, have)
            # case i holds now, not in the last run; the cases before it answer as they did then
            given = self._given(f, was_field)
            if given is None:
                return self._walk(new, f, needs, have, stop=i)
            stored = _key(before)
            if stored not in given[i][1]:
                return before              # the old winner was one before i (none after gives its value)
            return self._walk(new, f, needs, have, stop=i, before=stored)
        return before

    def _given(self, field, was) -> list[tuple[set, set]] | None:
        """Per case of a `cases` field: (the values it and the cases before it give, the values
        the cases after it or none holding give), as `_finish` stores them (`_key`); None when
        the old form stores some of them otherwise (its type or choices changed)."""
        if field.id not in self.given:
            def keys(v, f):
                return [_key(_finish(v, f, c.value)) for c in f.cases] + [_key(_finish(v, f, None))]
            new, old = keys(self.new_v, field), keys(self.old_v, was)
            self.given[field.id] = None if new != old else [
                (set(new[:i + 1]), set(new[i + 1:])) for i in range(len(new) - 1)]
        return self.given[field.id]


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
