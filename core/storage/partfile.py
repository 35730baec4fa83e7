"""One partition of one table: the TinyDB file holding the records of one village.

Each stored document is the record plus two storage-owned keys: `_row` (the list row the engine
gave, so a lost index can be rebuilt from the data file alone) and `_t` (save time in ns, which
decides between two copies of a record left in two villages by a crash in the middle of a move);
a record that has moved also carries `_h`, every village whose history file holds its entries.

In memory a partition is its documents' JSON text (`tinyfile.Documents`), not parsed objects:
a village of ~360 people is ~0.7 MB of text but several MB of Python dicts, and a save only
needs the text. `get` parses the one document asked for.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tinydb import TinyDB

from core.storage import tinyfile
from core.storage.tinyfile import TABLE, Documents
from core.storage.tinystorage import VillageStorage

ROW_KEY = "_row"
TIME_KEY = "_t"
HIST_KEY = "_h"
PRIVATE_KEYS = (ROW_KEY, TIME_KEY, HIST_KEY)


class PartitionFile:
    def __init__(self, path: Path, docs: Documents | None = None):
        self.path = path
        self.docs = docs if docs is not None else Documents()
        # The index file's rows part as this store last wrote it (`Store._index_text`).
        self.index_text: Any = None

    @classmethod
    def load(cls, path: Path, layout: Any = None) -> "PartitionFile":
        """The file as it is on disk (empty when missing); raises `CorruptFile`.

        With the layout the index file recorded, a file whose bytes are exactly those we wrote is
        cut into documents without parsing (~1 ms instead of ~10 ms for a village); any other
        file is parsed and checked in full.
        """
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return cls(path)
        docs = Documents.from_layout(raw, layout) if layout is not None else None
        if docs is None:
            docs, _, _ = tinyfile.parse(path, raw)
        return cls(path, docs)

    @classmethod
    def parse(cls, path: Path) -> tuple["PartitionFile", list[Any], dict[str, Any] | None]:
        """Read in full through TinyDB: the partition, its documents, and the file's layout.

        For rebuilding an index, which needs every document as a value: TinyDB's `Table.all`
        over `VillageStorage`, which checks the whole file and keeps its text for the village
        cache. The layout is `None` for a file not in carebook's form; raises `CorruptFile`.
        """
        with TinyDB(path, storage=VillageStorage, keep_text=True, readonly=True) as db:
            values = db.table(TABLE).all()
            storage: VillageStorage = db.storage  # type: ignore[assignment]
        return cls(path, storage.documents), values, storage.layout

    def get(self, rid: str) -> dict[str, Any] | None:
        """A fresh parse of one document: the caller may change it freely."""
        key = self.docs.ids.get(rid)
        return None if key is None else json.loads(self.docs.text(key))

    def records(self) -> list[dict[str, Any]]:
        """Every carebook document, freshly parsed, in file order."""
        owned = set(self.docs.ids.values())
        return [json.loads(blob) for key, blob in self.docs.texts.items() if key in owned]

    def size(self) -> int:
        return self.docs.size()

    def staged(self, upserts: dict[str, bytes], removes: set[str]
               ) -> tuple["PartitionFile", bytes, dict[str, Any] | None]:
        """The partition after the change, its file bytes and layout; `self` is not changed."""
        docs = self.docs.changed(upserts, removes)
        raw, layout = docs.encode()
        # Held as the bytes just written: the next save splices into them.
        if layout is not None and not docs.is_spliced:
            docs = Documents.from_encoded(raw, layout)
        return PartitionFile(self.path, docs), raw, layout
