"""Sealed files: a JSON file that carries the CRC-32 of its own bytes, and the TinyDB storage on it.

Why: damage that keeps a file's size and modification time (a changed digit) must be found
when the file is read, not months later. A village file is a TinyDB database whose last table,
`_seal`, holds the CRC-32 of every byte before it:

    {"_default":{"1":{...},"2":{...}},"_meta":{"1":{"counters":{...}}},"_seal":{"1":{"crc32":123}}}

Stock TinyDB reads it as three tables. `unseal` checks the CRC before anything is parsed; a file
without a seal (written by stock TinyDB or by carebook before seals) is parsed as it is. Index
files use the same envelope (their `_meta` names the CRC of the data file they were built from),
so one reader serves both.
"""
from __future__ import annotations

import contextlib
import json
import os
import zlib
from pathlib import Path
from typing import Any, Callable, Iterator

from tinydb.storages import Storage

from core.storage import atomic

TABLE, META, SEAL = "_default", "_meta", "_seal"
_SEAL_AT = b',"' + SEAL.encode() + b'":'


def _stdlib_parse(raw: bytes) -> Any:
    return json.loads(raw.decode("utf-8"))


# How a file's JSON is parsed. The standard library by default: the list rows and records a
# TUI session holds come from it, and orjson's parse (`atomic.loads`, 2–3× faster) measured
# 16 MB more TUI peak at 50,000 people (`bench_tui`, person file 238 → 256 MB, over the 250 MB
# target). orjson only where the parsed villages are transient: `quick_parse`.
_parse: Callable[[bytes], Any] = _stdlib_parse


@contextlib.contextmanager
def quick_parse() -> Iterator[None]:
    """Parse files with orjson (`atomic.loads`) for the duration: a command that reads every
    village once and lets it go (a migration: a quarter of its CPU was the standard parser)."""
    global _parse
    before, _parse = _parse, atomic.loads
    try:
        yield
    finally:
        _parse = before


class CorruptFile(Exception):
    """A file exists but is not what carebook wrote; the caller sets it aside."""

    def __init__(self, path: Path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def seal(tables: dict[str, Any]) -> bytes:
    """The file bytes of `tables` (compact UTF-8 JSON) followed by their CRC-32."""
    body = atomic.dumps({k: v for k, v in tables.items() if k != SEAL})
    head = body[:-1]
    crc = zlib.crc32(head)
    return head + _SEAL_AT + b'{"1":{"crc32":' + str(crc).encode() + b"}}}"


def unseal(path: Path, raw: bytes) -> tuple[dict[str, Any], int | None]:
    """(tables, CRC) of a sealed file; CRC `None` for an unsealed one. Raises `CorruptFile`."""
    at = raw.rfind(_SEAL_AT)
    crc = None
    if at >= 0:
        try:
            crc = json.loads(raw[at + len(_SEAL_AT):-1])["1"]["crc32"]
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            raise CorruptFile(path, "校验信息损坏") from None
        if zlib.crc32(memoryview(raw)[:at]) != crc:
            raise CorruptFile(path, "校验和不符，文件内容被改动或损坏")
        raw = raw[:at] + b"}"
    try:
        tables = _parse(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise CorruptFile(path, f"{type(exc).__name__}: {exc}") from None
    if not isinstance(tables, dict) or not all(isinstance(t, dict) for t in tables.values()):
        raise CorruptFile(path, "不是 TinyDB 数据库格式 (not a TinyDB database)")
    if SEAL in tables:
        raise CorruptFile(path, "校验信息损坏")
    return tables, crc


def read(path: Path, sealed_only: bool = False) -> tuple[dict[str, Any], int | None] | None:
    """`unseal` of the file at `path`; `None` when it does not exist (or, `sealed_only`, has no
    seal: an index written before seals, which is simply rebuilt)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    if sealed_only and raw.rfind(_SEAL_AT) < 0 and raw.startswith(b'{"format":'):
        return None
    return unseal(path, raw)


def crc_of(path: Path) -> int | None:
    """The CRC a sealed file records, read from its last bytes only (`None`: missing or unsealed).

    Enough to tell whether an index still describes its data file without reading the data.
    """
    try:
        with open(path, "rb") as fh:
            end = fh.seek(0, os.SEEK_END)
            fh.seek(max(0, end - 64))
            tail = fh.read()
    except FileNotFoundError:
        return None
    at = tail.rfind(_SEAL_AT)
    try:
        return int(json.loads(tail[at + len(_SEAL_AT):-1])["1"]["crc32"]) if at >= 0 else None
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return None


class SealedStorage(Storage):
    """A village file as a TinyDB storage: checked on read, sealed and written atomically.

    Used with TinyDB's `CachingMiddleware`, so that the removes and inserts of a checkpoint
    are one read and one write of the file (`Store._checkpoint`).
    """

    def __init__(self, path: Path | str, tables: dict[str, Any] | None = None, sync_dir: bool = True):
        super().__init__()
        self.path = Path(path)
        self._tables = tables
        self._sync_dir = sync_dir          # False: the caller fsyncs the folder (`atomic.write_bytes`)
        self.written: bytes | None = None

    def read(self) -> dict[str, Any] | None:
        if self._tables is not None:
            return self._tables
        found = read(self.path)
        return None if found is None else found[0]

    def write(self, data: dict[str, Any]) -> None:
        self.written = seal(data)
        atomic.write_bytes(self.path, self.written, sync_dir=self._sync_dir)
