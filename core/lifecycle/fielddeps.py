"""What a form change reaches: each computed field and rule fingerprinted, and the dependency
graph that carries a change to whatever reads the changed value.

An admin raises 高龄 from 80 to 75: two computed fields read `settings.advanced_age` (高龄 and
风险等级); nothing else of the form changed. Re-evaluating 50,000 people after that used to run
all eight computed fields and every rule of every record. Here each computed field (or repeat
group with computed columns) and each rule gets a digest of everything its value depends on
besides the record's values — its expressions, its cases, its type and options, the settings it
reads, the type and label of each field it reads — and the last re-evaluation's marker keeps
them. A record that run covered (not saved since, no date probe moved; see
`core.lifecycle.reevaluate._Plan`) then needs only:

- the computed fields whose digest changed, and every computed field that reads one of them
  (transitively), evaluated in form order exactly as `Validator.compute` would;
- the rules whose digest changed, that read a field in that set, or hang on one; the others'
  failures are the ones the marker kept.

Every other value is what the last run stored, because it is a pure function of the same
inputs under the same definition. `tests/test_reevaluate_fields.py` holds this equal to
evaluating everything, over seeded ledgers and random form changes.
"""
from __future__ import annotations

import ast
import copy
import hashlib
import json
from dataclasses import asdict
from typing import Any

from core.formlang.calcdeps import names_in

# What a field definition holds that changes no computed value or rule outcome.
_COSMETIC = ("label", "help", "placeholder", "aliases", "source", "rules", "pii", "readonly", "required",
             "relevant", "unique", "default", "initial", "autonumber")


def _sha(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def settings_read(expr: str | None) -> set[str] | None:
    """`settings.X` names an expression reads; None when it uses `settings` some other way
    (then every setting counts)."""
    if not isinstance(expr, str) or not expr.strip():
        return set()
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError:
        return set()
    attrs = {id(n.value): n.attr for n in ast.walk(tree)
             if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)}
    out: set[str] = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Name) and n.id == "settings":
            if id(n) not in attrs:
                return None
            out.add(attrs[id(n)])
    return out


def _unit_exprs(f) -> list[str]:
    """The expressions of a computed unit: the field's own, and its computed columns'."""
    out = [f.calculate, *(c.when for c in f.cases)]
    for c in f.fields:
        if c.computed:
            out += [c.calculate, *(k.when for k in c.cases)]
    return [e for e in out if e]


def _context(form, exprs: list[str]) -> dict:
    """What expressions see besides the record: the settings they read, and the type and label
    of each field they read (types decide conversions; labels appear in rule messages)."""
    wanted: set[str] | None = set()
    names: set[str] = set()
    for e in exprs:
        found = settings_read(e)
        wanted = None if found is None or wanted is None else wanted | found
        names |= names_in(e)
    settings = form.settings or {}
    picked = settings if wanted is None else {k: settings.get(k, "<缺>") for k in sorted(wanted)}
    fields = {}
    for name in sorted(names):
        f = form.field(name)
        if f is not None:
            fields[name] = [f.type, f.label, [(c.id, c.type, c.label) for c in f.fields]]
    return {"settings": picked, "fields": fields}


def _definition(form, f) -> dict:
    raw = {k: v for k, v in asdict(f).items() if k not in _COSMETIC}
    raw["fields"] = [{k: v for k, v in asdict(c).items() if k not in _COSMETIC} for c in f.fields]
    if isinstance(f.choices, str):
        raw["list"] = form.lists.get(f.choices)
    return raw


def _units(form) -> list:
    """Top-level computed fields and repeat groups with computed columns, in form order."""
    return [f for f in form.top_fields() if f.computed or any(c.computed for c in f.fields)]


def _rules(form) -> list[tuple[Any, str, Any]]:
    """(rule, the field it hangs on or "", parent group or None) in the order `Validator._rules`
    runs them."""
    out = []
    for f in form.top_fields():
        out += [(r, f.id, None) for r in f.rules]
        for c in f.fields:
            out += [(r, c.id, f) for r in c.rules]
    return out + [(r, "", None) for r in form.rules]


def fingerprints(form) -> dict:
    """{"fields": {unit id: digest}, "rules": {rule id: digest} or None when rule ids repeat}."""
    found = form.__dict__.get("_field_fingerprints")
    if found is not None:
        return found
    fields = {f.id: _sha([_definition(form, f), _context(form, _unit_exprs(f))]) for f in _units(form)}
    rules: dict[str, str] | None = {}
    for rule, on, group in _rules(form):
        if rule.id in rules:
            rules = None
            break
        exprs = [e for e in (rule.check, rule.when) if e]
        rules[rule.id] = _sha([asdict(rule) | {"source": None}, on, group.id if group else None,
                               _context(form, exprs + list(rule.fields))])
    found = form.__dict__["_field_fingerprints"] = {"fields": fields, "rules": rules}
    return found


def _holds_moved(exprs, moved: frozenset) -> bool:
    """Some expression holds a date probe that moved (`core.lifecycle.dateprobes.probes_in`)."""
    if not moved:
        return False
    from core.lifecycle.dateprobes import probes_in

    return any(probes_in(e) & moved for e in exprs if e)


class Partial:
    """The part of one form (one town's) that a change since the last run reaches, and its
    evaluation over one record. `old`: the marker's fingerprints of that town's form.

    `moved`: the date probes (`core.lifecycle.dateprobes`) whose value moved for the records
    this Partial serves since the last run's day — someone's birthday. What holds one of them
    is changed for those records as if its definition had changed: their age, and what reads
    it, is evaluated; a value whose expressions hold only probes that kept their value is the
    same on both days (expressions are pure functions of their names)."""

    def __init__(self, validator, old: dict, moved: frozenset = frozenset()):
        self.v = validator
        self.moved = moved
        form = validator.form
        new = fingerprints(form)
        old_fields = old.get("fields") if isinstance(old, dict) else None
        old_rules = old.get("rules") if isinstance(old, dict) else None
        self.usable = isinstance(old_fields, dict) and isinstance(old_rules, dict) and new["rules"] is not None
        units = _units(form)
        reads = {f.id: set().union(*map(names_in, _unit_exprs(f))) for f in units}
        dirty = {f.id for f in units if not self.usable or old_fields.get(f.id) != new["fields"][f.id]
                 or _holds_moved(_unit_exprs(f), moved)}
        grew = True
        while grew:                      # whatever reads a changed value changes with it
            grew = False
            for fid, read in reads.items():
                if fid not in dirty and read & dirty:
                    dirty.add(fid)
                    grew = True
        self.fields = [f for f in units if f.id in dirty]
        top = {f.id for f in form.top_fields()}
        self.reads = frozenset((dirty | set().union(*(reads[f] for f in dirty))) & top)
        self.order: dict[str, int] = {}
        self.rules: dict[str, list] = {}        # dirty rule id -> [(rule, field id, group)]
        for i, (rule, on, group) in enumerate(_rules(form)):
            self.order.setdefault(rule.id, i)
            read = names_in(rule.check) | names_in(rule.when) | set(rule.fields)
            if (not self.usable or old_rules.get(rule.id) != (new["rules"] or {}).get(rule.id)
                    or read & dirty or on in dirty or (group is not None and group.id in dirty)
                    or _holds_moved((rule.check, rule.when), moved)):
                self.rules.setdefault(rule.id, []).append((rule, on, group))
        from core.formlang.calcdeps import names_read

        self.rule_reads = names_read(form)[1]
        self.nothing = not self.fields and not self.rules

    def compute(self, data: dict, overrides: dict | None) -> tuple[dict, dict[str, str]]:
        """`Validator.compute` over the changed fields only: (data with them recomputed, their
        case reasons). The other computed values are as stored (see the module docstring)."""
        return self._view.compute(data, overrides, only=self.reads)

    @property
    def _view(self):
        """The validator as `compute` sees it: a shallow copy whose fields to fill (`_top`, what
        `Validator.compute` walks in form order) are the changed ones; all else is shared."""
        view = self.__dict__.get("_view_v")
        if view is None:
            view = self.__dict__["_view_v"] = copy.copy(self.v)
            view._top = list(self.fields)
        return view

    def failures(self, data: dict, kept: list) -> list[list[str]]:
        """The record's rule failures: the changed rules run on `data`, the others as the marker
        kept them (`kept`: its `[rule, message]` pairs), in the order a full run gives."""
        out = [f for f in kept if f[0] in self.order and f[0] not in self.rules]
        if self.rules:
            v = self.v
            names = v.names(data, self.rule_reads)
            found = []
            for entries in self.rules.values():
                for rule, on, group in entries:
                    if group is None and on:
                        if on in data:
                            found += v._run_rule(rule, names, [on])
                    elif group is None:
                        found += v._run_rule(rule, names, rule.fields or [""])
                    elif isinstance(data.get(group.id), list):
                        for i, row in enumerate(data[group.id]):
                            if isinstance(row, dict) and on in row:
                                found += v._run_rule(rule, v._row_names(names, group, row), [f"{group.id}.{i}.{on}"])
            out += [[p.rule, p.message] for p in found]
        out.sort(key=lambda f: self.order.get(f[0], 0))
        return [list(k) for k in dict.fromkeys(tuple(f) for f in out)]
