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

from core.records.validationplan import learn, memo_key

if TYPE_CHECKING:                    # a type only: reports never load jsonschema
    from jsonschema import FormatChecker

FastCheck = Callable[[Any], bool]
DRAFT7 = "http://json-schema.org/draft-07/schema#"
_ANNOTATIONS = {"$schema", "$id", "title", "description", "$comment"}


def compile_fast(schema: dict, checker: FormatChecker) -> FastCheck | None:
    """`check(data) -> True` when `data` is valid under `schema`; None if it cannot be compiled.
    `checker`: a FormatChecker, or anything with its `checkers` (`validation.format_checks`)."""
    from importlib.util import find_spec

    if find_spec("fastjsonschema") is None:    # the fast path is an optimisation, never a requirement
        return None                            # (asked without importing it: most checks never compile)
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
    known = {name: held for name, check in checks.items() if (held := getattr(check, "held", None)) is not None}
    # a free text with a length limit and nothing else (names, addresses: all different, not
    # remembered) judged here by its length, as `_simple`'s check would
    lengths = {name: (sub.get("minLength", 0), sub["maxLength"]) for name, sub in props.items()
               if set(sub) - _ANNOTATIONS in ({"type", "maxLength"}, {"type", "maxLength", "minLength"})
               and sub["type"] == "string" and _ints(sub, "maxLength", "minLength")}

    def valid(data: Any) -> bool:
        if type(data) is not dict:
            return False               # jsonschema says what is wrong with it
        for key, value in data.items():
            if type(value) is str:
                held = known.get(key)
                if held is not None and held[1].get(value) is True:
                    held[2] += 1       # asked, as `remembered` counts (its memory is judged by it)
                    continue
                bounds = lengths.get(key)
                if bounds is not None:
                    if bounds[0] <= len(value) <= bounds[1]:
                        continue
                    return False
            check = checks.get(key)
            if check is None or not check(value):
                return False
        return True
    return valid



def _part(schema: dict, formats: dict, pure: set[str]) -> FastCheck:
    """One property's check: a plain one (`_simple`) in Python, any other compiled when first
    asked (a single save should not compile sixty); answers remembered per value when it names
    formats that all read only the value; rows (an array of objects) checked cell by cell, so
    that the cells that can be remembered are."""
    keys = set(schema) - _ANNOTATIONS
    named = _formats_in(schema)
    rows = _by_property(schema["items"], formats, pure) if (
        named - pure and schema.get("type") == "array" and keys <= {"type", "items", "minItems", "maxItems"}
        and isinstance(schema.get("items"), dict) and _ints(schema, "minItems", "maxItems")) else None
    if rows is not None:
        low, high = schema.get("minItems", 0), schema.get("maxItems")

        def each(value: Any) -> bool:
            if type(value) is not list or len(value) < low or (high is not None and len(value) > high):
                return False
            for row in value:
                if not rows(row):
                    return False
            return True
        return each
    check = _simple(schema, formats) or _later(schema, formats)
    # remembered where values repeat and the answer reads only the value: choices, and dates
    # or phones (free text with a length limit is all different values, and cheap to check)
    return _remembering(check) if named <= pure and (named or _has(schema, "enum")) else check


def _ints(schema: dict, *keys: str) -> bool:
    return all(type(schema.get(k, 0)) is int for k in keys)


def _numbers(schema: dict, *keys: str) -> bool:
    return all(type(schema.get(k, 0)) in (int, float) for k in keys)


def _simple(schema: dict, formats: dict) -> FastCheck | None:
    """A check in Python for the few shapes a form's fields compile to, or None. Stricter than
    JSON Schema where that is simpler (1.0 is not taken as an integer, a str subclass not as
    text): a False only sends the record to jsonschema, which says what is wrong, if anything."""
    keys = set(schema) - _ANNOTATIONS
    kind = schema.get("type")
    if kind == "string" and keys <= {"type", "enum", "maxLength", "minLength", "pattern", "format"}:
        enum = schema.get("enum")
        if enum is not None and not (isinstance(enum, list) and all(type(x) is str for x in enum)):
            return None
        if not _ints(schema, "maxLength", "minLength") or not isinstance(schema.get("pattern", ""), str):
            return None
        if "format" in schema and schema["format"] not in formats:
            return None
        import re

        choices = None if enum is None else frozenset(enum)
        low, high = schema.get("minLength", 0), schema.get("maxLength")
        pattern = re.compile(schema["pattern"]).search if "pattern" in schema else None
        conforms = formats[schema["format"]] if "format" in schema else None

        def text(value: Any) -> bool:
            return (type(value) is str and (choices is None or value in choices)
                    and low <= len(value) and (high is None or len(value) <= high)
                    and (pattern is None or pattern(value) is not None) and (conforms is None or conforms(value)))
        return text
    if kind in ("integer", "number") and keys <= {"type", "minimum", "maximum"} and _numbers(schema, "minimum", "maximum"):
        kinds = (int,) if kind == "integer" else (int, float)
        low, high = schema.get("minimum"), schema.get("maximum")
        return lambda value: (type(value) in kinds and (low is None or value >= low)
                              and (high is None or value <= high))
    if kind == "boolean" and keys == {"type"}:
        return lambda value: type(value) is bool
    if kind == "array" and keys <= {"type", "items", "uniqueItems", "minItems", "maxItems"} and \
            _ints(schema, "minItems", "maxItems") and isinstance(schema.get("items"), dict):
        item = _simple(schema["items"], formats)
        unique = schema.get("uniqueItems", False)
        if item is None or unique not in (True, False) or (unique and schema["items"].get("type") != "string"):
            return None
        low, high = schema.get("minItems", 0), schema.get("maxItems")

        def items(value: Any) -> bool:
            return (type(value) is list and low <= len(value) and (high is None or len(value) <= high)
                    and all(map(item, value)) and (not unique or len(set(value)) == len(value)))
        return items
    return None


def _later(schema: dict, formats: dict) -> FastCheck:
    """fastjsonschema's check of `schema`, compiled the first time it is asked."""
    made: list[FastCheck] = []

    def check(value: Any) -> bool:
        if not made:
            made.append(_answer(_compiled(schema, formats)))
        return made[0](value)
    return check


def _has(schema: Any, keyword: str) -> bool:
    """Whether a schema uses `keyword` at any depth."""
    if isinstance(schema, dict):
        return keyword in schema or any(_has(value, keyword) for value in schema.values())
    return isinstance(schema, list) and any(_has(value, keyword) for value in schema)


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


def _remembering(check: FastCheck) -> FastCheck:
    """`check` with its answers remembered per value, bounded and let go as cleaning's are
    (`validationplan.learn`): a property whose values do not repeat (phone numbers) stops
    remembering, one of choices keeps its handful."""
    held: list = [None, {}, 0, True]       # [unused, answers, values asked, still adding?]
    memo = held[1]

    def remembered(value: Any) -> bool:
        key = value if type(value) is str else memo_key(value)
        if key is None:
            return check(value)
        held[2] += 1
        found = memo.get(key)
        if found is None:
            found = check(value)
            if held[3]:
                learn(held, key, found)
        return found
    remembered.held = held             # type: ignore[attr-defined] - read by `_by_property`
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
