"""What an exporter is handed, and the masking rule every exporter shares.

Personal fields (`pii`) are masked unless the user asked for `full`; the engine records a full
export in the history. Masking lives here, not in each exporter, so no exporter can forget it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable


def mask_value(kind: str | None, value: Any) -> Any:
    """Mask one personal value: ID 120107********0032, phone 138****5678, address cut."""
    if value in (None, "") or not kind:
        return value
    s = str(value)
    if kind == "id":
        return s[:6] + "*" * max(len(s) - 10, 0) + s[-4:] if len(s) > 10 else "*" * len(s)
    if kind == "phone":
        return s[:3] + "****" + s[-4:] if len(s) >= 8 else "*" * len(s)
    if kind == "address":
        return s[:6] + "…" if len(s) > 6 else s
    if kind == "name":
        return s
    return "***"


@dataclass
class ExportJob:
    what: str                      # "roster" | "summary" | "records" | "form"
    output: Path                   # a file, or a folder for exporters that write several files
    engine: Any                    # core.engine.Engine
    full: bool = False             # personal fields in full (recorded in the history)
    params: dict[str, Any] = field(default_factory=dict)   # quarter, town, village, record_id, form
    progress: Callable[[int, int | None], None] | None = None   # rows done, rows total

    def mask(self, kind: str | None, value: Any) -> Any:
        return value if self.full else mask_value(kind, value)
