"""Crash-safe file writes, and the named durable steps a crash test can stop at.

TinyDB's own `JSONStorage` truncates and rewrites the file in place, so a crash or power cut
mid-write leaves a cut-off file. Here every file is written to a temporary sibling, flushed and
fsync'd, then swapped in with `os.replace` (atomic on POSIX and NTFS), and the folder is fsync'd
so the rename itself survives a power cut. A reader therefore sees the old file or the new one,
never half of each. Append-only files (journal, history, audit) are appended and fsync'd; a
cut-off last line (a crash mid-append) is cut away by the next writer before it appends, so it
never swallows the next entry.

`step(name)` marks each durable step. With `CAREBOOK_CRASH_AT=<name>:<n>` in the environment the
process ends (`os._exit`, no clean-up, like kill -9) at the n-th time it reaches that step; with
`CAREBOOK_CRASH_LOG=<file>` every step reached is appended to that file. The crash-point test
(`tests/test_storage_crashpoints.py`) lists the steps of each kind of save with the log, then
stops a save at every one of them.
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
_CRASH_AT = os.environ.get("CAREBOOK_CRASH_AT", "")
_CRASH_LOG = os.environ.get("CAREBOOK_CRASH_LOG", "")
_seen: dict[str, int] = {}


def step(name: str) -> None:
    """A durable step was just passed (see the module docstring); free unless a test asks."""
    if not (_CRASH_AT or _CRASH_LOG):
        return
    n = _seen[name] = _seen.get(name, 0) + 1
    if _CRASH_LOG:
        with open(_CRASH_LOG, "a", encoding="utf-8") as fh:
            fh.write(f"{name}:{n}\n")
    if _CRASH_AT == f"{name}:{n}":
        os._exit(86)


def _stdlib_dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


try:                    # a dependency (pyproject.toml), kept optional here for a source checkout without it
    import orjson as _orjson
    # dates, dataclasses and str/int/dict subclasses go to the standard library, which
    # refuses or writes them as it always did
    _OPTS = _orjson.OPT_PASSTHROUGH_DATETIME | _orjson.OPT_PASSTHROUGH_DATACLASS | _orjson.OPT_PASSTHROUGH_SUBCLASS
except ImportError:     # pragma: no cover - the standard library writes the same JSON
    _orjson, _OPTS = None, 0


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON with Chinese kept as text (readable, and a third smaller than \\u escapes).

    orjson, when installed, writes the same bytes some twenty times faster (a bulk save of
    300,000 records spent a tenth of its time here); what it refuses — integers beyond 64 bits,
    keys that are not strings — goes to the standard library as before. (The two differ only
    in how they spell very large or very small floats — 1e16 and beyond, 1.5e-07 against
orjson's 1.5e-7: the same number read back — and in NaN/infinity,
    which orjson writes as null: numbers refuse those before anything is stored.)"""
    if _orjson is not None:
        try:
            return _orjson.dumps(obj, option=_OPTS)
        except TypeError:           # orjson.JSONEncodeError is a TypeError
            pass
    return _stdlib_dumps(obj)


# every digit as 0, a minus kept, all else a space: an integer orjson would read as a float
# (beyond 64 bits) shows as twenty zeros, or a minus and nineteen (a scan of ~1 ms per MB)
_DIGITS = bytes(48 if 48 <= i <= 57 else (45 if i == 45 else 32) for i in range(256))
_WIDE, _WIDE_NEGATIVE = b"0" * 20, b"-" + b"0" * 19


def loads(raw: bytes) -> Any:
    """The value of JSON bytes; orjson, when installed, parses them two to three times faster
    than the standard library (reading the village files was a quarter of a 50,000-person
    migration). orjson reads an integer beyond 64 bits as a float, so bytes holding a run of
    twenty digits (or a minus and nineteen) go to the standard library; so does what orjson
    refuses (NaN, lone surrogates, bytes that are not UTF-8), which then raises as before
    (`ValueError`, `UnicodeDecodeError`) for what is not JSON."""
    if _orjson is not None:
        digits = raw.translate(_DIGITS)
        if _WIDE not in digits and _WIDE_NEGATIVE not in digits:
            try:
                return _orjson.loads(raw)
            except _orjson.JSONDecodeError:          # a ValueError
                pass
    return json.loads(raw.decode("utf-8"))


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

    `sync_dir=False` leaves the folder fsync to the caller's next write in the same folder.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}{TMP_SUFFIX}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        step("file-synced")
        _replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    step("file-renamed")
    if sync_dir:
        fsync_dir(path.parent)


def whole_lines(fh: Any) -> int:
    """Cut a cut-off last line from an append-only file open for update; returns its length.

    Only a writer holding the lock calls this: a line without its newline is an append that
    never finished (it was never acknowledged).
    """
    end = fh.seek(0, os.SEEK_END)
    if end == 0:
        return 0
    fh.seek(max(0, end - 1))
    if fh.read(1) == b"\n":
        return end
    back = min(end, 1 << 20)
    fh.seek(end - back)
    tail = fh.read(back)
    cut = tail.rfind(b"\n")
    keep = end - back + cut + 1 if cut >= 0 else (0 if back == end else end)
    fh.truncate(keep)
    return keep


def append_lines(path: Path, lines: list[bytes], sync: bool = True, sync_dir: bool = True) -> None:
    """Append whole lines (cutting a cut-off last line first) and fsync. `sync_dir=False`: a
    new file's folder is left for the caller to fsync (as `write_bytes`)."""
    new_file = not path.exists()
    if new_file:
        path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab+") as fh:
        whole_lines(fh)
        fh.seek(0, os.SEEK_END)
        fh.write(b"".join(line + b"\n" for line in lines))
        fh.flush()
        step("append-written")
        if sync:
            os.fsync(fh.fileno())
    if new_file and sync and sync_dir:
        fsync_dir(path.parent)
    step("append-synced")


def remove_stale_temps(folder: Path) -> None:
    """Delete temp files a crash left behind (only ever called while holding the lock)."""
    if folder.is_dir():
        for tmp in folder.glob(f".*{TMP_SUFFIX}"):
            tmp.unlink(missing_ok=True)
