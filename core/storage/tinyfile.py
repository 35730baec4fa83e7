"""A TinyDB `Storage` that writes atomically and keeps the parsed file in memory.

TinyDB calls `read()` before every operation and `write()` with the whole database after every
change. Stock `JSONStorage` re-parses and rewrites in place each time; this class parses once,
serves later reads from memory, and writes through `atomic.write_bytes` so a crash never leaves
a cut-off file. `batch()` folds many TinyDB operations into one file write (bulk loads).

Serialising a village file is most of the cost of a save, and a save changes one document, so
each document's JSON is kept and only documents marked dirty (`mark_dirty`) or new are encoded
again; the file is the same bytes `json.dumps` of the whole database would give.
"""
from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from tinydb.storages import Storage

from . import atomic
from .errors import StorageError


class CorruptFile(Exception):
    """A data or index file exists but is not the JSON we wrote; the caller sets it aside."""

    def __init__(self, path: Path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def read_json(path: Path) -> Any:
    """Parse a file we wrote; `None` when it does not exist, `CorruptFile` when it does not parse."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise CorruptFile(path, f"{type(exc).__name__}: {exc}") from None


class AtomicJSONStorage(Storage):
    """One TinyDB database file; `readonly` refuses writes instead of touching the disk."""

    def __init__(self, path: Path, readonly: bool = False, sync_dir: bool = True):
        self.path = Path(path)
        self.readonly = readonly
        self.sync_dir = sync_dir
        self._data: dict[str, dict[str, Any]] | None = None
        self._loaded = False
        self._batch_depth = 0
        self._pending: dict[str, dict[str, Any]] | None = None
        self._encoded: dict[tuple[str, str], bytes] = {}
        self._dirty: set[tuple[str, str]] = set()

    def read(self) -> dict[str, dict[str, Any]] | None:
        if not self._loaded:
            data = read_json(self.path)
            if data is not None and not (
                isinstance(data, dict) and all(isinstance(t, dict) for t in data.values())
            ):
                raise CorruptFile(self.path, "不是 TinyDB 数据库格式 (not a TinyDB database)")
            self._data = data
            self._loaded = True
        # A shallow copy: TinyDB swaps whole tables into the dict it read, and the cache must
        # only change once the write has reached the disk.
        return None if self._data is None else dict(self._data)

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        if self.readonly:
            raise StorageError("只读方式打开，不能保存 (read-only store)")
        if self._batch_depth:
            self._pending = data
            self._data = data
            return
        self._flush(data)

    def mark_dirty(self, table: str, doc_ids: Any) -> None:
        """Documents changed in place: their kept JSON must be encoded again at the next write."""
        self._dirty.update((table, str(doc_id)) for doc_id in doc_ids)

    def _encode(self, data: dict[str, dict[str, Any]]) -> tuple[bytes, dict[tuple[str, str], bytes]]:
        encoded: dict[tuple[str, str], bytes] = {}
        tables = []
        for name, docs in data.items():
            items = []
            for doc_id, doc in docs.items():
                key = (name, doc_id)
                blob = self._encoded.get(key)
                if blob is None or key in self._dirty:
                    blob = atomic.dumps(doc)
                encoded[key] = blob
                key_json = f'"{doc_id}"'.encode() if doc_id.isdigit() else atomic.dumps(doc_id)
                items.append(key_json + b":" + blob)
            tables.append(atomic.dumps(name) + b":{" + b",".join(items) + b"}")
        return b"{" + b",".join(tables) + b"}", encoded

    def _flush(self, data: dict[str, dict[str, Any]]) -> None:
        try:
            blob, encoded = self._encode(data)
            atomic.write_bytes(self.path, blob, self.sync_dir)
        except OSError as exc:
            # Documents may have been changed in place; forget them and re-read the disk.
            self.invalidate()
            raise StorageError(
                f"保存失败，数据文件 {self.path.name} 未能写入（{exc.strerror or exc}）。"
                "请检查磁盘空间和文件夹权限 (write failed)"
            ) from None
        except (TypeError, ValueError) as exc:
            self.invalidate()
            raise StorageError(f"记录中有无法保存的值（{exc}）(not JSON-serialisable)") from None
        self._data = data
        self._encoded = encoded
        self._dirty.clear()

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Collect every write inside the block into a single atomic write at its end."""
        self._batch_depth += 1
        try:
            yield
        except BaseException:
            if self._batch_depth == 1:
                self.invalidate()
            raise
        finally:
            self._batch_depth -= 1
        if not self._batch_depth and self._pending is not None:
            pending, self._pending = self._pending, None
            self._flush(pending)

    def invalidate(self) -> None:
        self._data = None
        self._loaded = False
        self._pending = None
        self._encoded = {}
        self._dirty.clear()

    def close(self) -> None:
        self.invalidate()
