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


def carry(form, old: dict | None, new_data: dict, at: str) -> dict:
    """The `retired` mapping a save of `new_data` over `old` must store (empty: none)."""
    if old is None:
        return {}
    retired = dict(old.get("retired") or {})
    known = {f.id for f in form.top_fields()}
    for key, value in (old.get("data") or {}).items():
        if key not in known and key not in new_data and not empty(value):
            retired[key] = {"value": value, "at": at, "version": old.get("version"), "by": BY_SAVE}
    return retired
