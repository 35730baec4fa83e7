"""The small per-partition list files read at open.

Opening a ledger of 50,000 people must not parse 100 MB of records, so each partition has an
index file of list rows (name, town, risk ...). It is derived data: it records the size, mtime
and inode of the data file it describes, and when they no longer match (a crash between the two
writes of a save, a restored or copied data file) it is rebuilt from the data file, whose
documents carry their rows.

It also keeps the data file's layout (size, CRC-32, byte span of each document, see
`tinyfile.Documents.encode`): open drops it, and the first save to a village reads it again so the
save can cut the data file into documents instead of parsing it (~20% more to parse at open,
against ~10 ms saved on each first save to a village).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable

from . import atomic
from .partfile import HIST_KEY, ROW_KEY, TIME_KEY
from .tinyfile import CorruptFile, read_json, record_id

FORMAT = 2


def signature(data_path: Path) -> list[int] | None:
    """Size and mtime; the same for a temp file and the file it is renamed to.

    Not the inode: a ledger copied with its times kept (`cp -a`, a restored backup, another
    PC) must not look changed, or every village would be parsed again — and on each read-only
    open, since those never rewrite an index.
    """
    try:
        st = os.stat(data_path)
    except FileNotFoundError:
        return None
    return [st.st_size, st.st_mtime_ns]


def load(index_path: Path, data_path: Path) -> dict[str, dict[str, Any]] | None:
    """Rows if the index is present and matches its data file; `None` means rebuild."""
    found = load_with_layout(index_path, data_path)
    return None if found is None else found[0]


def load_with_layout(index_path: Path, data_path: Path) -> tuple[dict[str, dict[str, Any]], Any] | None:
    """`load`, and the data file's layout from the same read (see `layout`)."""
    content = read_json(index_path)
    if content is None:
        return None
    if not (isinstance(content, dict) and isinstance(content.get("rows"), dict)):
        raise CorruptFile(index_path, "不是索引文件格式 (not an index file)")
    recorded = content.get("data")
    # Indexes written before the inode was dropped carry it third; size and mtime decide.
    if content.get("format") != FORMAT or not isinstance(recorded, list) or recorded[:2] != signature(data_path):
        return None
    return content["rows"], content.get("layout")


def layout(index_path: Path) -> Any:
    """The data file's layout as last written, or `None`.

    Not trusted by itself: `Documents.from_layout` uses it only when the data file's size and
    CRC-32 match it, so a damaged or stale index just means the file gets parsed.
    """
    try:
        content = read_json(index_path)
    except CorruptFile:
        return None
    return content.get("layout") if isinstance(content, dict) else None


def rows_from_docs(docs: Iterable[Any], partition: str) -> dict[str, dict[str, Any]]:
    rows = {}
    for doc in docs:
        rid = record_id(doc)
        if rid is not None:
            row = doc.get(ROW_KEY)
            rows[rid] = row = {**(row if isinstance(row, dict) else {}), TIME_KEY: doc.get(TIME_KEY, 0), "_p": partition}
            if isinstance(doc.get(HIST_KEY), list):
                row[HIST_KEY] = doc[HIST_KEY]
    return rows


def encode(sig: list[int], rows: dict[str, dict[str, Any]], data_layout: dict[str, Any] | None) -> bytes:
    return atomic.dumps({"format": FORMAT, "data": sig, "rows": rows, "layout": data_layout})


def save(index_path: Path, data_path: Path, rows: dict[str, dict[str, Any]],
         data_layout: dict[str, Any] | None) -> None:
    """Rewrite the index of an unchanged data file (after a rebuild)."""
    sig = signature(data_path)
    if sig is None:
        index_path.unlink(missing_ok=True)
        return
    atomic.write_bytes(index_path, encode(sig, rows, data_layout))
