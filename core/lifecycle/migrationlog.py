"""Which migrations a ledger has had — kept with the ledger, not with the desk that ran them.

A migration rewrites stored records once; running it a second time, or `forms check` asking
for a migration already done, must not depend on which desk an admin sits at. A data folder
keeps the list in `<data>/lifecycle/migrations.jsonl` beside its records. A server ledger's
records are not on any desk, so its list is in the server's insert-only `audit` table (an
entry with action 执行迁移 holding the same fields as a line of the folder's file): a second
admin desk sees that the first applied it, and nobody but the server's owner can rewrite it.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

LOG = Path("lifecycle") / "migrations.jsonl"
ACTION = "执行迁移"


def _on_server(engine: Any) -> bool:
    return hasattr(engine.store, "audit_log")


def applied(engine: Any) -> dict[str, dict]:
    """{migration id: its log entry} for every migration applied to this ledger."""
    if _on_server(engine):
        entries = [e.get("migration") for e in engine.store.audit_log() if e.get("action") == ACTION]
        return {e["id"]: e for e in entries if isinstance(e, dict) and isinstance(e.get("id"), str)}
    path = Path(engine.data_dir) / LOG
    out: dict[str, dict] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
                out[entry["id"]] = entry
            except (ValueError, KeyError, TypeError):
                continue
    return out


def record(engine: Any, entry: dict) -> None:
    """Add one applied migration (`entry`: id, at, operator, form, reason, changes …)."""
    if _on_server(engine):
        engine.store.append_audit({"at": entry.get("at"), "operator": entry.get("operator"), "action": ACTION,
                                   "migration": entry})
        return
    from core.storage.atomic import append_lines

    path = Path(engine.data_dir) / LOG
    path.parent.mkdir(parents=True, exist_ok=True)
    append_lines(path, [json.dumps(entry, ensure_ascii=False).encode("utf-8")])
