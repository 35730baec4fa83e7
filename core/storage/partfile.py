"""One partition of one table: a TinyDB file holding the records of one village.

TinyDB numbers documents itself; carebook records are found by their UUID, so the partition
keeps a map from record id to TinyDB document id. Each stored document is the record plus two
storage-owned keys: `_row` (the list row the engine gave, so a lost index can be rebuilt from
the data file alone) and `_t` (save time in ns, which decides between two copies of a record
left in two villages by a crash in the middle of a move); a record that has moved also carries
`_h`, every village whose history file holds its entries.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Iterator

from tinydb import TinyDB

from .tinyfile import AtomicJSONStorage

ROW_KEY = "_row"
TIME_KEY = "_t"
HIST_KEY = "_h"
PRIVATE_KEYS = (ROW_KEY, TIME_KEY, HIST_KEY)


class PartitionFile:
    def __init__(self, path: Path, readonly: bool):
        self.path = path
        # The folder fsync is left to the index file written right after (same folder).
        self.db = TinyDB(path, readonly, False, storage=AtomicJSONStorage)
        self.storage: AtomicJSONStorage = self.db.storage  # type: ignore[assignment]
        self.table = self.db.table("_default", cache_size=0)
        self.ids: dict[str, int] = {}

    def load(self) -> None:
        """Parse the file (raises `CorruptFile`) and map record ids to document ids."""
        raw = (self.storage.read() or {}).get("_default", {})
        self.ids = {doc["id"]: int(doc_id) for doc_id, doc in raw.items() if isinstance(doc, dict) and "id" in doc}

    def load_empty(self) -> None:
        """Stand in for a file that could not be read, without touching the disk."""
        self.storage._loaded = True
        self.storage._data = None
        self.ids = {}

    def get(self, rid: str) -> dict[str, Any] | None:
        doc_id = self.ids.get(rid)
        return None if doc_id is None else self.table.get(doc_id=doc_id)

    def docs(self) -> Iterator[dict[str, Any]]:
        raw = (self.storage.read() or {}).get("_default", {})
        return iter(list(raw.values()))

    def apply(self, upserts: dict[str, dict[str, Any]], removes: Iterable[str] = ()) -> None:
        """Insert or replace `upserts`, drop `removes`, all in one atomic file write."""
        gone = [self.ids[r] for r in removes if r in self.ids and r not in upserts]
        changed = {self.ids[r]: doc for r, doc in upserts.items() if r in self.ids}
        new = [doc for r, doc in upserts.items() if r not in self.ids]

        def replace(doc: dict[str, Any]) -> None:
            fresh = upserts[doc["id"]]
            doc.clear()
            doc.update(fresh)

        with self.storage.batch():
            if gone:
                self.table.remove(doc_ids=gone)
            if changed:
                self.storage.mark_dirty(self.table.name, changed)
                self.table.update(replace, doc_ids=list(changed))
            new_ids = self.table.insert_multiple(new) if new else []
            self.storage.mark_dirty(self.table.name, new_ids)
        for r in removes:
            if r not in upserts:
                self.ids.pop(r, None)
        for doc, doc_id in zip(new, new_ids):
            self.ids[doc["id"]] = doc_id
