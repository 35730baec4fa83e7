"""Draw any form file as an editable page; nothing about a particular form is written here.

The form's sections become headed blocks in one scrolling column (Tab walks through every field
in order, which is how staff copy a paper form), each field is drawn by its type's widget hint,
fields whose `relevant` expression is false are hidden, computed fields are shown read-only.
The view reads and writes plain record data; checking and saving belong to the engine.

A town may add fields to a form for its own records (overlay files, plugins' `extend_form`), so
the form drawn is the one the record's town sees (`town_form`); the screen redraws the view when
the town changes to or from such a town.
"""
from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from core.engine import Problem
from core.engine import clerk_problem

from .widgets.fields import FieldRow

HINT_FALLBACK = {"repeat": "repeat", "record-ref": "reference", "boolean": "checkbox",
                 "choice": "select", "multi": "multiselect", "longtext": "textarea"}


def hint_of(engine: Any, field: Any) -> str:
    """The widget hint of a field's type (a plugin's type names its own)."""
    ft = engine.registry.field_types.get(field.type)
    return getattr(ft, "widget", None) or HINT_FALLBACK.get(field.type, "text")


def normalize_value(engine: Any, field: Any, value: Any) -> tuple[Any, str | None]:
    """Clean a typed value with its field type; (value, None) or (value as typed, message)."""
    if value in (None, "", []):
        return value, None
    ft = engine.registry.field_types.get(field.type)
    if ft is None or not hasattr(ft, "normalize"):
        return value, None
    try:
        return ft.normalize(value, field), None
    except ValueError as exc:
        return value, str(exc)
    except TypeError:
        return value, None


# The field the engine reads a record's town from when it merges town additions and validates
# (`Engine.check` uses `data["town"]`): the screen must draw the form validation will apply.
TOWN_FIELD = "town"


def record_town(data: dict) -> str | None:
    return data.get(TOWN_FIELD) or None


def town_form(engine: Any, form_id: str, version: int | None, data: dict) -> Any:
    """The form as records of `data`'s town see it: the form itself for most towns, a merged
    copy (cached by the engine, so the same object each time) for a town with additions."""
    return engine.form(form_id, version, town=record_town(data))


def relevance(engine: Any, form: Any, data: dict) -> dict[str, bool]:
    """Which fields are shown for this data (skip logic, evaluated by the engine's validator)."""
    validator = engine.validator(form.id, form.version, town=record_town(data))
    return validator.relevant_fields(data)


class FormView(VerticalScroll):
    """All sections of a form, stacked; `rows` maps field id to its FieldRow."""

    def __init__(self, form: Any, engine: Any, **kwargs: Any) -> None:
        super().__init__(classes="form-view", **kwargs)
        self.form = form
        self.engine = engine
        self.rows: dict[str, FieldRow] = {}

    def compose(self) -> ComposeResult:
        for section in self.form.sections:
            yield Static(section.title, classes="section-title", id=f"sec-{section.id}", markup=False)
            for f in section.fields:
                row = FieldRow(f, self.form, self.engine, hint_of(self.engine, f), computed=f.computed)
                self.rows[f.id] = row
                yield row

    # ------------------------------------------------------------------ data in and out
    def get_data(self, hidden: bool = False) -> dict:
        """The values staff entered in shown fields; with `hidden`, also those in fields skip
        logic hides right now (kept when the view is redrawn, as the hidden rows keep them)."""
        out = {}
        for fid, row in self.rows.items():
            if row.computed or not (row.display or hidden):
                continue
            value = row.get_value()
            if value not in (None, "", []):
                out[fid] = value
        return out

    def set_data(self, data: dict, labels: dict[str, str] | None = None) -> None:
        # Parents first, so a village list is loaded before the village is chosen.
        for fid, row in self.rows.items():
            if row.parent_field:
                row.set_parent_value(data.get(row.parent_field))
        for fid, row in self.rows.items():
            row.set_value(data.get(fid), (labels or {}).get(fid))

    def show_computed(self, data: dict) -> None:
        for fid, row in self.rows.items():
            if row.computed:
                row.set_value(data.get(fid))

    def apply_relevance(self, shown: dict[str, bool]) -> None:
        for section in self.form.sections:
            any_shown = False
            for f in section.fields:
                self.rows[f.id].display = shown.get(f.id, True)
                any_shown = any_shown or self.rows[f.id].display
            self.query_one(f"#sec-{section.id}").display = any_shown

    def follow_parent(self, changed: str, value: Any) -> None:
        """The division cascade: a changed town reloads its villages."""
        for row in self.rows.values():
            if row.parent_field == changed:
                row.set_parent_value(value)

    # ------------------------------------------------------------------ problems
    def show_problems(self, problems: list[Problem], only: set[str] | None = None) -> FieldRow | None:
        """Put each problem under the field the clerk should correct, in clerk words
        (`core.records.wording`): a computed field's problem goes to its input; the first
        row shown with one is returned."""
        by_field: dict[str, list[str]] = {}
        for p in problems:
            target, text = clerk_problem(self.form, p)
            if target in self.rows:
                by_field.setdefault(target, []).append(text)
        first = None
        for fid, row in self.rows.items():
            if only is not None and fid not in only:
                continue
            messages = by_field.get(fid)
            row.show_error("；".join(dict.fromkeys(messages)) if messages else None)
            if messages and first is None and row.display:
                first = row
        return first

    def section_of_row(self, row: FieldRow) -> str | None:
        s = self.form.section_of(row.field.id)
        return s.id if s else None
