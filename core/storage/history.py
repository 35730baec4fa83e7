"""Append-only change history, one JSON line per save, one file per partition.

Lines are only ever appended and fsync'd, so a crash can at worst cut off the last line; readers
skip any line that does not parse. Each line carries the record id (`_id`) and the save time
(`_t`, which orders the entries of a record that moved between villages; the record itself
lists the villages whose files hold its entries, see `partfile`).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.storage import atomic

ID_KEY, TIME_KEY = "_id", "_t"


def line(rid: str, t: int, entry: dict[str, Any]) -> bytes:
    """Serialise before any data file is touched, so a bad entry fails the save early."""
    return atomic.dumps({ID_KEY: rid, TIME_KEY: t, **entry})


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
    return {k: v for k, v in doc.items() if k not in (ID_KEY, TIME_KEY)}
