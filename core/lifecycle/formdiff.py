"""What changed between two versions of a form, field by field.

One walk serves three readers: `forms diff` prints every change; the data check asks whether a
change *needs* a version bump (anything that changes what a record may hold or how it is
computed — not a label or a help text); and a removed choice next to an added one in the same
field is offered as the likely rename when the check suggests a migration.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable

from core.formlang.formmodel import Field, Form

# Field attributes whose change alters what a record may hold or how its values are computed.
_STRUCTURAL = ("type", "required", "relevant", "calculate", "min", "max", "min_length", "max_length",
               "pattern", "unique", "autonumber", "min_rows", "max_rows")
_COSMETIC = ("label", "help", "placeholder")


@dataclass(frozen=True)
class Change:
    kind: str            # field-added, field-removed, field-changed, choice-added, choice-removed,
                         # rule-added, rule-removed, rule-changed, setting-changed, label-changed,
                         # column-added, column-removed, column-changed
    where: str           # field id, rule id, setting name or column key
    old: Any = None
    new: Any = None
    structural: bool = True   # needs a version bump

    def __str__(self) -> str:
        text = {
            "field-added": "新增字段 {where}（{new}）",
            "field-removed": "删除字段 {where}（{old}）",
            "field-changed": "字段 {where} 的 {detail}",
            "choice-added": "字段 {where} 新增选项 {new}",
            "choice-removed": "字段 {where} 删除选项 {old}",
            "rule-added": "新增规则 {where}",
            "rule-removed": "删除规则 {where}",
            "rule-changed": "规则 {where} 改为 {new}",
            "setting-changed": "settings.{where}：{old} → {new}",
            "label-changed": "字段 {where} 的显示文字：{old} → {new}",
            "column-added": "新增栏 {where}（{new}）",
            "column-removed": "删除栏 {where}（{old}）",
            "column-changed": "栏 {where} 改为 {new}",
        }[self.kind]
        detail = ""
        if self.kind == "field-changed":
            key, a, b = self.old
            detail = f"{key}：{_show(a)} → {_show(b)}"
        return text.format(where=self.where, old=_show(self.old), new=_show(self.new), detail=detail)


def _show(value: Any) -> str:
    if value is None or value == "":
        return "（无）"
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _fields(form: Form) -> dict[str, Field]:
    return {f.id: f for f in form.fields_flat()}


def _cases(f: Field) -> list:
    return [(c.when, c.value, c.reason) for c in f.cases]


def _rules(form: Form) -> dict[str, tuple]:
    out = {r.id: (r.check, r.when, r.severity, r.message) for r in form.rules}
    for f in form.fields_flat():
        out.update({r.id: (r.check, r.when, r.severity, r.message) for r in f.rules})
    return out


def diff_forms(old: Form, new: Form) -> list[Change]:
    """Every change from `old` to `new`, in the new form's field order."""
    out: list[Change] = []
    a, b = _fields(old), _fields(new)
    for fid, f in b.items():
        if fid not in a:
            out.append(Change("field-added", fid, new=f.label))
    for fid, f in a.items():
        if fid not in b:
            out.append(Change("field-removed", fid, old=f.label))
    for fid, fb in b.items():
        fa = a.get(fid)
        if fa is None:
            continue
        for key in _STRUCTURAL:
            va, vb = getattr(fa, key), getattr(fb, key)
            if va != vb:
                out.append(Change("field-changed", fid, old=(key, va, vb)))
        if _cases(fa) != _cases(fb):
            out.append(Change("field-changed", fid, old=("cases", len(fa.cases), len(fb.cases))))
        ca = [v for v, _ in old.choices_for(fa)]
        cb = [v for v, _ in new.choices_for(fb)]
        out += [Change("choice-added", fid, new=v) for v in cb if v not in ca]
        out += [Change("choice-removed", fid, old=v) for v in ca if v not in cb]
        for key in _COSMETIC:
            if getattr(fa, key) != getattr(fb, key):
                out.append(Change("label-changed", fid, old=getattr(fa, key), new=getattr(fb, key), structural=False))
    ra, rb = _rules(old), _rules(new)
    out += [Change("rule-added", rid, new=r[0]) for rid, r in rb.items() if rid not in ra]
    out += [Change("rule-removed", rid, old=r[0]) for rid, r in ra.items() if rid not in rb]
    out += [Change("rule-changed", rid, old=ra[rid][0], new=r[0]) for rid, r in rb.items()
            if rid in ra and ra[rid] != r]
    for key in sorted(set(old.settings) | set(new.settings)):
        if old.settings.get(key) != new.settings.get(key):
            out.append(Change("setting-changed", key, old=old.settings.get(key), new=new.settings.get(key)))
    return out


def needs_bump(changes: Iterable[Change]) -> list[Change]:
    """The changes a form may not make without a new `version`."""
    return [c for c in changes if c.structural]


def renamed_choices(changes: Iterable[Change]) -> dict[str, dict[str, str]]:
    """{field: {old value: new value}} where one value left and one arrived in the same field —
    the likely rename a `map_choices` migration should state."""
    gone: dict[str, list] = {}
    came: dict[str, list] = {}
    for c in changes:
        if c.kind == "choice-removed":
            gone.setdefault(c.where, []).append(c.old)
        elif c.kind == "choice-added":
            came.setdefault(c.where, []).append(c.new)
    return {fid: {gone[fid][0]: came[fid][0]} for fid in gone
            if len(gone[fid]) == 1 and len(came.get(fid, ())) == 1}


def diff_columns(old: dict | None, new: dict | None) -> list[Change]:
    """Columns of a roster/summary file (`columns:` with `key`), added, removed or changed."""
    ca = {c.get("key"): c for c in (old or {}).get("columns") or [] if isinstance(c, dict)}
    cb = {c.get("key"): c for c in (new or {}).get("columns") or [] if isinstance(c, dict)}
    out = [Change("column-added", k, new=c.get("label")) for k, c in cb.items() if k not in ca]
    out += [Change("column-removed", k, old=c.get("label")) for k, c in ca.items() if k not in cb]
    for k, c in cb.items():
        if k in ca and ca[k] != c:
            changed = {key: c.get(key) for key in c if ca[k].get(key) != c.get(key)}
            changed.update({key: None for key in ca[k] if key not in c})
            out.append(Change("column-changed", k, old=ca[k], new=changed))
    return out
