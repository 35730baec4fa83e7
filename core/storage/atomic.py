"""Crash-safe file writes.

TinyDB's own `JSONStorage` truncates and rewrites the file in place, so a crash or power cut
mid-write leaves a cut-off file. Here every file is written to a temporary sibling, flushed and
fsync'd, then swapped in with `os.replace` (atomic on POSIX and NTFS), and the folder is fsync'd
so the rename itself survives a power cut. A reader therefore sees the old file or the new one,
never half of each.
"""
from __future__ import annotations

import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

TMP_SUFFIX = ".tmp"
_IS_WINDOWS = sys.platform == "win32"


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON with Chinese kept as text (readable, and a third smaller than \\u escapes)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable. Windows cannot open folders, and NTFS journals renames."""
    if _IS_WINDOWS:
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _replace(src: Path, dst: Path) -> None:
    # On Windows a reader holding `dst` open for a moment makes the replace fail; wait it out.
    for attempt in range(20):
        try:
            os.replace(src, dst)
            return
        except PermissionError:
            if not _IS_WINDOWS or attempt == 19:
                raise
            time.sleep(0.05)


def write_bytes(path: Path, data: bytes, sync_dir: bool = True) -> None:
    """Replace `path` with `data` atomically and durably (temp file in the same folder).

    `sync_dir=False` leaves the folder fsync to the caller's next write in the same folder
    (a save replaces a village file and then its index: one folder fsync covers both).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}{TMP_SUFFIX}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        _replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if sync_dir:
        fsync_dir(path.parent)


def append_lines(path: Path, lines: list[bytes]) -> None:
    """Append whole lines and fsync.

    A crash mid-append can leave a last line without its newline; the next append starts on a
    fresh line so that the cut-off entry stays the only casualty (readers skip it).
    """
    new_file = not path.exists()
    if new_file:
        path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab+") as fh:
        prefix = b""
        end = fh.seek(0, os.SEEK_END)
        if end:
            fh.seek(end - 1)
            if fh.read(1) != b"\n":
                prefix = b"\n"
        fh.write(prefix + b"".join(line + b"\n" for line in lines))
        fh.flush()
        os.fsync(fh.fileno())
    if new_file:
        fsync_dir(path.parent)


def remove_stale_temps(folder: Path) -> None:
    """Delete temp files a crash left behind (only ever called while holding the lock)."""
    if folder.is_dir():
        for tmp in folder.glob(f".*{TMP_SUFFIX}"):
            tmp.unlink(missing_ok=True)
