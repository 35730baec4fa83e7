"""Drafts: what staff typed into a form, kept so a crash or a closed window loses at most one
field. One small JSON file per form and record (``new`` for a record not saved yet) in the
desk's ``drafts/`` folder; a file that cannot be read is no draft rather than an error.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from core.problems import CarebookError

_SAFE = re.compile(r"[A-Za-z0-9_.-]+")


class Drafts:
    """The drafts of one data folder (or desk folder of a server ledger)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder) / "drafts"

    def path(self, form_id: str, record_id: str | None) -> Path:
        """The draft file; an id that could leave the folder (``../``) is refused."""
        parts = (form_id, record_id or "new")
        if not all(isinstance(p, str) and _SAFE.fullmatch(p) and p not in (".", "..") for p in parts):
            raise CarebookError(f"草稿的表单或记录编号无效：{form_id!r} {record_id!r}")
        return self.folder / f"{parts[0]}--{parts[1]}.json"

    def save(self, form_id: str, record_id: str | None, data: dict[str, Any], at: str) -> None:
        from core.storage.atomic import dumps, write_bytes

        write_bytes(self.path(form_id, record_id),
                    dumps({"form": form_id, "record": record_id, "at": at, "data": data}))

    def load(self, form_id: str, record_id: str | None) -> dict[str, Any] | None:
        try:
            found = json.loads(self.path(form_id, record_id).read_text(encoding="utf-8"))["data"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return found if isinstance(found, dict) else None

    def drop(self, form_id: str, record_id: str | None) -> None:
        self.path(form_id, record_id).unlink(missing_ok=True)
