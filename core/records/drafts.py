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

_FORM_ID = re.compile(r"[a-z][a-z0-9_]{0,63}")
_RECORD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def check_ids(form_id: Any, record_id: Any = None) -> None:
    """A form id and record id safe to put in a file name (no `/`, `..`, NUL, drive letters)."""
    if not isinstance(form_id, str) or not _FORM_ID.fullmatch(form_id):
        raise CarebookError(f"表单编号不合规：{form_id!r}")
    if record_id is not None and (not isinstance(record_id, str) or not _RECORD_ID.fullmatch(record_id)):
        raise CarebookError(f"记录编号不合规：{record_id!r}")


class Drafts:
    """The drafts of one data folder (or desk folder of a server ledger)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder) / "drafts"

    def path(self, form_id: str, record_id: str | None) -> Path:
        """The draft file; an id that could leave the folder (``../``) is refused."""
        check_ids(form_id, record_id)
        return self.folder / f"{form_id}--{record_id or 'new'}.json"

    def save(self, form_id: str, record_id: str | None, data: dict[str, Any], at: str) -> None:
        from core.storage.atomic import dumps, write_bytes

        write_bytes(self.path(form_id, record_id),
                    dumps({"form": form_id, "record": record_id, "at": at, "data": data}))

    def load(self, form_id: str, record_id: str | None) -> dict[str, Any] | None:
        try:
            found = json.loads(self.path(form_id, record_id).read_text(encoding="utf-8"))["data"]
        except (OSError, ValueError, KeyError, TypeError, RecursionError):   # damaged or not ours
            return None
        return found if isinstance(found, dict) else None

    def drop(self, form_id: str, record_id: str | None) -> None:
        self.path(form_id, record_id).unlink(missing_ok=True)
