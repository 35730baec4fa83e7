"""The division file (`data/divisions.yaml`) checked with the form files.

It is data an admin edits like a form file, and the UI reads it at start: an unquoted code or
a village under the wrong town must be reported by `forms check` (file, line, Chinese), and
must make a load fall back to the last good set rather than reach staff. The checks themselves
(quoted 12-digit codes, town prefixes, duplicates, dates) live with the division plugin that
reads the file; this module only asks it about a given folder.
"""
from __future__ import annotations

from pathlib import Path

from core.problems import Problem


def division_problems(forms_dir: Path) -> list[Problem]:
    """Problems of `<forms_dir>/data/divisions.yaml` ([] when the folder has none)."""
    path = Path(forms_dir) / "data" / "divisions.yaml"
    if not path.exists():
        return []
    # The built-in division plugin owns the file's format (as `Engine.divisions` does).
    from plugins.cn.divisions import DivisionsError, load_divisions

    try:
        load_divisions(path)
    except DivisionsError as exc:
        name = f"{Path(forms_dir).name}/data/divisions.yaml"
        return [Problem(p.message, p.path, name, p.line, p.col, p.severity, p.rule or "divisions") for p in exc.problems]
    return []
