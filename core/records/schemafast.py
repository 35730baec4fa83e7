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
"""
from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:                    # a type only: reports never load jsonschema
    from jsonschema import FormatChecker

FastCheck = Callable[[Any], bool]


def compile_fast(schema: dict, checker: FormatChecker) -> FastCheck | None:
    """`check(data) -> True` when `data` is valid under `schema`; None if it cannot be compiled."""
    try:
        import fastjsonschema
    except ImportError:            # the fast path is an optimisation, never a requirement
        return None
    draft7 = copy.deepcopy(schema)
    draft7["$schema"] = "http://json-schema.org/draft-07/schema#"
    draft7.pop("$id", None)        # our ids are not URLs; fastjsonschema would try to resolve them
    formats = {name: _format(checker, name) for name in checker.checkers}
    try:
        validate = fastjsonschema.compile(draft7, formats=formats, use_default=False)
    except Exception:  # noqa: BLE001 - any schema it cannot compile keeps the full validator
        return None
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
