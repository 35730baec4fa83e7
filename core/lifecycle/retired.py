"""Values of fields a form no longer has are kept on the record, never erased by a save.

Staff edit a record on a screen drawn from the current form, so a field the admin deleted is
simply not in what the screen sends back; storing that as the new data would erase the old
value without anyone deciding so. Instead the value moves to the record's `retired` mapping
(`{field: {value, at, version, by}}`), where `records show`, the history and a later
`rename_field` migration can still find it.
"""
from __future__ import annotations

from core.formlang.expressions import empty

BY_SAVE = "保存时保留（表单已无此字段）"


def entry(value, at: str, version, by: str, old_form=None, field_id: str = "") -> dict:
    """One retired value, with the label and masking kind its field had (exports mask it)."""
    from core.transfer.exportform import pii_kind

    f = old_form.field(field_id) if old_form is not None else None
    out = {"value": value, "at": at, "version": version, "by": by}
    if f is not None:
        out["label"] = f.label
        if pii_kind(f):
            out["pii"] = pii_kind(f)
    return out


def carry(form, old: dict | None, new_data: dict, at: str, old_form=None) -> dict:
    """The `retired` mapping a save of `new_data` over `old` must store (empty: none).
    `old_form`: the form version `old` was saved under (for the field's label and privacy)."""
    if old is None:
        return {}
    retired = dict(old.get("retired") or {})
    known = {f.id for f in form.top_fields()}
    for key, value in (old.get("data") or {}).items():
        if key not in known and key not in new_data and not empty(value):
            retired[key] = entry(value, at, old.get("version"), BY_SAVE, old_form, key)
    return retired


def as_text(record: dict, mask) -> str:
    """`单位负责人=陈刚；联系电话=138****5678` for an export cell (masked by the kind kept)."""
    parts = []
    for key, item in sorted((record.get("retired") or {}).items()):
        value = item.get("value")
        if isinstance(value, list):
            value = "、".join(map(str, value))
        if item.get("pii"):
            value = mask(item["pii"], value)
        parts.append(f"{item.get('label') or key}={value}")
    return "；".join(parts)


def former_fields(engine, form_id: str, record: dict | None = None) -> dict:
    """Every field any kept version of `form_id` had, by id (newest definition wins), plus the
    masking kind each of `record`'s retired values carries: how a history entry masks the old
    value of a field since deleted or retired (`core.records.masking.mask_path`)."""
    out: dict = {}
    for version in engine.snapshots.versions(form_id):
        try:
            form = engine.form(form_id, version)
        except Exception:  # noqa: BLE001 - an unreadable old version only loses its labels
            continue
        out.update({f.id: f for f in form.top_fields()})
    for key, item in ((record or {}).get("retired") or {}).items():
        if key not in out and isinstance(item, dict) and item.get("pii"):
            out[key] = {"id": key, "type": "text", "pii": item["pii"]}
    return out
