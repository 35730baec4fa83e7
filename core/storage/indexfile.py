"""The small per-partition list files read at open.

Opening a ledger of 50,000 people must not parse 100 MB of records, so each partition has an
index file of list rows (name, town, risk ...). It is derived data: it records the size, mtime
and inode of the data file it describes, and when they no longer match (a crash between the two
writes of a save, a restored or copied data file) it is rebuilt from the data file, whose
documents carry their rows.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable

from . import atomic
from .partfile import HIST_KEY, ROW_KEY, TIME_KEY
from .tinyfile import CorruptFile, read_json

FORMAT = 1


def signature(data_path: Path) -> list[int] | None:
    try:
        st = os.stat(data_path)
    except FileNotFoundError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def load(index_path: Path, data_path: Path) -> dict[str, dict[str, Any]] | None:
    """Rows if the index is present and matches its data file; `None` means rebuild."""
    content = read_json(index_path)
    if content is None:
        return None
    if not (isinstance(content, dict) and isinstance(content.get("rows"), dict)):
        raise CorruptFile(index_path, "不是索引文件格式 (not an index file)")
    if content.get("format") != FORMAT or content.get("data") != signature(data_path):
        return None
    return content["rows"]


def rows_from_docs(docs: Iterable[dict[str, Any]], partition: str) -> dict[str, dict[str, Any]]:
    rows = {}
    for doc in docs:
        if isinstance(doc, dict) and isinstance(doc.get("id"), str):
            row = doc.get(ROW_KEY)
            rows[doc["id"]] = row = {**(row if isinstance(row, dict) else {}), TIME_KEY: doc.get(TIME_KEY, 0), "_p": partition}
            if isinstance(doc.get(HIST_KEY), list):
                row[HIST_KEY] = doc[HIST_KEY]
    return rows


def save(index_path: Path, data_path: Path, rows: dict[str, dict[str, Any]]) -> None:
    sig = signature(data_path)
    if sig is None:
        index_path.unlink(missing_ok=True)
        return
    atomic.write_bytes(index_path, atomic.dumps({"format": FORMAT, "data": sig, "rows": rows}), sync_dir=False)
