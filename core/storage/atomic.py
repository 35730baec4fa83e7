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
from concurrent.futures import ThreadPoolExecutor
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


def stage(path: Path, data: bytes) -> Path:
    """Write `data` to a new temp file beside `path` (not yet fsync'd); returns the temp path.

    Staged files are made durable together by `commit`. Size, mtime and inode of the temp file
    are already those `path` will have after the rename (an index records them).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}{TMP_SUFFIX}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDWR | getattr(os, "O_BINARY", 0))  # Windows flushes only writable handles
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# Threads start on first use; three, with the caller, cover a save's four files (a village file
# and its index, its rollup's two).
_syncer = ThreadPoolExecutor(max_workers=3, thread_name_prefix="carebook-fsync")


def commit(staged: list[tuple[Path, Path]], sync_dir: bool = True) -> None:
    """fsync every staged `(temp, path)` at once, then rename each over its path, in order.

    The fsyncs run side by side because each one waits for the disk (~1-8 ms here, more when
    other programs write): a save that makes a village file and its index durable pays for
    one wait, not two. Nothing is renamed before every temp file is on disk, and the folder
    fsync(s) after the renames make them durable. On failure every temp file is removed.
    """
    try:
        if len(staged) > 1:
            waits = [_syncer.submit(_fsync_path, tmp) for tmp, _ in staged[1:]]
            _fsync_path(staged[0][0])
            for w in waits:
                w.result()
        elif staged:
            _fsync_path(staged[0][0])
        for tmp, path in staged:
            _replace(tmp, path)
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    if sync_dir:
        for folder in dict.fromkeys(path.parent for _, path in staged):
            fsync_dir(folder)


def write_bytes(path: Path, data: bytes, sync_dir: bool = True) -> None:
    """Replace `path` with `data` atomically and durably (temp file in the same folder).

    `sync_dir=False` leaves the folder fsync to the caller's next write in the same folder.
    """
    commit([(stage(path, data), path)], sync_dir)


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
