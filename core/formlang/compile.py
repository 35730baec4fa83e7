"""Form -> JSON Schema (Draft 2020-12) for a record's `data`.

The schema carries what is fixed per field — type, format, choices, bounds, lengths, rows — and
`additionalProperties: false` so a misspelt or stale key is caught. Required-ness is left out on
purpose: relevance makes it conditional, so `core.records.validation` decides it per record. Shared
constraints are added here rather than in each field type, so plugin types get them for free.
"""
from __future__ import annotations

from typing import Any

from core.formlang.formmodel import Field, Form
from core.registry import Registry

DRAFT = "https://json-schema.org/draft/2020-12/schema"


def field_schema(form: Form, field: Field, registry: Registry) -> dict[str, Any]:
    """The JSON Schema of one field's value (an unknown type accepts anything: the loader reports it)."""
    ft = registry.field_types.get(field.type)
    if ft is None:
        return {}
    schema = dict(ft.json_schema(field))
    if getattr(ft, "format", None):
        schema["format"] = ft.format
    numeric = schema.get("type") in ("integer", "number")
    if numeric and field.min is not None:
        schema["minimum"] = field.min
    if numeric and field.max is not None:
        schema["maximum"] = field.max
    if schema.get("type") == "string":
        if field.min_length is not None:
            schema["minLength"] = field.min_length
        if field.max_length is not None:
            schema["maxLength"] = field.max_length
        if field.pattern:
            schema["pattern"] = field.pattern
    choices = [v for v, _ in form.choices_for(field)]
    if choices and schema.get("type") == "array":
        schema["items"] = {**schema.get("items", {}), "enum": choices}
    elif choices:
        schema["enum"] = choices
    if field.fields:
        schema["type"] = "array"
        schema["items"] = object_schema(form, field.fields, registry)
        if field.min_rows is not None:
            schema["minItems"] = field.min_rows
        if field.max_rows is not None:
            schema["maxItems"] = field.max_rows
    return schema


def object_schema(form: Form, fields: list[Field], registry: Registry) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {f.id: field_schema(form, f, registry) for f in fields},
        "additionalProperties": False,
    }


def compile_form(form: Form, registry: Registry) -> dict[str, Any]:
    """The JSON Schema for `record["data"]` under this form (and version, and town overlay)."""
    schema = object_schema(form, form.top_fields(), registry)
    return {"$schema": DRAFT, "$id": f"carebook:{form.id}:v{form.version}",
            "title": form.title, **schema}
