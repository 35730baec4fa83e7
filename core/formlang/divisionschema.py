"""The division file (`forms/data/divisions.yaml`) checked against its own meta-schema.

The file is data an admin edits by hand, like a form file, and the UI reads it at start. Its
shape (which keys, quoted 12-digit codes, town codes ending in 000, "YYYY-MM-DD" dates,
`confirmed: true/false`) is stated once in `core/schemas/divisions.schema.json` — which an
editor can also use while the admin types — and checked here with the form files' located
Chinese messages (FILE:LINE:COL at the key or value concerned, YAML 1.1 look-alikes named).
What a schema cannot say (a village under the wrong town's prefix, duplicate codes, valid_to
before valid_from) stays with the plugin that reads the file (`plugins/cn/divisions.py`).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from functools import lru_cache
from pathlib import Path

from core.problems import Problem

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schemas" / "divisions.schema.json"


@lru_cache(maxsize=1)
def _schema_text() -> str:
    return SCHEMA_PATH.read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _validator():
    from jsonschema import Draft202012Validator   # imported only when a file is actually checked

    return Draft202012Validator(json.loads(_schema_text()))


def check_divisions_file(path: Path, display: str | None = None) -> list[Problem]:
    """Meta-schema problems of one division file (located, Chinese); [] when it conforms.
    Remembered by the file's bytes, so an engine's open does not import jsonschema for it."""
    from core.formlang.yamlload import cache_get, cache_put, load_file

    name = display or str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError:
        raw = None
    key = None
    if raw is not None:
        h = hashlib.sha256(raw + b"\0" + _schema_text().encode("utf-8") + b"\0" + name.encode("utf-8"))
        key = "divisions-meta-" + h.hexdigest()[:40]
        found = cache_get(key)
        if isinstance(found, list):
            return found
    doc = load_file(Path(path), name)
    problems = list(doc.problems) if doc.problems or doc.data is None else _meta(doc)
    if key:
        cache_put(key, problems)
    return problems


def _meta(doc) -> list[Problem]:
    """Each schema error in the form files' words; a wrong type also says what the value
    should look like (the schema's description: "代码必须写成带引号的字符串，例如 …")."""
    from core.formlang.metaschema import _translate

    view = doc.yaml11_view()
    out = []
    for err in _validator().iter_errors(view):
        p = _translate(err, doc, view)
        desc = err.schema.get("description") if isinstance(err.schema, dict) else None
        if err.validator == "type" and desc:
            p = dataclasses.replace(p, message=p.message.replace(" (type)", f"。{desc} (type)"))
        out.append(p)
    return sorted(out, key=lambda p: (p.line or 0, p.col or 0))
