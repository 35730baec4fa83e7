"""Personal values masked at every level of a record, and in its history.

The list and export code masks the columns it shows; a person's whole record has more levels
(a child's ID number and phone sit inside the `children` repeat group) and its history holds
old and new values under paths like `children.0.phone` or whole rows. Everything that prints a
record or its history without `--full` goes through here, so a field is masked by the same rule
(`core.transfer.exporting.mask_value`, kind from `core.transfer.exportform.pii_kind`) wherever
it sits.
"""
from __future__ import annotations

import re
from typing import Any, Iterable

from core.transfer.exporting import mask_value
from core.transfer.exportform import pii_kind

# A value under a path no form field explains (a field since removed) is still masked when it
# looks like an ID number or a phone number.
_LOOKS_ID = re.compile(r"\d{15}|\d{17}[\dXx]")
_LOOKS_PHONE = re.compile(r"1[3-9]\d{9}|(?:022)?[2-9]\d{7}")


def _guess(value: Any) -> Any:
    if isinstance(value, str):
        if _LOOKS_ID.fullmatch(value):
            return mask_value("id", value)
        if _LOOKS_PHONE.fullmatch(value):
            return mask_value("phone", value)
    if isinstance(value, dict):
        return {k: _guess(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_guess(v) for v in value]
    return value


def mask_field(field: Any, value: Any) -> Any:
    """`value` of `field` masked: a repeat group row by row, a personal field by its kind."""
    children = getattr(field, "fields", None) or []
    if children:
        if isinstance(value, list):
            return [mask_data(children, row) if isinstance(row, dict) else _guess(row) for row in value]
        if isinstance(value, dict):                 # one row of the group (a history change)
            return mask_data(children, value)
        return _guess(value)
    kind = pii_kind(field)
    if kind and isinstance(value, list):
        return [mask_value(kind, v) for v in value]
    return mask_value(kind, value) if kind else value


def mask_data(fields: Iterable[Any], data: dict) -> dict:
    """A record's data (or one repeat row) with every personal value masked, at every level;
    keys no field explains are masked when they look like an ID or a phone."""
    by_id = {f.id: f for f in fields}
    return {k: (mask_field(by_id[k], v) if k in by_id else _guess(v)) for k, v in (data or {}).items()}


def mask_path(form: Any, path: str, value: Any, older: dict | None = None) -> Any:
    """A history change's value masked by the field its path names (`children.0.phone`,
    `children.1` for a whole row, `id_number`, `retired.address`). `older`: fields the form
    no longer has, by id, as an earlier version defined them — an old address must be masked
    after its field was deleted or retired, like the current one."""
    parts = str(path).split(".")
    if parts[0] == "retired" and len(parts) > 1:
        parts = parts[1:]                             # a value kept after its field was retired
    fields = form.top_fields()
    field = None
    for i, part in enumerate(parts):
        if part.isdigit() and field is not None:
            continue                                  # the row index inside a repeat group
        field = next((f for f in fields if f.id == part), None)
        if field is None and i == 0 and older:
            field = older.get(part)
        if field is None:
            return _guess(value)
        fields = getattr(field, "fields", None) or []
    if field is None:
        return _guess(value)
    if value is not None and parts[-1].isdigit() and isinstance(value, dict):
        return mask_data(getattr(field, "fields", None) or [], value)   # a whole row added or removed
    return mask_field(field, value)


def mask_history(form: Any, entries: list[dict], older: dict | None = None) -> list[dict]:
    """History entries with the old and new value of every change masked (`older`: see
    `mask_path`)."""
    out = []
    for h in entries:
        changes = [{**c, "old": mask_path(form, c.get("path", ""), c.get("old"), older),
                    "new": mask_path(form, c.get("path", ""), c.get("new"), older)} for c in h.get("changes", [])]
        out.append({**h, "changes": changes})
    return out
