"""Checking one record's data against its form: what staff see as red text under a field.

The order matters and is fixed here: input is cleaned by each field type ("12" -> 12), computed
fields and risk cases are filled in, fields and sections that are not relevant are dropped (so a
hidden answer is neither required nor stored), then the compiled JSON Schema, required-ness,
rules and uniqueness are checked. jsonschema's English messages never reach staff: each keyword
is turned into a Chinese sentence with the field's label.
"""
from __future__ import annotations

import ast
import datetime as dt
from functools import cached_property
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Callable, Iterable

from core import dates
from core.formlang.compile import compile_form
from core.formlang.expressions import Evaluator, ExpressionError, empty, settings_names
from core.formlang.formmodel import Field, Form, Rule
from core.formlang.metaschema import TYPE_NAMES
from core.problems import Problem
from core.records import validationplan as plan
from core.records.schemafast import FastCheck, compile_fast
from core.registry import Registry

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator, FormatChecker

UniqueLookup = Callable[[str, Any], Any]
_UNSET = object()
_TEXTS_ONLY = {str}


def format_checker(registry: Registry) -> FormatChecker:
    """A FormatChecker holding exactly the formats plugins registered (jsonschema asserts only these)."""
    from jsonschema import FormatChecker

    checker = FormatChecker(formats=())
    for name, (check, _) in format_checks(registry).checkers.items():
        checker.checks(name)(check)
    return checker


def format_checks(registry: Registry) -> SimpleNamespace:
    """The format functions `format_checker` holds, as its `checkers` ({name: (function, the
    exceptions that mean "no")}), without importing jsonschema: the compiled check needs only
    these, and an import check whose rows are all valid never needs jsonschema (~0.2 s)."""
    checkers = {}
    for name, entry in registry.formats.items():
        def check(value, _check=entry.check):
            if not isinstance(value, str):
                return True          # formats describe strings; the type keyword reports the rest
            try:
                return bool(_check(value))
            except Exception:  # noqa: BLE001 - a plugin's checker must not crash validation
                return False
        check.pure = getattr(entry.check, "pure", False)   # reads only the value: answers may be remembered
        checkers[name] = (check, ())
    return SimpleNamespace(checkers=checkers)


def _accepted(accepted_warnings: Iterable | None) -> set[str]:
    """Rule ids of warnings staff accepted with a typed reason.

    Accepts `{rule: reason}`, `[{"rule", "reason"}]` (as stored in `meta.warnings_accepted`) or
    plain rule ids.
    """
    if isinstance(accepted_warnings, dict):
        return {rule for rule, reason in accepted_warnings.items() if str(reason or "").strip()}
    out = set()
    for item in accepted_warnings or ():
        if isinstance(item, str):
            out.add(item)
        elif isinstance(item, dict) and str(item.get("reason") or "").strip():
            out.add(item.get("rule"))
    return out


class Validator:
    """Validation of records under one form (one version, one town's overlay)."""

    def __init__(self, form: Form, registry: Registry, evaluator: Evaluator | None = None,
                 today: Callable[[], dt.date] | None = None):
        self.form = form
        self.registry = registry
        self.evaluator = evaluator or Evaluator(registry.functions)
        self.today = today or dates.today
        self.schema = compile_form(form, registry)
        self._fast: FastCheck | None | object = _UNSET   # compiled on first use (start-up stays fast)
        self._converters: dict[int, Callable[[Any], Any] | None] = {}
        self._plans: dict[frozenset | None, list] = {}
        self._settings = settings_names(form.settings)       # shared by every `names` call
        # The form's own fields, looked up for every record (a form does not change once loaded)
        self._top = form.top_fields()
        self._top_by_id = {f.id: f for f in self._top}
        self._plan_passes()

    def _plan_passes(self) -> None:
        """What each pass of `check` visits, worked out once per form: a bulk save checks
        300,000 records, and asking every field of every record "computed? relevant? required?"
        was a sizeable part of that. Each list keeps form order, so the passes do what they did.

        Made from `self._top`, and made again when that list is replaced: re-evaluation
        (`core.lifecycle.fielddeps.Partial`) computes over a copy of the validator whose `_top`
        holds only the fields a form change reaches."""
        top = self._planned_for = self._top
        ev = self.evaluator
        # compute: (field, how its value is worked out or None, rows holding computed children?)
        self._compute_plan = [(f, self._computer(f) if f.computed else None,
                               bool(f.fields) and any(c.computed for c in f.fields), self._converter(f))
                              for f in top if f.computed or (f.fields and any(c.computed for c in f.fields))]
        # relevance: (section condition, [(field, its condition, row children with conditions?)]),
        # a condition None where there is none (always shown)
        self._relevance_plan = [(plan.condition(ev, s.relevant),
                                 [(f, plan.condition(ev, f.relevant), bool(f.fields) and any(c.relevant for c in f.fields))
                                  for f in s.fields]) for s in self.form.sections]
        # required: (field, required condition: None never, True always, else a function,
        # where it lies in the relevance plan, needs rows?, has cells that can be required?), in
        # form order, for the fields that can be reported (shown somewhere, and required, or
        # rows needed, or cells required)
        where = {f.id: (i, c) for i, (_, fields) in enumerate(self._relevance_plan) for f, c, _ in fields}
        # row groups where some child can be required (the others' rows need no row names)
        self._rows_required = {f.id for f in top if f.fields and any(isinstance(c.required, str) or c.required for c in f.fields)}
        self._required_plan = [
            (f, req, where[f.id], bool(f.fields and f.min_rows), f.id in self._rows_required)
            for f in top if f.id in where
            and ((req := self._requirement(f)) is not None or (f.fields and f.min_rows) or f.id in self._rows_required)]
        self._unique_plan = [f for f in top if f.unique]
        self._computed_once = self._settles(top)
        # rules: the top fields with rules of their own or in their rows
        self._rules_plan = [f for f in top if f.rules or (f.fields and any(c.rules for c in f.fields))]
        # the row groups' cells that can be required: (cell, its condition, its requirement)
        self._cells_required = {f.id: [(c, plan.condition(ev, c.relevant), req) for c in f.fields
                                       if (req := self._requirement(c)) is not None]
                                for f in top if f.id in self._rows_required}
        self._rows_ruled = {f.id for f in top if f.fields and any(c.rules for c in f.fields)}
        # `check` hands one names dict from pass to pass; only safe when no field shadows the
        # two names `names` adds itself
        self._names_pass_on = not any(f.id in ("settings", "today") for f in top)

    def _settles(self, top: list[Field]) -> bool:
        """Whether one compute pass gives what a second would, when nothing was dropped in
        between: no computed value reads a computed field that comes at or after it in form
        order (the first pass saw that one's value from before computing), and no computed
        cell of a row reads its row as a whole. `check` then skips the second pass — a
        quarter of checking a registration record."""
        order = {f.id: i for i, f in enumerate(top) if f.computed}
        cells = {c.id for f in top for c in f.fields if c.computed}
        for i, f in enumerate(top):
            for c in [f, *f.fields]:
                if not c.computed:
                    continue
                reads: set[str] = set()
                for expr in [c.calculate, *(case.when for case in c.cases)]:
                    if expr:
                        try:
                            reads |= {n.id for n in ast.walk(self.evaluator.parse(expr)) if isinstance(n, ast.Name)}
                        except ExpressionError:
                            return False
                if reads & cells or {"row", "parent"} & reads or any(order.get(n, -1) >= i for n in reads):
                    return False
        return True

    @cached_property
    def _schema(self) -> Draft202012Validator:
        """jsonschema's validator, made when a record is first checked: reports and due lists
        use only `names`, and importing jsonschema was ~50 ms of every such command."""
        from jsonschema import Draft202012Validator

        return Draft202012Validator(self.schema, format_checker=format_checker(self.registry))

    @classmethod
    def for_form(cls, form: Form, registry: Registry) -> "Validator":
        """A validator cached on the form, so its schema is compiled once per form and registry."""
        cache = form.__dict__.setdefault("_validators", {})
        if id(registry) not in cache:
            cache[id(registry)] = cls(form, registry)
        return cache[id(registry)]

    # --- names for expressions ------------------------------------------------------------

    def _python(self, field: Field, value: Any) -> Any:
        conv = self._converter(field)
        return value if conv is None else conv(value)

    def _converter(self, field: Field) -> Callable[[Any], Any] | None:
        """How one field's stored value becomes what expressions see (None: as stored).

        Built once per field: a report turns a dozen fields of 50,000 records into names, and
        looking the field type up for every value was most of that."""
        conv = self._converters.get(id(field), _UNSET)
        if conv is _UNSET:
            conv = self._converters[id(field)] = self._make_converter(field)
        return conv

    def _make_converter(self, field: Field) -> Callable[[Any], Any] | None:
        """(Each conversion made here turns None into None: `names` skips the call for it.)"""
        ft = self.registry.field_types.get(field.type)
        to_python = getattr(ft, "to_python", None)
        if getattr(ft, "python", _UNSET) is None:
            # a type that says it has no conversion (most built-in types: text, choices,
            # numbers): its value is taken as stored, not passed through a call that returns it
            to_python = None

        def scalar(value: Any) -> Any:
            if to_python is None or value is None:
                return value
            try:
                return to_python(value)
            except (ValueError, TypeError):
                return value

        if not field.fields:
            if to_python is None:
                return None
            # a pure type's dates are read again and again ("2026-03-01" -> date(2026, 3, 1))
            return plan.remembering(scalar) if getattr(ft, "pure", False) else scalar
        children = [(c.id, self._converter(c)) for c in field.fields]

        def rows(value: Any) -> Any:
            if not isinstance(value, list):
                return scalar(value)
            return [{cid: (row.get(cid) if conv is None else conv(row.get(cid))) for cid, conv in children}
                    if isinstance(row, dict) else row for row in value]
        return rows

    def _row_python(self, group: Field, row: Any) -> Any:
        if not isinstance(row, dict):
            return row
        return {c.id: self._python(c, row.get(c.id)) for c in group.fields}

    def names(self, data: dict, only: Iterable[str] | None = None) -> dict[str, Any]:
        """Field values as expressions see them (dates as `datetime.date`, missing as None).

        `only`: just these fields — reports over 50,000 records read a dozen of sixty fields,
        and converting all of them was most of a roster's time. Pass a frozenset to reuse the
        plan made for it.
        """
        plan = self._plans.get(only) if isinstance(only, frozenset) or only is None else None
        if plan is None:
            fields = self._top if only is None else [f for f in map(self.form.field, only) if f]
            # (the fields taken as stored, the others with their conversion): most are the first
            plan = ([f.id for f in fields if self._converter(f) is None],
                    [(f.id, conv, getattr(conv, "held", None)) for f in fields
                     if (conv := self._converter(f)) is not None])
            if isinstance(only, frozenset) or only is None:
                self._plans[only] = plan
        get = data.get
        plain, converted = plan
        values = dict(zip(plain, map(get, plain)))
        for fid, conv, held in converted:
            value = get(fid)
            if value is None:
                values[fid] = None        # what every conversion made here gives for nothing
            elif held is not None and value.__class__ is str and (found := held[1].get(value, held)) is not held:
                held[2] += 1              # a remembered date, looked up as `plan.remembering` would
                values[fid] = found
            else:
                values[fid] = conv(value)
        values["settings"] = self._settings
        values["today"] = self.today()
        return values

    def _row_names(self, parent: dict, group: Field, row: dict) -> dict[str, Any]:
        row_values = self._row_python(group, row)
        return {**parent, **row_values, "row": row_values, "parent": parent}

    # --- cleaning -------------------------------------------------------------------------

    def _cleaner(self, field: Field) -> Callable[[Any], Any] | None:
        """The field's `validationplan.cleaner` (raising `CleanError`), made once; None for a
        type nobody registered, whose values are kept as given."""
        return self._made("_cleaners", field, plan.cleaner)

    def _normalizer(self, field: Field) -> Callable[[Any, str, list], Any] | None:
        """`(value, path, problems) -> clean value` of one field, rows and their cells included,
        made once (`validationplan.normalizer`); None for a type nobody registered."""
        made = self.__dict__.setdefault("_normalizers", {})
        found = made.get(id(field), _UNSET)
        if found is _UNSET:
            found = made[id(field)] = self._make_normalizer(field)
        return found

    def _made(self, cache: str, field: Field, make: Callable) -> Any:
        made = self.__dict__.setdefault(cache, {})
        found = made.get(id(field), _UNSET)
        if found is _UNSET:
            ft = self.registry.field_types.get(field.type)
            found = made[id(field)] = None if ft is None else make(ft, field)
        return found

    def _make_normalizer(self, field: Field) -> Callable[[Any, str, list], Any] | None:
        ft = self.registry.field_types.get(field.type)
        if ft is None:
            return None
        clean = plan.normalizer(ft, field)
        if not field.fields:
            return clean
        cells = [(c.id, norm, norm and plan.remembered(norm)) for c in field.fields for norm in [self._normalizer(c)]]

        def rows(value: Any, path: str, problems: list[Problem]) -> Any:
            value = clean(value, path, problems)
            if isinstance(value, list):
                value = [self._normalize_cells(cells, row, f"{path}.{i}", problems) for i, row in enumerate(value)]
            return value
        return rows

    @staticmethod
    def _normalize_cells(cells: list, row: dict, path: str, problems: list[Problem]) -> dict:
        out = dict(row)
        shared = plan.SHARED_ANSWERS
        for cid, norm, held in cells:
            if cid in out:
                value = out[cid]
                if held is not None and value.__class__ is str:     # as `normalize`: a text remembered
                    found = held[1].get(value, held)
                    if found is not held and found.__class__ in shared:
                        held[2] += 1
                        if found is None:
                            del out[cid]
                        else:
                            out[cid] = found
                        continue
                if norm is not None:
                    value = norm(value, f"{path}.{cid}", problems)
                if value is None:
                    del out[cid]
                else:
                    out[cid] = value
        return out

    def _normalize_value(self, field: Field, value: Any, path: str, problems: list[Problem]) -> Any:
        """One value cleaned (None: not filled, or refused and reported in `problems`)."""
        norm = self._normalizer(field)
        return value if norm is None else norm(value, path, problems)

    def normalize(self, data: dict) -> tuple[dict, list[Problem]]:
        """Each value cleaned by its field type; empty and uncleanable values removed (the latter reported);
        unknown keys are left for the schema to report."""
        problems: list[Problem] = []
        out = {}
        normalizers, memories, shared = self._top_normalizers, self._top_memories, plan.SHARED_ANSWERS
        for key, value in (data or {}).items():
            cls = value.__class__
            if cls is str:
                # a text a pure field's normalizer remembers, looked up here: what it would
                # answer, without the call (most values of an import are such texts)
                held = memories.get(key)
                if held is not None:
                    found = held[1].get(value, held)
                    if found is not held and found.__class__ in shared:
                        held[2] += 1          # asked, as the normalizer counts
                        if found is not None:
                            out[key] = found
                        continue
            elif cls is list and value:
                # a multi's choices, under the key the normalizer files texts under
                # (`plan.memo_key`: texts only), its answer copied as it copies it
                held = memories.get(key)
                if held is not None and {*map(type, value)} == _TEXTS_ONLY:
                    found = held[1].get((list, tuple(value)))
                    if found.__class__ is list:
                        held[2] += 1
                        out[key] = found.copy()
                        continue
            norm = normalizers.get(key)
            if norm is not None:
                value = norm(value, key, problems)
            if value is not None:
                out[key] = value
        return out, problems

    @cached_property
    def _top_normalizers(self) -> dict[str, Callable[[Any, str, list], Any]]:
        """Field id -> its normalizer, for the form's own fields (types nobody registered left out)."""
        return {fid: norm for fid, f in self._top_by_id.items() if (norm := self._normalizer(f)) is not None}

    @cached_property
    def _top_memories(self) -> dict[str, list]:
        """Field id -> the memory of its normalizer, for the pure ones (`plan.remembered`)."""
        return {fid: held for fid, norm in self._top_normalizers.items() if (held := plan.remembered(norm)) is not None}

    # --- computing ---------------------------------------------------------------------------

    def _compute_one(self, field: Field, names: dict) -> tuple[Any, str | None]:
        return self._computer(field)(names)

    def _computer(self, field: Field) -> Callable[[dict], tuple[Any, str | None]]:
        """`names -> (value, case reason)` of a computed field, made once per field: its
        `calculate`, or the first case whose `when` holds; a date as text, then cleaned by the
        field type (a value that does not fit is "not computed", None)."""
        computers = self.__dict__.setdefault("_computers", {})
        found = computers.get(id(field))
        if found is not None:
            return found
        ev = self.evaluator
        calc = plan.value(ev, field.calculate) if field.calculate else None
        # the case that applies, by its index (`plan.first`); one past the end: none does
        which = plan.first(ev, [case.when for case in field.cases])
        outcomes = [(case.value, case.reason) for case in field.cases] + [(None, None)]
        clean = self._cleaner(field)

        def compute(names: dict) -> tuple[Any, str | None]:
            if calc is not None:
                value, reason = calc(names), None
            else:
                value, reason = outcomes[which(names)]
            if isinstance(value, dt.date):
                value = value.isoformat()
            if clean is not None:
                try:
                    value = clean(value)
                except plan.CleanError:      # a computed value that does not fit is "not computed"
                    value = None
            return value, reason
        computers[id(field)] = compute
        return compute

    def compute(self, data: dict, overrides: dict | None = None,
                only: frozenset | None = None) -> tuple[dict, dict[str, str]]:
        """Fill `calculate` and `cases` fields, in form order; returns (data, case reasons).

        A field with `override: true` listed in `overrides` (``{field: {"reason": ..., "value"?: ...}}``
        with a non-empty reason) keeps the staff's value instead of the computed one. `only`: the
        names the computed fields' expressions read (re-evaluating a whole ledger converts just those).
        """
        data = dict(data or {})
        names = self.names(data, only)   # kept current as fields are filled, not rebuilt per field
        data, reasons = self._compute(data, overrides, names)
        return data, reasons

    def _compute(self, data: dict, overrides: dict | None, names: dict) -> tuple[dict, dict[str, str]]:
        """`compute` on a copy `data` the caller made, with `names` for it (updated in place:
        afterwards they are the names of the result)."""
        if self._planned_for is not self._top:
            self._plan_passes()
        reasons: dict[str, str] = {}
        overrides = overrides or {}
        for field, computer, rows_computed, conv in self._compute_plan:
            if rows_computed and isinstance(data.get(field.id), list):
                data[field.id] = self._compute_rows(field, data, names)
                names[field.id] = self._python(field, data[field.id])
            if computer is None:
                continue
            if overrides:
                ov = overrides.get(field.id)
                if field.override and isinstance(ov, dict) and str(ov.get("reason") or "").strip():
                    if "value" in ov:
                        data[field.id] = ov["value"]
                        names[field.id] = self._python(field, ov["value"])
                    reasons[field.id] = f"人工改写：{ov['reason']}"
                    continue
            value, reason = computer(names)
            if value is None:
                data.pop(field.id, None)
            else:
                data[field.id] = value
            names[field.id] = value if conv is None else conv(value)     # `_python`, its conversion planned
            if reason:
                reasons[field.id] = reason
        return data, reasons

    def _compute_rows(self, group: Field, data: dict, parent: dict) -> list:
        rows = []
        for row in data[group.id]:
            row = dict(row) if isinstance(row, dict) else row
            if isinstance(row, dict):
                for c in group.fields:
                    if c.computed:
                        value, _ = self._compute_one(c, self._row_names(parent, group, row))
                        if value is None:
                            row.pop(c.id, None)
                        else:
                            row[c.id] = value
            rows.append(row)
        return rows

    # --- relevance -----------------------------------------------------------------------------

    def relevant_fields(self, data: dict, names: dict[str, Any] | None = None) -> dict[str, bool]:
        """Field id -> shown? for top-level fields (a section that is not relevant hides all it holds).
        `names`: `self.names(data)` when the caller has it already."""
        if self._planned_for is not self._top:
            self._plan_passes()
        shown = {}
        names = self.names(data) if names is None else names
        for sec_relevant, fields in self._relevance_plan:
            sec_ok = sec_relevant is None or sec_relevant(names)
            for f, f_relevant, _ in fields:
                shown[f.id] = sec_ok and (f_relevant is None or f_relevant(names))
        return shown

    def drop_irrelevant(self, data: dict) -> dict:
        """Remove values of fields and sections that are not relevant (in form order, so chains work)."""
        data = dict(data)
        return self._drop(data, self.names(data))

    def _drop(self, data: dict, names: dict, dropped: list | None = None) -> dict:
        """`drop_irrelevant` on a copy `data` the caller made; `names` (for it) are updated
        as values are dropped, so later conditions see it, and end as the result's names.
        `dropped` receives the paths of the values dropped."""
        dropped = [] if dropped is None else dropped
        for sec_relevant, fields in self._relevance_plan:
            sec_ok = sec_relevant is None or sec_relevant(names)
            for f, f_relevant, rows_relevant in fields:
                if not sec_ok or not (f_relevant is None or f_relevant(names)):
                    if data.pop(f.id, None) is not None:
                        names[f.id] = None
                        dropped.append(f.id)
                elif rows_relevant and isinstance(data.get(f.id), list):
                    data[f.id] = self._drop_in_rows(f, data, names, dropped)
                    names[f.id] = self._python(f, data[f.id])
        return data

    def _drop_in_rows(self, group: Field, data: dict, parent: dict, dropped: list) -> list:
        rows = []
        for i, row in enumerate(data[group.id]):
            if isinstance(row, dict):
                row = dict(row)
                for c in group.fields:
                    if c.relevant and not self.evaluator.relevant(c.relevant, self._row_names(parent, group, row)):
                        if c.id in row:
                            del row[c.id]
                            dropped.append(f"{group.id}.{i}.{c.id}")
            rows.append(row)
        return rows

    # --- the whole check -----------------------------------------------------------------------

    def check(self, data: dict, *, unique_lookup: UniqueLookup | None = None,
              accepted_warnings: Iterable | None = None, overrides: dict | None = None,
              reasons: dict[str, str] | None = None) -> tuple[dict, list[Problem]]:
        """(clean data to store, problems). Errors block saving; warnings need an accepted reason.

        `reasons`: a dict to receive the computed fields' case reasons of the clean data (a
        save stores them; computing them again was a tenth of a bulk save)."""
        if self._planned_for is not self._top:
            self._plan_passes()
        clean, problems = self.normalize(data)
        bad_paths = {p.path for p in problems}
        # normalize -> compute -> drop what is not relevant -> compute again, then the checks;
        # one names dict goes along, kept equal to `self.names(clean)` by each pass
        pass_on = self._names_pass_on
        names = self.names(clean)
        clean, found = self._compute(clean, overrides, names)
        dropped: list[str] = []
        clean = self._drop(clean, names if pass_on else self.names(clean), dropped)   # each pass's dict is new
        if dropped or not self._computed_once:
            clean, found = self._compute(clean, overrides, names if pass_on else self.names(clean))
        # else the second pass would read what the first read and give what it gave: skipped
        if reasons is not None:
            reasons.update(found)
        names = names if pass_on else None
        problems += self._schema_problems(clean, bad_paths)
        problems += [p for p in self._required(clean, names) if p.path not in bad_paths]
        problems += self._rules(clean, names=names)
        problems += self._unique(clean, unique_lookup)
        problems += self._override_problems(overrides)
        accepted = _accepted(accepted_warnings)
        problems = [p for p in problems if p.is_error or p.rule not in accepted]
        return clean, problems

    def validate(self, data: dict, *, unique_lookup: UniqueLookup | None = None,
                 accepted_warnings: Iterable | None = None, overrides: dict | None = None) -> list[Problem]:
        return self.check(data, unique_lookup=unique_lookup, accepted_warnings=accepted_warnings,
                          overrides=overrides)[1]

    # --- the parts -----------------------------------------------------------------------------

    def _label(self, path: list) -> str:
        for part in reversed(path):
            if isinstance(part, str) and self.form.field(part):
                return self.form.field(part).label
        return "记录"

    def schema_valid(self, data: dict) -> bool:
        """Whether clean `data` passes the form's JSON Schema — the compiled check
        (`core.records.schemafast`), jsonschema only where that cannot answer. For bulk work
        (re-evaluation, imports) that needs the verdict, not the Chinese messages."""
        fast = self._fast_check()
        if fast is not None:
            return fast(data)
        return self._schema.is_valid(data)

    def _fast_check(self) -> FastCheck | None:
        if self._fast is _UNSET:
            self._fast = compile_fast(self.schema, format_checks(self.registry))
        return self._fast            # type: ignore[return-value]

    def _schema_problems(self, data: dict, bad_paths: set[str]) -> list[Problem]:
        fast = self._fast_check()
        if fast is not None and fast(data):
            return []
        out = []
        for err in self._schema.iter_errors(data):
            path = list(err.absolute_path)
            dotted = ".".join(map(str, path))
            if dotted in bad_paths or any(dotted.startswith(b + ".") for b in bad_paths):
                continue
            out.append(Problem(self._schema_message(err, path), dotted, rule=err.validator))
        return out

    def _schema_message(self, err, path: list) -> str:
        kw, want, inst = err.validator, err.validator_value, err.instance
        label = self._label(path)
        field = self.form.field(next((p for p in reversed(path) if isinstance(p, str)), ""))
        unit = "行" if field is not None and field.fields else "项"
        if kw == "additionalProperties":
            extra = "、".join(k for k in inst if k not in err.schema.get("properties", {}))
            where = f"{label} 的一行" if path else f"表单（第 {self.form.version} 版）"
            return f"{where}没有字段 {extra} (additionalProperties)"
        if kw == "type":
            wants = want if isinstance(want, list) else [want]
            return f"{label} 应为{'或'.join(TYPE_NAMES.get(w, w) for w in wants)}，实际是 {inst!r} (type)"
        if kw == "enum":
            shown = "、".join(map(str, want[:12])) + ("……" if len(want) > 12 else "")
            return f"{label}：“{inst}” 不是可选项（可选：{shown}）(enum)"
        if kw == "format":
            entry = self.registry.formats.get(want)
            return f"{label}：{entry.message if entry else '格式不对'} (format)"
        templates = {
            "minimum": "{label} 不能小于 {want}", "maximum": "{label} 不能大于 {want}",
            "exclusiveMinimum": "{label} 应大于 {want}", "exclusiveMaximum": "{label} 应小于 {want}",
            "minLength": "{label} 至少 {want} 个字", "maxLength": "{label} 最多 {want} 个字",
            "pattern": "{label} 格式不对", "minItems": "{label} 至少要有 {want} {unit}",
            "maxItems": "{label} 最多 {want} {unit}", "uniqueItems": "{label} 有重复的选项",
            "required": "{label} 必须填写",
        }
        text = templates.get(kw, "{label} 不符合要求").format(label=label, want=want, unit=unit)
        return f"{text} ({kw})"

    def _requirement(self, field: Field) -> Callable[[dict], bool] | bool | None:
        """`required` planned: None never, True always, else `names -> bool`."""
        if isinstance(field.required, str):       # "" is no condition: always (as `relevant` says)
            return plan.condition(self.evaluator, field.required) or True
        return True if field.required else None

    def _required(self, data: dict, names: dict | None = None) -> list[Problem]:
        """Required fields left empty, minimum rows, required cells of rows. Conditions are
        asked only where an answer could matter: a filled field (not a row group whose cells
        may be required) is skipped without working out whether it is shown or required —
        most fields of most records are filled. The conditions only read `names`, so asking
        fewer of them changes no answer."""
        if self._planned_for is not self._top:
            self._plan_passes()
        out = []
        names = self.names(data) if names is None else names
        sections = self._relevance_plan
        section_shown: dict[int, bool] = {}
        get = data.get
        for f, requirement, where, min_rows, cells_required in self._required_plan:
            value = get(f.id)
            # `empty(value)`, its commonest answers first: text (cleaned: never blank) and None
            is_empty = value is None or (not value or value.isspace() if type(value) is str else empty(value))
            rows = cells_required and isinstance(value, list)
            if not is_empty and not rows:
                continue
            if is_empty and requirement is None and not min_rows:
                continue
            i, f_relevant = where
            sec_ok = section_shown.get(i)
            if sec_ok is None:
                sec_relevant = sections[i][0]
                sec_ok = section_shown[i] = sec_relevant is None or sec_relevant(names)
            if not sec_ok or not (f_relevant is None or f_relevant(names)):
                continue
            if is_empty and requirement is not None and (requirement is True or requirement(names)):
                out.append(Problem(f"{f.label} 必须填写 (required)", f.id, rule="required"))
            elif min_rows and is_empty:
                out.append(Problem(f"{f.label} 至少要有 {f.min_rows} 行 (minItems)", f.id, rule="minItems"))
            if rows:
                cells = self._cells_required[f.id]
                for i, row in enumerate(value):
                    if not isinstance(row, dict):
                        continue
                    rnames = None            # a row's names are made only for an empty cell
                    for c, c_relevant, c_required in cells:
                        if not empty(row.get(c.id)):
                            continue
                        if rnames is None:
                            rnames = self._row_names(names, f, row)
                        if (c_relevant is None or c_relevant(rnames)) and (c_required is True or c_required(rnames)):
                            out.append(Problem(f"{f.label} 第 {i + 1} 行：{c.label} 必须填写 (required)",
                                               f"{f.id}.{i}.{c.id}", rule="required"))
        return out

    def _run_rule(self, rule: Rule, names: dict, paths: list[str]) -> list[Problem]:
        try:
            if rule.when and not self.evaluator.eval(rule.when, names):
                return []
            ok = self.evaluator.eval(rule.check, names)
        except ExpressionError:
            return [self._uncheckable(rule, names, paths)]
        if ok:
            return []
        return [Problem(rule.message, p, severity=rule.severity, rule=rule.id) for p in paths]

    def _uncheckable(self, rule: Rule, names: dict, paths: list[str]) -> Problem:
        """A rule that could not be worked out, in a clerk's words and once (not once per field
        it marks): which of its inputs are still empty — the usual cause, e.g. "子女数 未填写，
        无法核对子女及其他赡养人" — else which values it could not read. Never Python's words."""
        inputs = [f for f in map(self.form.field, self._rule_inputs(rule)) if f is not None]
        blank = [f for f in inputs if empty(names.get(f.id))]
        marked = [self.form.field(p).label for p in rule.fields if self.form.field(p) and p not in {f.id for f in blank}]
        topic = "、".join(marked) if marked else f"“{rule.message}”"
        if blank:
            path = next((f.id for f in blank if f.id in paths), paths[0])
            text = f"{'、'.join(f.label for f in blank)} 未填写，无法核对{topic}"
        else:
            path = paths[0]
            shown = "、".join(f.label for f in inputs) or "所填的值"
            text = f"无法核对“{rule.message}”：请检查{shown}填写的值"
        return Problem(text, path, severity=rule.severity, rule=rule.id)

    def _rule_inputs(self, rule: Rule) -> list[str]:
        """The names a rule's `check` and `when` read, in the order they appear (cached)."""
        cache = self.__dict__.setdefault("_inputs", {})
        key = (rule.check, rule.when)
        if key not in cache:
            found: list[str] = []
            for expr in (rule.when, rule.check):
                if expr:
                    found += [n.id for n in ast.walk(self.evaluator.parse(expr)) if isinstance(n, ast.Name)]
            cache[key] = list(dict.fromkeys(found))
        return cache[key]

    def _rules(self, data: dict, only: frozenset | None = None, names: dict | None = None) -> list[Problem]:
        if self._planned_for is not self._top:
            self._plan_passes()
        out = []
        names = self.names(data, only) if names is None else names
        for f in self._rules_plan:
            if f.id not in data:
                continue     # a field's own rules judge its value; an empty field is `required`'s business
            for rule in f.rules:
                out += self._run_rule(rule, names, [f.id])
            if f.fields and isinstance(data[f.id], list) and f.id in self._rows_ruled:
                for i, row in enumerate(data[f.id]):
                    if not isinstance(row, dict):
                        continue
                    rnames = self._row_names(names, f, row)
                    for c in f.fields:
                        if c.id in row:
                            for rule in c.rules:
                                out += self._run_rule(rule, rnames, [f"{f.id}.{i}.{c.id}"])
        for rule in self.form.rules:
            out += self._run_rule(rule, names, rule.fields or [""])
        return out

    def _unique(self, data: dict, lookup: UniqueLookup | None) -> list[Problem]:
        if lookup is None:
            return []
        if self._planned_for is not self._top:
            self._plan_passes()
        out = []
        for f in self._unique_plan:
            if not empty(data.get(f.id)):
                other = lookup(f.id, data[f.id])
                if other:
                    out.append(Problem(f"{f.label} “{data[f.id]}” 已登记在另一条记录中（{other}），不能重复 (unique)",
                                       f.id, rule="unique"))
        return out

    def _override_problems(self, overrides: dict | None) -> list[Problem]:
        out = []
        for fid, ov in (overrides or {}).items():
            f = self.form.field(fid)
            if f is None or not f.computed or not f.override:
                label = f.label if f else fid
                out.append(Problem(f"{label} 不允许人工改写 (override)", fid, rule="override"))
            elif not isinstance(ov, dict) or not str(ov.get("reason") or "").strip():
                out.append(Problem(f"改写 {f.label} 必须填写原因 (override)", fid, rule="override"))
        return out
