"""The storage contract: exactly what `core.engine.Engine` uses of a store, and nothing more.

Two backends keep it: `core.storage.Store` (the TinyDB data folder, one desk) and
`core.storage.pgstore.PgStore` (a PostgreSQL server shared by a town or the district). The
engine, and so the UI, CLI, reports and exporters, see only these methods; the contract tests
(`tests/test_storage_contract.py`) run the same cases against both.

Vocabulary:

- *table*: a form id (``registration``, ``visit``) or an engine-kept table (``rollup_visit``).
- *record*: a dict with at least ``id`` (str) and ``partition`` (the village code, or
  ``"_none"``); the engine adds ``form``, ``version``, ``created``, ``updated``, ``operator``,
  ``data`` and ``meta``. A store returns what it was given (keys of its own stripped).
- *list row* (``index_row``): the few fields the roster shows and searches, saved with the
  record so a table's list never needs the records themselves. Read back with ``_p``, the
  partition, added.
- *history entry*: a dict appended with a save and never changed afterwards.
- *item*: ``(record, index_row, history_entry or None)``.

Promises every backend keeps (the contract tests check them):

- `put` is one commit: the record, its list row, its history entry and the ``derived`` rows are
  durable together or not at all, also when the process is killed mid-save.
- A record whose partition changes leaves its old partition in the same commit; its history
  follows it.
- Reads see every acknowledged save, also after the process was killed and the store reopened.
- A failure is a `core.storage.StorageError` (a `CarebookError`) with a Chinese message, never
  a driver's exception: a full disk, a damaged file, a server that went away, a refused scope.
- Two writers never silently lose an update: the folder store refuses a second writer
  (`StoreLocked`); the server store refuses a save whose record changed since it was read
  (`EditConflict`, naming who changed it and when; the
  engine also refuses an edit whose form was opened on an older copy, on both backends).

Not part of the contract: backups (the folder rotates copies in ``backups/``; a server is
backed up with pg_dump or base backups, see docs/scale.md), drafts (kept on the desk by the
engine in both cases, so nothing typed is lost while a server is unreachable), the write lock.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator, Protocol, runtime_checkable

from core.problems import Problem
from core.storage.errors import StorageError

Record = dict[str, Any]
Row = dict[str, Any]
Item = tuple[Record, Row, "dict[str, Any] | None"]


class EditConflict(StorageError):
    """The record was saved by someone else after this desk read it; the save is refused."""


@runtime_checkable
class RecordStore(Protocol):
    """Records of every table, their list rows and their append-only history."""

    readonly: bool
    problems: list[Problem]
    """Start-up messages for the admin corner (a damaged file set aside, a failed backup)."""

    # ------------------------------------------------------------- writing
    def put(self, table: str, record: Record, index_row: Row, history_entry: dict[str, Any] | None = None, *,
            derived: tuple[str, list[Item]] | None = None, new: bool = False) -> None:
        """Save one record with its list row and history entry, and `derived` = ``(table,
        items)`` (the engine's rollup rows) in the same commit. `new`: the id was just made, so
        no stored copy exists."""

    def put_many(self, table: str, items: Iterable[Item], *,
                 derived: tuple[str, list[Item]] | None = None, new: bool = False) -> int:
        """Save many items (bulk loads) and the rows `derived` from them as one commit: after a
        crash all of the batch is there or none of it. An id given twice keeps the last record
        and every history entry in order. `new`: every id was just made. Returns the number of
        distinct ids."""

    def next_number(self, table: str, partition: str, key: str, *, seed: Callable[[], int],
                    taken: Callable[[int], bool] = lambda n: False) -> int:
        """The next number of counter `key` in one village (a file number's sequence), never
        handed out twice: `seed()` gives the highest number in use when the village has no
        counter yet, `taken(n)` skips numbers typed by hand. (The folder store advances the
        counter with the village's next save; a server takes it at once, so a refused save
        may leave a gap but two desks never get the same number.)"""

    # ------------------------------------------------------------- reading
    def get(self, table: str, rid: str) -> Record | None:
        """The record, or None."""

    def index(self, table: str) -> dict[str, Row]:
        """id → list row (with ``_p``) of every record of the table. Rows may be shared:
        callers must not change them."""

    def rows(self, table: str, ids: Iterable[str]) -> dict[str, Row]:
        """The list rows of those `ids` that exist (a few rows of a big table)."""

    def count(self, table: str) -> int:
        """Records in the table."""

    def select(self, table: str, partition: str, test: Callable[[Row], bool]) -> list[Record]:
        """The records of one partition whose list row passes `test` (a person's visits)."""

    def scan_rows(self, table: str, fields: Iterable[str],
                  where: Callable[[Row], bool] | None = None) -> dict[str, Row]:
        """{id: {field: value, ..., "_p": partition}} for the list rows passing `where`, without
        keeping the table in memory (a quarter's summary over every visit). A row may hold
        more keys than asked for (the folder store answers from memory when it has the rows)."""

    def iter_records(self, table: str, partitions: Iterable[str] | None = None) -> Iterator[Record]:
        """Every record (of those partitions), one partition at a time."""

    def partitions(self, table: str) -> list[str]:
        """The partitions (villages) holding records of the table, sorted (a migration or a
        re-evaluation walks them one at a time)."""

    def history(self, table: str, rid: str) -> list[dict[str, Any]]:
        """Every history entry of a record, oldest first, across its moves."""

    # ------------------------------------------------------------- lifetime
    def close(self) -> None:
        """Release the store (the folder's lock, the server connection); idempotent."""


#: The methods above by name, for the conformance check in the tests and in `PgStore`.
METHODS = ("put", "put_many", "next_number", "get", "index", "rows", "count", "select", "scan_rows",
           "iter_records", "partitions", "history", "close")
