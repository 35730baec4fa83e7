"""The division file (`data/divisions.yaml`) checked with the form files.

It is data an admin edits like a form file, and the UI reads it at start: an unquoted code or
a village under the wrong town must be reported by `forms check` (file, line, Chinese), and
must make a load fall back to the last good set rather than reach staff. The checks themselves
(quoted 12-digit codes, town prefixes, duplicates, dates) belong to the plugin that registers
the `divisions` data set; core asks it through the registry, for an engine or for a folder.
"""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from core.problems import CarebookError, Problem


def _registry(source):
    if isinstance(source, (str, Path)):
        from core.plugins import build_registry, load_plugins

        # The registering hooks read `engine.forms_dir` (each engine its own division file).
        return build_registry(load_plugins(), engine=SimpleNamespace(forms_dir=Path(source)))
    return source.registry


def divisions_of(source):
    """The division list of an engine's folder, or of a forms folder; raises CarebookError
    (with `.problems` when the file does not check)."""
    get = _registry(source).data.get("divisions")
    if get is None:
        raise CarebookError("没有插件提供区划数据 divisions")
    return get()


def division_problems(source) -> list[Problem]:
    """Problems of `<forms folder>/data/divisions.yaml` ([] when the folder has none): first its
    meta-schema (`core.formlang.divisionschema`, FILE:LINE:COL at the key or value), then what
    the plugin reading it finds beyond the schema (prefixes, duplicates, date order), each line
    reported once."""
    from core.formlang.divisionschema import check_divisions_file

    folder = Path(source) if isinstance(source, (str, Path)) else Path(source.forms_dir)
    path = folder / "data" / "divisions.yaml"
    if not path.exists():
        return []
    name = f"{folder.name}/data/divisions.yaml"
    out = check_divisions_file(path, name)
    try:
        divisions_of(source)
    except CarebookError as exc:
        found = getattr(exc, "problems", None) or [Problem(str(exc))]
        seen = {p.line for p in out if p.is_error}
        out += [Problem(p.message, p.path, name, p.line, p.col, p.severity, p.rule or "divisions")
                for p in found if p.line is None or p.line not in seen]
    return sorted(out, key=lambda p: (p.line or 0, p.col or 0))
