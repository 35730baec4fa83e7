"""`VillageStorage`: a `tinydb.storages.Storage` over carebook's village files.

Why: the client fixed TinyDB as carebook's database. Every village file is a TinyDB database,
and `TinyDB(path, storage=VillageStorage)` opens it with TinyDB's own `Table`, `Query` and
`Document`, but with carebook's file handling underneath instead of TinyDB's `JSONStorage`,
which truncates the file and rewrites it in place (a crash mid-write leaves half a file):

- `write` encodes the database compact UTF-8 (Chinese as text), writes it to a temp file,
  fsyncs it together with any companion files (the village's index file, so that both reach
  the disk before either is renamed), `os.replace`s them in order and fsyncs the folder
  (`atomic.commit`). Afterwards `documents` and `layout` hold the village as text and the
  byte spans the index records, for `Store`'s village cache and the next cold save.
- `read` checks the whole file (`tinyfile.parse_tables`: anything TinyDB's `Table` would choke
  on raises `CorruptFile`, and `Store` sets the file aside), or, given the village's text from
  `Store`'s cache (`documents=`), parses that and does not touch the disk.

What goes through TinyDB (`Store`): rebuilding an index (`Table.all`), reading whole villages
(`iter_records`: `Table.search` on the ids the index owns), bulk loads and crash clean-up
(`Table.remove` + `Table.insert_multiple` under TinyDB's `CachingMiddleware`, so that a
village gets one atomic write however many TinyDB operations it takes).

What does not: a single save (`Store.put`, the form screen). TinyDB's storage interface hands
over the whole database on every change, so a save through it parses every document of the
village and encodes them all again. Measured with `Store.put` forced through this storage at
50,000 people (360 per village, ~0.75 MB files, load average 0.7 on 2 cores): cold-village save
23.1 ms median (p95 26.7) against 6.4 ms (p95 9.0) for carebook's text path, which encodes only
the changed document and joins the others' text as it is (`tinyfile.Documents.changed`); same
village 20.2 against 5.3 ms. The target is 20 ms, so `put` stays on the text path. Both paths
write the same bytes. Bulk loads take TinyDB's path when the batch brings at least as many
documents as the village holds (50,000 people into new villages: 2.6 s against 2.3 s); smaller
batches into fuller villages, where re-encoding what is there dominates, take the text path
(see `Store.put_many`). The bench's whole load (50,000 people, 4 × 50,000 visits) then takes
14.1 s of CPU against 12.9 s with the text path alone.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from tinydb.storages import Storage

from core.storage import atomic
from core.storage.errors import StorageError
from core.storage.tinyfile import TABLE, Documents, check_tables, loads, parse_tables

# (temp data file, new documents, new layout) → [(path, bytes)] to make durable with it.
Companions = Callable[[Path, Documents, "dict[str, Any] | None"], "list[tuple[Path, bytes]]"]


class VillageStorage(Storage):
    """One village file as a TinyDB storage; see the module docstring.

    `documents`: the village's text already in memory (read from it, not from disk).
    `keep_text`: reading from disk keeps the file's text and layout (`documents`, `layout`)
    so the caller can cache them; without it a read is one `json.loads`, for readers that only
    stream the values. `companions`: files written with the data file, all or none.
    `readonly`: refuse to write (readers that must never change a file).
    """

    def __init__(self, path: Path | str, *, documents: Documents | None = None, keep_text: bool = False,
                 companions: Companions | None = None, readonly: bool = False):
        super().__init__()
        self.path = Path(path)
        self.documents = documents
        self.layout: dict[str, Any] | None = None
        self._keep_text = keep_text
        self._companions = companions
        self._readonly = readonly

    def read(self) -> dict[str, Any] | None:
        """The whole database, or `None` (TinyDB's "empty") when the file does not exist."""
        if self.documents is not None:
            return self.documents.tables()
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        if not self._keep_text:
            return check_tables(self.path, loads(self.path, raw))
        docs, values, self.layout = parse_tables(self.path, raw)
        self.documents = docs
        return {TABLE: values, **docs.other_tables()}

    def write(self, data: dict[str, Any]) -> None:
        """Replace the file with `data` atomically and durably, with its companion files."""
        if self._readonly:
            raise StorageError("数据文件以只读方式打开，不能保存 (read-only storage)")
        try:
            docs = Documents.from_tables(data)
        except (TypeError, ValueError) as exc:
            raise StorageError(f"记录中有无法保存的值（{exc}）(not JSON-serialisable)") from None
        raw, layout = docs.encode()
        self.commit(self.path, raw, docs, layout, self._companions)
        self.documents, self.layout = docs, layout

    @staticmethod
    def commit(path: Path, raw: bytes, docs: Documents, layout: dict[str, Any] | None,
               companions: Companions | None) -> None:
        """Write a village file's bytes and its companions: all renamed once all are on disk."""
        VillageStorage.commit_many([(path, raw, docs, layout, companions)])

    @staticmethod
    def commit_many(villages: "list[tuple[Path, bytes, Documents, dict[str, Any] | None, Companions | None]]") -> None:
        """`commit` for several village files at once (one round of fsyncs for all).

        Shared with `Store`'s single-save path, which makes the same bytes without TinyDB.
        """
        staged: list[tuple[Path, Path]] = []
        try:
            for path, raw, docs, layout, companions in villages:
                staged.append((atomic.stage(path, raw), path))
                if companions is not None:
                    for other, blob in companions(staged[-1][0], docs, layout):
                        staged.append((atomic.stage(other, blob), other))
        except BaseException:
            for tmp, _ in staged:
                tmp.unlink(missing_ok=True)
            raise
        atomic.commit(staged)

