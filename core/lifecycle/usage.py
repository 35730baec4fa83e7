"""What the stored records hold that a form no longer describes, with counts and samples.

A form edit is only safe if no stored value falls outside it: a field id the form dropped, a
choice value it no longer lists. Those are found by reading the records themselves (one village
file at a time), checked against the form each record's town sees (overlay fields included),
because a diff of two form files cannot know which values are in use.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

SAMPLES = 3


@dataclass
class Usage:
    """Stored values a form does not describe. Paths are `field` or `group.child` (repeat rows)."""

    form_id: str
    records: int = 0
    unknown: Counter = field(default_factory=Counter)                 # path -> records holding it
    bad_choices: dict[str, Counter] = field(default_factory=dict)     # path -> {value: records}
    samples: dict[tuple, list[str]] = field(default_factory=dict)     # (path[, value]) -> record ids
    values: dict[str, Counter] = field(default_factory=dict)          # path -> {value: records} (choices in use)

    def _sample(self, key: tuple, rid: str) -> None:
        got = self.samples.setdefault(key, [])
        if len(got) < SAMPLES:
            got.append(rid)


def _choice_sets(form) -> dict[str, set[str]]:
    return {f.id: {v for v, _ in form.choices_for(f)} for f in form.fields_flat() if f.choices is not None}


def _scan_value(usage: Usage, rid: str, path: str, value: Any, allowed: set[str] | None) -> None:
    if allowed is None:
        return
    items = value if isinstance(value, list) else [value]
    seen = set()
    for item in items:
        if not isinstance(item, str) or item in seen:
            continue
        seen.add(item)
        usage.values.setdefault(path, Counter())[item] += 1
        if item not in allowed:
            usage.bad_choices.setdefault(path, Counter())[item] += 1
            usage._sample((path, item), rid)


def scan(engine, form_id: str, form_for=None) -> Usage:
    """Read every record of `form_id` and count what its (town's) current form does not hold.

    `form_for(town) -> Form`: the form a record of that town is checked against (default: the
    engine's current form with that town's overlays)."""
    form_for = form_for or (lambda town: engine.form(form_id, town=town) if town else engine.form(form_id))
    cache: dict[Any, tuple] = {}
    usage = Usage(form_id)
    for rec in engine.iter_records(form_id):
        data = rec.get("data") or {}
        town = data.get("town")
        plan = cache.get(town)
        if plan is None:
            form = form_for(town)
            top = {f.id: f for f in form.top_fields()}
            plan = cache[town] = (top, _choice_sets(form))
        top, choices = plan
        usage.records += 1
        rid = rec["id"]
        for key, value in data.items():
            f = top.get(key)
            if f is None:
                usage.unknown[key] += 1
                usage._sample((key,), rid)
                continue
            if f.fields and isinstance(value, list):
                kids = {c.id for c in f.fields}
                hit: set[str] = set()
                for row in value:
                    if not isinstance(row, dict):
                        continue
                    for ck, cv in row.items():
                        if ck not in kids:
                            hit.add(f"{key}.{ck}")
                        else:
                            _scan_value(usage, rid, f"{key}.{ck}", cv, choices.get(ck))
                for path in hit:
                    usage.unknown[path] += 1
                    usage._sample((path,), rid)
            else:
                _scan_value(usage, rid, key, value, choices.get(key))
    return usage
