"""Computed fields recomputed under the current forms and today's date, with history.

A stored risk level is what the rules said on the day the record was saved. When an admin
changes a threshold, or a person turns 80, the stored value is stale until someone re-saves the
record. `run` recomputes every computed field (`calculate`, `cases`) of every record — staff
overrides kept, autonumbers and `initial` values untouched — and reports the changes as
"风险等级 中→高：17 人"; with `apply` it writes them, one history entry per changed record,
one atomic write per village file. Rules are evaluated too and their failures counted, since a
changed rule can make stored records wrong without changing any value.

`refresh_for_today` runs it once per calendar day (the first writer to open the ledger that
day), so values that depend on today's date are never shown stale.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from core.formlang.calcdeps import names_read
from core.problems import CarebookError

MARKER = Path("lifecycle") / "evaluated.json"


@dataclass
class Result:
    records: int = 0
    changed: int = 0
    changes: Counter = field(default_factory=Counter)        # (form, label, old, new) -> people
    rule_failures: Counter = field(default_factory=Counter)  # (form, rule id, message) -> people
    samples: dict = field(default_factory=dict)              # (form, label, old, new) -> [record ids]
    applied: bool = False

    def table(self) -> list[str]:
        """'风险等级 中→高：17 人' lines, largest first."""
        def show(v):
            return "（空）" if v in (None, "") else str(v)
        return [f"{label} {show(a)}→{show(b)}：{n} 人" for (_, label, a, b), n in
                sorted(self.changes.items(), key=lambda kv: (-kv[1], str(kv[0])))]


def _computed_forms(engine, only: str | None) -> list:
    forms = [engine.form(only)] if only else list(engine.record_forms())
    return [f for f in forms if any(x.computed for x in f.top_fields())]


def run(engine, form_id: str | None = None, *, apply: bool = False, operator: str = "",
        rules: bool = True, progress: Callable[[str], None] | None = None) -> Result:
    from core.engine import field_diff, now_iso

    if apply and engine.readonly:
        raise CarebookError("台账以只读方式打开，不能保存重新计算的结果")
    result = Result()
    at = now_iso()
    today = engine.today()
    for form in _computed_forms(engine, form_id):
        # `calculate: today` is the day the record was saved (最近更新日期), not a value to refresh.
        computed = [f for f in form.top_fields() if f.computed and (f.calculate or "").strip() != "today"]
        validators: dict = {}
        for part in list(engine.store.partitions(form.id)):
            items = []
            for rec in engine.iter_records(form.id, [part]):
                result.records += 1
                data = rec.get("data") or {}
                town = data.get("town")
                plan = validators.get(town)
                if plan is None:
                    v = engine.validator(form.id, town=town)
                    plan = validators[town] = (v, *names_read(v.form))
                v, reads, rule_reads = plan
                meta = rec.get("meta") or {}
                new, reasons = v.compute(data, overrides=meta.get("overrides"), only=reads)
                diffs = [(f, data.get(f.id), new.get(f.id)) for f in computed if data.get(f.id) != new.get(f.id)]
                if rules:
                    for p in v._rules(new, rule_reads):
                        result.rule_failures[(form.id, p.rule, p.message)] += 1
                if not diffs:
                    continue
                result.changed += 1
                for f, a, b in diffs:
                    key = (form.id, f.label, a, b)
                    result.changes[key] += 1
                    got = result.samples.setdefault(key, [])
                    if len(got) < 3:
                        got.append(rec["id"])
                if apply:
                    fixed = dict(data)
                    for f, _, b in diffs:
                        if b is None:
                            fixed.pop(f.id, None)
                        else:
                            fixed[f.id] = b
                    out = {**rec, "data": fixed, "updated": at, "operator": operator or engine.operator or "",
                           "meta": {**meta, "reasons": {**(meta.get("reasons") or {}), **reasons}}}
                    entry = {"id": rec["id"], "at": at, "operator": out["operator"], "form": form.id,
                             "version": rec.get("version"), "action": "重新计算",
                             "changes": field_diff(data, fixed), "reasons": [], "overrides": {},
                             "note": f"按当前表单和 {today.isoformat()} 的日期重新计算"}
                    items.append((out, engine._index_row(form, out), entry))
            if items:
                engine.store.put_many(form.id, items)
                idx = engine._indexes.get(form.id)
                if idx is not None:
                    for out, row, _ in items:
                        idx.put(out["id"], row)
            if progress:
                progress(part)
    result.applied = apply
    if apply:
        _mark(engine, today.isoformat())
    return result


def _mark(engine, day: str) -> None:
    from core.storage.atomic import write_bytes

    path = Path(engine.data_dir) / MARKER
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(path, json.dumps({"date": day}).encode("utf-8"))


def last_day(engine) -> str | None:
    try:
        return json.loads((Path(engine.data_dir) / MARKER).read_text(encoding="utf-8")).get("date")
    except (OSError, ValueError, AttributeError):
        return None


def refresh_for_today(engine, operator: str = "系统：日期变化后重新计算") -> Result | None:
    """Recompute once per day (a writer only); None when already done today or read-only."""
    if engine.readonly or last_day(engine) == engine.today().isoformat():
        return None
    return run(engine, apply=True, operator=operator, rules=False)
