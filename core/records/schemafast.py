"""A compiled yes/no check in front of jsonschema's validator.

jsonschema walks the schema for every record and spends about half of a bulk save (demo,
import, re-evaluation) doing it. Nearly every record a clerk or the demo saves is valid, and
for those only the answer "valid" is needed, not the errors. fastjsonschema turns the same
schema into straight-line Python, which answers that question an order of magnitude faster.
When it says "invalid" (or cannot compile a schema), the full jsonschema validator runs as
before, so every message staff see still comes from one place (`Validator._schema_message`).

Only keywords that mean the same in draft-07 and 2020-12 appear in compiled forms (type, enum,
format, pattern, min/max, items with one schema, properties, additionalProperties, if/then);
the fast check is compiled as draft-07 with the engine's own format functions, and
`tests/test_schemafast.py` holds both answers equal over demo records and broken ones.

A form's schema is an object of properties and nothing else (`_by_property`): a record is
valid when every key is a property and every value valid under its own schema. Each property
is then compiled alone and its answers remembered per value — an import's 50,000 records
repeat a few hundred dates and a handful of choices — except where its schema names a format
that reads more than the value (an ID number's birth date against today, a division code
against the division file): a format function says it reads only the value with
`pure = True`. "Invalid" is never trusted from here anyway (jsonschema then answers).
"""
from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:                    # a type only: reports never load jsonschema
    from jsonschema import FormatChecker

FastCheck = Callable[[Any], bool]
DRAFT7 = "http://json-schema.org/draft-07/schema#"
MEMO_LIMIT = 4096                    # values remembered per property
_ANNOTATIONS = {"$schema", "$id", "title", "description", "$comment"}


def compile_fast(schema: dict, checker: FormatChecker) -> FastCheck | None:
    """`check(data) -> True` when `data` is valid under `schema`; None if it cannot be compiled."""
    try:
        import fastjsonschema
    except ImportError:            # the fast path is an optimisation, never a requirement
        return None
    formats = {name: _format(checker, name) for name in checker.checkers}
    pure = {name for name in checker.checkers if getattr(checker.checkers[name][0], "pure", False)}
    try:
        return _by_property(schema, formats, pure) or _whole(schema, formats)
    except Exception:  # noqa: BLE001 - any schema it cannot compile keeps the full validator
        return None


def _compiled(schema: dict, formats: dict) -> Callable[[Any], Any]:
    import fastjsonschema

    draft7 = copy.deepcopy(schema)
    draft7["$schema"] = DRAFT7
    draft7.pop("$id", None)        # our ids are not URLs; fastjsonschema would try to resolve them
    return fastjsonschema.compile(draft7, formats=formats, use_default=False)


def _answer(validate: Callable[[Any], Any]) -> FastCheck:
    import fastjsonschema

    error = fastjsonschema.JsonSchemaException

    def check(data: Any) -> bool:
        try:
            validate(data)
        except error:
            return False
        except Exception:  # noqa: BLE001 - odd data the compiled code trips on: ask jsonschema
            return False
        return True
    return check


def _whole(schema: dict, formats: dict) -> FastCheck:
    return _answer(_compiled(schema, formats))


def _by_property(schema: dict, formats: dict, pure: set[str]) -> FastCheck | None:
    """The check of an object schema made of `properties` (and `additionalProperties: false`)
    only, one property at a time (`_part`); None for any other shape."""
    props = schema.get("properties")
    if (set(schema) - _ANNOTATIONS != {"type", "properties", "additionalProperties"} or schema["type"] != "object"
            or schema["additionalProperties"] is not False or not isinstance(props, dict)
            or not all(isinstance(sub, dict) for sub in props.values())):
        return None
    checks = {name: _part(sub, formats, pure) for name, sub in props.items()}
    # a text's remembered answer read here, without a call: most values of a record are that
    known = {name: memo for name, check in checks.items() if (memo := getattr(check, "memo", None)) is not None}

    def valid(data: Any) -> bool:
        if type(data) is not dict:
            return False               # jsonschema says what is wrong with it
        for key, value in data.items():
            if type(value) is str and known.get(key, _NO_MEMO).get(value) is True:
                continue
            check = checks.get(key)
            if check is None or not check(value):
                return False
        return True
    return valid


_NO_MEMO: dict = {}


def _part(schema: dict, formats: dict, pure: set[str]) -> FastCheck:
    """One property's check: answers remembered per value when its formats read only the
    value; rows (an array of objects) checked cell by cell, so that the cells that can be
    remembered are; plain text with at most a length limit checked here in Python."""
    keys = set(schema) - _ANNOTATIONS
    if schema.get("type") == "string" and keys <= {"type", "maxLength", "minLength"} and \
            all(type(schema.get(k, 0)) is int for k in ("maxLength", "minLength")):
        low, high = schema.get("minLength", 0), schema.get("maxLength")
        return lambda value: type(value) is str and low <= len(value) and (high is None or len(value) <= high)
    if _formats_in(schema) <= pure:
        return _remembering(_answer(_compiled(schema, formats)))
    rows = _by_property(schema["items"], formats, pure) if (
        schema.get("type") == "array" and keys <= {"type", "items", "minItems", "maxItems"}
        and isinstance(schema.get("items"), dict)
        and all(type(schema.get(k, 0)) is int for k in ("minItems", "maxItems"))) else None
    if rows is None:
        return _answer(_compiled(schema, formats))
    low, high = schema.get("minItems", 0), schema.get("maxItems")

    def each(value: Any) -> bool:
        if type(value) is not list or len(value) < low or (high is not None and len(value) > high):
            return False
        for row in value:
            if not rows(row):
                return False
        return True
    return each


def _formats_in(schema: Any) -> set[str]:
    """Every format a schema names, at any depth."""
    found: set[str] = set()
    if isinstance(schema, dict):
        if isinstance(schema.get("format"), str):
            found.add(schema["format"])
        for value in schema.values():
            found |= _formats_in(value)
    elif isinstance(schema, list):
        for value in schema:
            found |= _formats_in(value)
    return found


def _memo_key(value: Any) -> Any:
    """A key telling apart every value a schema could judge differently, or None (not
    remembered): text is its own key, numbers carry their type (1, 1.0 and True are one dict
    key), lists of text become tuples; floats are never remembered (-0.0 == 0.0)."""
    kind = type(value)
    if kind is str:
        return value
    if kind is int or kind is bool:
        return (kind, value)
    if kind is list and all(type(x) is str for x in value):
        return (list, tuple(value))
    return None


def _remembering(check: FastCheck) -> FastCheck:
    memo: dict[Any, bool] = {}

    def remembered(value: Any) -> bool:
        key = value if type(value) is str else _memo_key(value)
        if key is None:
            return check(value)
        found = memo.get(key)
        if found is None:
            found = check(value)
            if len(memo) < MEMO_LIMIT:
                memo[key] = found
        return found
    remembered.memo = memo             # type: ignore[attr-defined]
    return remembered


def _format(checker: FormatChecker, name: str) -> Callable[[Any], bool]:
    """`checker.conforms(value, name)` without its per-call lookups (a bulk save asks it a
    million times): the registered function, its listed exceptions meaning "does not conform"."""
    func, raises = checker.checkers[name]

    def conforms(value: Any) -> bool:
        try:
            return bool(func(value))
        except raises:
            return False
    return conforms
