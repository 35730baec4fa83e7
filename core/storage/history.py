"""Append-only change history, one JSON line per save, one file per partition.

Lines are only ever appended and fsync'd, so a crash can at worst cut off the last line; readers
skip any line that does not parse. Each line carries the record id (`_id`), the save time
(`_t`, orders entries of a record that moved between villages) and, after a move, the village it
came from (`_from`), so a record's history is found by following its moves.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from . import atomic

ID_KEY, TIME_KEY, FROM_KEY = "_id", "_t", "_from"


def line(rid: str, t: int, entry: dict[str, Any], moved_from: str | None) -> bytes:
    """Serialise before any data file is touched, so a bad entry fails the save early."""
    doc = {ID_KEY: rid, TIME_KEY: t, **entry}
    if moved_from is not None:
        doc[FROM_KEY] = moved_from
    return atomic.dumps(doc)


def append(path: Path, lines: list[bytes]) -> None:
    if lines:
        atomic.append_lines(path, lines)


def read(path: Path, rid: str | None = None) -> list[dict[str, Any]]:
    """Entries of `rid` (or all) in file order; half-written or foreign lines are skipped."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    needle = json.dumps(rid, ensure_ascii=False).encode("utf-8") if rid is not None else b""
    out = []
    for text in raw.split(b"\n"):
        if not text or needle not in text:
            continue
        try:
            doc = json.loads(text.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            continue
        if isinstance(doc, dict) and (rid is None or doc.get(ID_KEY) == rid):
            out.append(doc)
    return out


def public(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in (ID_KEY, TIME_KEY, FROM_KEY)}
