"""`Store`: carebook's records on disk — a journal, TinyDB files per table and village, indexes.

Why this shape (see docs/design.md, "Storage"):

- A save is one fsynced line of `journal.jsonl` (`journal`): the record, its list row, its
  history line, the rows derived from it (the engine's rollup) and any number it took. It is
  whole or absent after any crash; nothing else is written while staff wait.
- The village files are TinyDB databases (`records/<table>/<village>.json`, sealed with their
  CRC-32: `sealed`), rewritten from the journal through TinyDB's `Table` — once 400 saves or 48
  villages are held, by a background thread one village at a time when saves pause
  (`_compact_soon`: no save waits for the batch), after each bulk batch, and at close
  (`_checkpoint`) — with their index
  files and history lines; the journal is emptied only when every change is in a file.
  A writer opening the folder replays what a crash left; a reader overlays it.
- Index files (`<village>.index.json`, list rows) are derived: they name the CRC of the data
  file they were built from and are rebuilt whenever damaged or disagreeing.
- History files (`history/<table>/<village>.jsonl`) are hash-chained (`chain`).

In memory: `_ops` holds what the journal says beyond the files (per village, the newest
document or removal of each record), `_tables` the list rows of tables loaded whole, and a few
parsed village files (LRU). A record's copy with the larger save time `_t` wins everywhere.
"""
from __future__ import annotations

import functools
import json
import logging
import threading
import time
import zlib
from collections import ChainMap, OrderedDict
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

from tinydb import TinyDB
from tinydb.middlewares import CachingMiddleware
from tinydb.table import Document

from core.oserrors import describe_error
from core.problems import Problem
from core.storage import atomic, backups, chain, journal, lock, names, quarantine, sealed
from core.storage.errors import StorageError
from core.storage.sealed import META, TABLE, CorruptFile, SealedStorage

RECORDS, HISTORY = "records", "history"
DATA_SUFFIX, INDEX_SUFFIX, HISTORY_SUFFIX = ".json", ".index.json", ".jsonl"
ROW_KEY, TIME_KEY, HIST_KEY = "_row", "_t", "_h"
PRIVATE_KEYS = (ROW_KEY, TIME_KEY, HIST_KEY)
DERIVED_PREFIX = "rollup_"     # tables the engine derives from others (rebuilt, never restored)
Item = tuple[dict[str, Any], dict[str, Any], "dict[str, Any] | None"]
Key = tuple[str, str]
Op = tuple[int, "dict[str, Any] | None"]        # (save time, document or None for removed)

LOAD_WHOLE_BYTES = 4 << 20    # index files up to this size (~7,000 people) are read whole for a lookup
CHECKPOINT_LINES = 400          # journal lines held before the village files are rewritten
CHECKPOINT_VILLAGES = 48        # villages changed before the village files are rewritten
COMPACT_IDLE = 0.3              # seconds without a save before the background writer starts
COMPACT_PAUSE = 0.002           # seconds the background writer leaves between two villages
COMPACT_BEHIND = 4              # times the batch held before saves themselves write a village each


def _serialised(method):
    """Run under the store's lock: the TUI saves from worker threads while the screen reads."""
    @functools.wraps(method)
    def locked(self: "Store", *args: Any, **kwargs: Any) -> Any:
        with self._mutex:
            return method(self, *args, **kwargs)
    return locked


def _share(shared: dict[Any, Any], value: Any) -> Any:
    """`value`, or the equal one seen before: 200,000 kept visit rows hold a few hundred
    distinct dates and levels, not 400,000 strings."""
    if isinstance(value, str) and len(value) <= 32:
        return shared.setdefault(value, value)
    return value


def _public(doc: dict[str, Any]) -> dict[str, Any]:
    """A copy of a stored document without storage keys (callers may change it freely)."""
    return {k: _clone(v) for k, v in doc.items() if k not in PRIVATE_KEYS}


def _shared(doc: dict[str, Any]) -> dict[str, Any]:
    """A stored document without storage keys, its values not copied (`Store.iter_shared`)."""
    return {k: v for k, v in doc.items() if k not in PRIVATE_KEYS}


def _clone(value: Any) -> Any:
    """A deep copy of parsed JSON (dicts, lists, immutable scalars). `copy.deepcopy` keeps a
    memo for cycles JSON cannot have, and was most of a report's time over 50,000 records."""
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clone(v) for v in value]
    return value


def _time(doc: Any) -> int:
    t = doc.get(TIME_KEY, 0) if isinstance(doc, dict) else 0
    return t if isinstance(t, int) else 0


def saved_at(doc: Any) -> int:
    """A stored document's save time (`TIME_KEY`; 0 when missing or not a number), for readers
    outside the store that match values to list rows by it (`core.lifecycle.keptfiles`)."""
    return _time(doc)


def row_of(doc: dict[str, Any], p: str) -> dict[str, Any]:
    """The list row a stored document carries (so a lost index is rebuilt from the data alone)."""
    row = doc.get(ROW_KEY)
    out = {**(row if isinstance(row, dict) else {}), TIME_KEY: _time(doc), "_p": p}
    if isinstance(doc.get(HIST_KEY), list):
        out[HIST_KEY] = doc[HIST_KEY]
    return out


def _plain_row(doc: dict[str, Any]) -> dict[str, Any]:
    """`row_of(doc, p)` without `_p`: a row as the village's index file holds it."""
    row = doc.get(ROW_KEY)
    out = {k: v for k, v in row.items() if k != "_p"} if isinstance(row, dict) else {}
    out[TIME_KEY] = _time(doc)
    if isinstance(doc.get(HIST_KEY), list):
        out[HIST_KEY] = doc[HIST_KEY]
    return out


def merged(base: dict[str, Any], ops: dict[str, Op] | None, make: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    """`base` (record id → document or row) with the journal's newer documents and removals."""
    if not ops:
        return base
    out = dict(base)
    for rid, (t, doc) in ops.items():
        held = out.get(rid)
        if held is not None and _time(held) > t:
            continue
        if doc is None:
            out.pop(rid, None)
        else:
            out[rid] = make(doc)
    return out


def _history_partitions(row: dict[str, Any]) -> list[str]:
    """Villages whose history files hold entries of the record this row lists."""
    lived = row.get(HIST_KEY)
    return lived if isinstance(lived, list) and all(isinstance(p, str) for p in lived) else [row["_p"]]


class Village:
    """One village file as read: its TinyDB tables, documents by record id, counters, CRC."""

    def __init__(self, tables: dict[str, Any] | None = None, crc: int | None = None):
        self.tables = tables if tables is not None else {TABLE: {}}
        self.crc = crc
        self.docs: dict[str, dict[str, Any]] = {}
        self.ids: dict[str, str] = {}
        for key, doc in self.tables.get(TABLE, {}).items():
            rid = doc.get("id") if isinstance(doc, dict) else None
            if isinstance(rid, str):
                self.docs[rid], self.ids[rid] = doc, key
        meta = self.tables.get(META, {}).get("1")
        counters = meta.get("counters") if isinstance(meta, dict) else None
        self.counters: dict[str, int] = counters if isinstance(counters, dict) else {}


class Store:
    """Records of every table under `root`; see the module docstring and docs/design.md."""

    def __init__(self, root: Path, readonly: bool = False, *, backup_every_hours: float | None = 24,
                 keep_backups: int = 7, cache_partitions: int = 8):
        self.root = Path(root)
        self.readonly = readonly
        self.problems: list[Problem] = []
        self._lock: lock.WriterLock | None = None
        self._journal: journal.Journal | None = None
        self._tables: dict[str, dict[str, dict[str, Any]]] = {}
        self._ops: dict[Key, dict[str, Op]] = {}
        self._hist: dict[Key, list[tuple[int, bytes]]] = {}
        self._heads: dict[Key, str] = {}
        self._counters: dict[Key, dict[str, int]] = {}
        self._reserved: dict[Key, dict[str, int]] = {}
        self._lines = 0
        self._cache: OrderedDict[Key, Village] = OrderedDict()
        self._cache_size = max(2, cache_partitions)
        self._reported: set[Path] = set()
        self._chains: dict[Path, chain.Checked] = {}    # history files found whole (`_check_chain`)
        self._unmovable: set[Path] = set()
        self._last_t = 0
        self._closed = False
        self._compactor: threading.Thread | None = None
        self._last_commit = 0.0
        self._compact_error: StorageError | None = None
        self._unsynced: set[Path] = set()      # folders with renames not yet fsynced (`_compact`)
        self._writer: threading.Thread | None = None      # a bulk batch's files (`_write_behind`)
        self._mutex = threading.RLock()
        self._backup: threading.Thread | None = None      # the backup made beside the command
        self._backup_every = (backup_every_hours, keep_backups)     # see `start_backup`
        self._backup_failed = -float("inf")                         # (monotonic) the last failure
        self._written: dict[str, list[Callable[[str, dict[str, dict[str, Any]], tuple[int, ...] | None], None]]] = {}
        if readonly:
            self._replay(journal.read(self.root / journal.NAME))
            pending = backups.pending_restore(self.root)
            if pending:
                self.problems.append(Problem(pending, severity="error", rule="storage.restore_pending"))
            return
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"无法创建数据文件夹 {self.root}（{exc.strerror or exc}）") from None
        self._lock = lock.acquire(self.root)
        try:
            backups.finish_restore(self.root)
            found = journal.read(self.root / journal.NAME)
            if found[1]:
                self.problems.append(quarantine.keep_copy(self.root, self.root / journal.NAME,
                                                          f"第 {found[1][0]} 行等 {len(found[1])} 行"))
            self._journal = journal.Journal(self.root / journal.NAME)
            self._replay(found)
            self._checkpoint()
        except BaseException:
            self._lock.release()
            raise
        if backup_every_hours is not None:
            # The daily backup is made beside the command, not before it: a command that only
            # reads (an export, a report, a search) never waits for it, and the first change
            # waits until it is done (`_commit`), so the backup is still the ledger as it was
            # opened. At 50,000 people a first backup copies 700 MB (4–5 s on this disk).
            self._start_backup()

    def _start_backup(self) -> None:
        self._backup = threading.Thread(target=self._rotate_backups, args=self._backup_every,
                                        name="carebook-backup", daemon=True)
        self._backup.start()

    def start_backup(self) -> bool:
        """Back up again, as at open, when the newest backup is `backup_every_hours` old: a
        program left open for days backs the ledger up as often as one opened each day. As at
        open, the journal is first written into the village files (a backup holds the files,
        and a restore starts with an empty journal: every save so far must be in them), and
        saves from then on wait until the backup is made (`_commit`), so it is the ledger as it
        was at this moment. Whether one was started (not when none is due, one is running, or
        the store is closed or read-only)."""
        every, _ = self._backup_every
        if self.readonly or every is None or self.backup_running():
            return False
        if time.monotonic() - self._backup_failed < every * 3600:
            return False        # one failed within the period: a failing disk is tried once a day
        if not backups.due(self.root, every):
            return False
        self._join_writer()          # a bulk batch's files first (outside the lock: it takes it)
        with self._mutex:
            if self._closed:
                return False
            self._checkpoint()
            self._start_backup()
        return True

    def _rotate_backups(self, every_hours: float, keep: int) -> None:
        try:
            backups.rotate(self.root, every_hours, keep)
        except Exception as exc:  # noqa: BLE001 - on its thread: told with the storage problems, never a traceback
            self._backup_failed = time.monotonic()
            why = describe_error(exc)
            self.problems.append(Problem(
                f"自动备份失败（{why}）；现有备份未受影响，台账照常可用", severity="warning", rule="storage.backup"))

    def wait_for_backup(self) -> None:
        """Return once the backup being made is done (at open or since, `start_backup`; at
        once when there is none). Safe
        from two threads at once: the thread is forgotten only after it ended, so a save never
        passes while another thread (the staff UI's watcher) is still waiting."""
        made = self._backup
        if made is not None:
            made.join()
            if self._backup is made:     # not one started meanwhile (`start_backup`)
                self._backup = None

    def backup_running(self) -> bool:
        """Whether a backup is being made (at open or since; a save now would wait)."""
        made = self._backup
        return made is not None and made.is_alive()

    # ----------------------------------------------------------------- paths and state
    def _data_path(self, table: str, p: str) -> Path:
        return self.root / RECORDS / table / f"{p}{DATA_SUFFIX}"

    def _index_path(self, table: str, p: str) -> Path:
        return self.root / RECORDS / table / f"{p}{INDEX_SUFFIX}"

    def _history_path(self, table: str, p: str) -> Path:
        return self.root / HISTORY / table / f"{p}{HISTORY_SUFFIX}"

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError("数据存储已关闭")

    def _check_writable(self) -> None:
        self._check_open()
        if self.readonly:
            raise StorageError("数据文件夹以只读方式打开，不能保存")

    def _next_t(self) -> int:
        self._last_t = max(self._last_t + 1, time.time_ns())
        return self._last_t

    def _problem(self, path: Path, reason: str, *, rebuilt: bool) -> None:
        """Set a damaged file aside (writer) and report it once."""
        if path in self._reported:
            return
        self._reported.add(path)
        self.problems.append(quarantine.set_aside(self.root, path, reason, move=not self.readonly, rebuilt=rebuilt))
        if not self.readonly and path.exists():
            self._unmovable.add(path)

    def _disk_partitions(self, table: str) -> set[str]:
        folder = self.root / RECORDS / table
        found = {p for t, p in self._ops if t == table}
        if not folder.is_dir():
            return found
        for f in folder.iterdir():
            if f.name.startswith("."):
                continue
            if f.name.endswith(INDEX_SUFFIX):
                found.add(f.name[: -len(INDEX_SUFFIX)])
            elif f.name.endswith(DATA_SUFFIX):
                found.add(f.name[: -len(DATA_SUFFIX)])
        return found

    # ----------------------------------------------------------------- reading files
    def _village(self, table: str, p: str, keep: bool = True) -> Village:
        """The village file as on disk (LRU-cached); a damaged one is set aside and reads empty."""
        key = (table, p)
        found = self._cache.get(key)
        if found is not None:
            self._cache.move_to_end(key)
            return found
        path = self._data_path(table, p)
        try:
            read = sealed.read(path)
            village = Village(*read) if read is not None else Village()
        except CorruptFile as exc:
            self._damaged(table, p, path, exc.reason)
            village = Village()
        if keep:
            self._cache[key] = village
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return village

    def _damaged(self, table: str, p: str, path: Path, reason: str) -> None:
        """A data file failed its check: set aside; its rows leave the loaded view and index.

        A derived table (rollups) is set aside whole, so that the engine rebuilds it from the
        records instead of counting from a part of it.
        """
        derived = table.startswith(DERIVED_PREFIX)
        self._problem(path, reason, rebuilt=derived)
        if self.readonly:
            return
        self._index_path(table, p).unlink(missing_ok=True)
        rows = self._tables.get(table)
        if rows is not None:
            for rid in [rid for rid, row in rows.items() if row["_p"] == p]:
                del rows[rid]
        if derived:
            for q in self._disk_partitions(table) - {p}:
                for other in (self._data_path(table, q), self._index_path(table, q)):
                    if other.exists():
                        self._problem(other, "同表的另一个文件已损坏，整表重建", rebuilt=True)
            self._tables.pop(table, None)
            for key in [k for k in self._cache if k[0] == table]:
                del self._cache[key]
            for key in [k for k in self._ops if k[0] == table]:
                del self._ops[key]      # the engine rebuilds the whole table from the records

    def _index(self, table: str, p: str) -> tuple[dict[str, dict[str, Any]], dict[str, int]]:
        """(list rows, counters) of one village as its files say (journal not applied).

        The index file is used when it names the CRC of the data file as it is; otherwise (no
        index, damaged, or describing another version of the data) it is rebuilt from the data.
        """
        index_path, data_path = self._index_path(table, p), self._data_path(table, p)
        try:
            found = sealed.read(index_path, sealed_only=True)
        except CorruptFile as exc:
            self._problem(index_path, exc.reason, rebuilt=True)
            found = None
        if found is not None:
            meta = found[0].get(META, {}).get("1", {})
            data_crc = sealed.crc_of(data_path)
            if data_crc is not None and meta.get("data") == data_crc and isinstance(found[0].get("rows"), dict):
                rows = found[0]["rows"]
                for row in rows.values():
                    row["_p"] = p
                return rows, meta.get("counters") or {}
        village = self._village(table, p, keep=False)
        rows = {rid: row_of(doc, p) for rid, doc in village.docs.items()}
        if not self.readonly and data_path not in self._unmovable:
            if village.crc is None and village.docs:      # a file from before seals: seal it now
                self._write_file(table, p, village.tables)
                village = self._village(table, p, keep=False)
            self._write_index(table, p, rows, village)
        return rows, village.counters

    def _write_index(self, table: str, p: str, rows: dict[str, dict[str, Any]], village: Village,
                     sync_dir: bool = True, plain: bool = False) -> None:
        """`sync_dir=False`: the folder is fsynced before the journal is emptied (`_sync_folders`);
        `plain`: the rows are as the file holds them already (`_plain_row`, no `_p`)."""
        path = self._index_path(table, p)
        if village.crc is None:
            path.unlink(missing_ok=True)
            return
        if not plain:
            rows = {rid: {k: v for k, v in row.items() if k != "_p"} for rid, row in rows.items()}
        if not sync_dir:
            self._unsynced.add(path.parent)
        atomic.write_bytes(path, sealed.seal({"rows": rows, META: {"1": {"data": village.crc,
                                                                         "counters": village.counters}}}),
                           sync_dir=sync_dir)

    def _part_rows(self, table: str, p: str) -> dict[str, dict[str, Any]]:
        """The current list rows of one village: its index with the journal applied."""
        rows, _ = self._index(table, p)
        return merged(rows, self._ops.get((table, p)), lambda doc: row_of(doc, p))

    def _docs(self, table: str, p: str, keep: bool = True) -> dict[str, dict[str, Any]]:
        """The current documents of one village (shared: copy before handing out)."""
        return merged(self._village(table, p, keep).docs, self._ops.get((table, p)), lambda doc: doc)

    def _state(self, table: str) -> dict[str, dict[str, Any]]:
        """Every list row of the table (loaded on first use); a record found in two villages
        (left by an interrupted move in a ledger from before the journal) counts once, the
        newer copy, and a writer removes the older."""
        self._check_open()
        rows = self._tables.get(names.check_table(table))
        if rows is not None:
            return rows
        rows = {}
        stale: list[tuple[str, str, int]] = []
        for p in sorted(self._disk_partitions(table)):
            for rid, row in self._part_rows(table, p).items():
                held = rows.get(rid)
                if held is not None and _time(held) >= _time(row):
                    stale.append((rid, p, _time(row)))
                    continue
                if held is not None:
                    stale.append((rid, held["_p"], _time(held)))
                rows[rid] = row
        # A save's time is later than every copy it replaces, even if the clock went back.
        self._last_t = max([self._last_t, *map(_time, rows.values())])
        self._tables[table] = rows
        if stale and not self.readonly:
            self._commit({"ops": [[table, p, rid, None] for rid, p, _ in stale]})
        return rows

    # ----------------------------------------------------------------- the journal
    def _replay(self, found: tuple[list[dict[str, Any]], list[int]]) -> None:
        for entry in found[0]:
            self._apply(entry)
            self._last_t = max(self._last_t, entry["t"])

    def _apply(self, entry: dict[str, Any]) -> None:
        """Bring one journal entry into memory (after it is durable, or read back)."""
        # A bulk batch is one entry of many saves: a document counts at its own save time,
        # a history line at the time it carries (the entry's time for a single save).
        entry_t = entry["t"]
        for table, p, rid, doc in entry.get("ops", ()):
            t = _time(doc) or entry_t if doc is not None else entry_t
            ops = self._ops.setdefault((table, p), {})
            held = ops.get(rid)
            if held is None or held[0] <= t:
                ops[rid] = (t, doc)
            rows = self._tables.get(table)
            if rows is not None:
                row = rows.get(rid)
                if doc is not None and (row is None or _time(row) <= t):
                    rows[rid] = row_of(doc, p)
                elif doc is None and row is not None and row["_p"] == p and _time(row) <= t:
                    del rows[rid]
        last: dict[Key, bytes] = {}
        for table, p, line, *when in entry.get("h", ()):
            blob = last[(table, p)] = line.encode("utf-8")
            self._hist.setdefault((table, p), []).append((when[0] if when else entry_t, blob))
        for key, blob in last.items():        # a bulk batch: the head is its village's last line
            self._heads[key] = chain.digest(blob)
        for table, p, numbers in entry.get("n", ()):
            self._counters.setdefault((table, p), {}).update(numbers)
        self._lines += 1

    def _commit(self, entry: dict[str, Any]) -> None:
        """Make one entry durable (one line, one fsync), then apply it."""
        assert self._journal is not None and self._lock is not None
        self.wait_for_backup()                  # nothing changes before the day's backup is made
        entry.setdefault("t", self._next_t())
        self._lock.check()
        try:
            self._journal.append_entry(entry)
        except (TypeError, ValueError) as exc:
            raise StorageError(f"记录中有无法保存的值（{exc}）(not JSON-serialisable)") from None
        except OSError as exc:
            raise StorageError(f"保存失败（{exc.strerror or exc}），请检查磁盘空间和文件夹权限") from None
        self._apply(entry)
        if self._compact_error is not None:       # the background writer failed: tell this save
            self._compact_error = None
            self._compact(limit=1)
        self._last_commit = time.monotonic()
        if self._lines >= CHECKPOINT_LINES or len(self._ops) >= CHECKPOINT_VILLAGES:
            self._compact_soon()
        if self._lines >= CHECKPOINT_LINES * COMPACT_BEHIND or len(self._ops) >= CHECKPOINT_VILLAGES * COMPACT_BEHIND:
            self._compact(limit=1)      # saves without a pause: each also writes one village

    def _compact_soon(self) -> None:
        """Write the journal's villages into their files from a background thread once the
        store is idle (`COMPACT_IDLE` without a save), one village at a time, so that no save
        pays for the batch: at 50,000 people a checkpoint of 48 villages took a clerk's save
        over a second. The journal is emptied when every change is in a file; `close` writes
        whatever is left. Saves that never pause (a script) each write one village once the
        journal holds `COMPACT_BEHIND` times the usual batch, so it stays bounded."""
        if self._compactor is not None and self._compactor.is_alive():
            return
        self._compactor = threading.Thread(target=self._compact_in_background, name="carebook-compact",
                                           daemon=True)
        self._compactor.start()

    def _compact_in_background(self) -> None:
        while True:
            with self._mutex:
                if self._closed or not self._lines:
                    return
                wait = COMPACT_IDLE - (time.monotonic() - self._last_commit)
                if wait <= 0:
                    try:
                        self._compact(limit=1)
                    except StorageError as exc:          # reported to the next save (`_commit`)
                        self._compact_error = exc
                        return
            time.sleep(max(wait, COMPACT_PAUSE))      # a waiting save takes the lock here

    def _checkpoint(self, keep: bool = True) -> None:
        """Rewrite every village the journal changed, its index and history; then empty it."""
        self._compact(None, keep)

    def _compact(self, limit: int | None, keep: bool = True) -> None:
        """Write villages the journal changed — at most `limit` of them, oldest change first —
        each: data file (atomic rename), index, history lines not yet in the file. The journal
        is cleared once every change is in a file, so a crash anywhere here is replayed from it
        at next open (documents are put again, history lines already appended are recognised
        by time)."""
        if not self._lines:
            return
        keys = list(dict.fromkeys([*self._ops, *self._counters, *self._hist]))
        try:
            for key in keys if limit is None else keys[:limit]:
                if key in self._ops or key in self._counters:
                    self._write_village(*key, self._ops.get(key, {}), self._counters.get(key, {}), keep)
                if key in self._hist:
                    self._append_history(*key, self._hist[key])
                self._ops.pop(key, None)
                self._counters.pop(key, None)
                self._hist.pop(key, None)
            if not (self._ops or self._counters or self._hist):
                assert self._journal is not None
                self._sync_folders()
                self._journal.clear()
                self._lines = 0
        except OSError as exc:
            raise StorageError(f"写入数据文件失败（{exc.strerror or exc}），已保存的内容仍在日志中，"
                               "请检查磁盘空间后重新打开") from None

    def _sync_folders(self) -> None:
        """Make the renames of the village files written since the journal was last emptied
        durable: each folder fsynced once here, before the journal that could redo them is
        emptied, not once per file (a bulk batch of 5,000 visits writes some ten files in
        three folders). Until then a power cut may undo a rename; the journal redoes it."""
        while self._unsynced:
            folder = self._unsynced.pop()
            try:
                atomic.fsync_dir(folder)
            except FileNotFoundError:
                pass
        atomic.step("folders-synced")

    def _write_village(self, table: str, p: str, ops: dict[str, Op], counters: dict[str, int],
                       keep: bool = True) -> None:
        """The village file with the journal's documents put and removals made, through
        TinyDB's `Table` (one read and one sealed write under `CachingMiddleware`). `keep`:
        the parsed file stays in the cache (not after a bulk batch: a visit village is some
        20 MB parsed, and the batch moves on to the next villages)."""
        path = self._data_path(table, p)
        if path in self._unmovable:
            raise StorageError(f"村 {p} 的数据文件已损坏且无法移走，暂不能保存到该村，请联系技术支持")
        base = self._village(table, p, keep)
        leaving, arriving = [], []
        next_id = max((int(k) for k in base.tables.get(TABLE, {}) if k.isdigit()), default=0) + 1
        for rid, (t, doc) in ops.items():
            held = base.docs.get(rid)
            if held is not None and _time(held) > t:
                continue
            if rid in base.ids:
                leaving.append(int(base.ids[rid]))
            if doc is not None:
                if rid in base.ids:
                    arriving.append(Document(doc, int(base.ids[rid])))
                else:
                    arriving.append(Document(doc, next_id))
                    next_id += 1
        tables = self._write_file(table, p, base.tables, leaving, arriving,
                                  {**base.counters, **counters} if counters else None, sync_dir=False)
        village = Village(tables, sealed.crc_of(path))
        if keep:
            self._cache[(table, p)] = village
        else:
            self._cache.pop((table, p), None)
        atomic.step("village-written")
        self._write_index(table, p, {rid: _plain_row(doc) for rid, doc in village.docs.items()}, village,
                          sync_dir=False, plain=True)
        atomic.step("index-written")
        self._tell_written(table, p, village)

    def _write_file(self, table: str, p: str, tables: dict[str, Any], leaving: list[int] = (),
                    arriving: list[Document] = (), counters: dict[str, int] | None = None,
                    sync_dir: bool = True) -> dict[str, Any]:
        """`sync_dir=False`: the folder is fsynced before the journal is emptied (`_sync_folders`)."""
        storage = CachingMiddleware(SealedStorage)
        path = self._data_path(table, p)
        if not sync_dir:
            self._unsynced.add(path.parent)
        db = TinyDB(path, storage=storage, tables=dict(tables), sync_dir=sync_dir)
        if leaving:
            db.table(TABLE).remove(doc_ids=leaving)
        if arriving:
            db.table(TABLE).insert_multiple(arriving)
        if counters is not None:
            db.table(META).upsert(Document({"counters": counters}, doc_id=1))
        data = storage.read() or {TABLE: {}}
        storage.storage.write(data)        # written even when nothing changed (a reseal)
        return data

    def _append_history(self, table: str, p: str, lines: list[tuple[int, bytes]]) -> None:
        """Append the lines the file does not hold yet (a replay after a crash mid-checkpoint
        finds some there already: history is in time order, the last line's time tells)."""
        path = self._history_path(table, p)
        last = chain.last_line(path)
        try:
            done = json.loads(last).get(TIME_KEY, 0) if last else 0
        except (ValueError, AttributeError):
            done = 0
        fresh = [blob for t, blob in lines if t > done]
        if fresh:
            self._unsynced.add(path.parent)      # a new file's name: fsynced with the village files
            atomic.append_lines(path, fresh, sync_dir=False)
        atomic.step("history-appended")

    def _head(self, table: str, p: str) -> str:
        key = (table, p)
        if key not in self._heads:
            self._heads[key] = chain.head(self._history_path(table, p))
        return self._heads[key]

    # ----------------------------------------------------------------- writing
    def _entry_ops(self, table: str, record: dict[str, Any], index_row: dict[str, Any], t: int,
                   rows: Mapping[str, dict[str, Any]] | None) -> tuple[str, str, dict[str, Any], list[list[Any]]]:
        """Check one item: (id, village, document, journal ops) — the move out of the old
        village included. `rows`: the table's rows, to find where the record was."""
        if not isinstance(record, dict) or not isinstance(record.get("id"), str) or not record["id"]:
            raise StorageError("记录缺少编号 id，无法保存")
        if not isinstance(index_row, dict):
            raise StorageError("列表行和历史条目必须是字典 (index_row/history_entry must be dicts)")
        rid = record["id"]
        p = names.check_partition(record.get("partition"))
        doc = {**record, ROW_KEY: dict(index_row), TIME_KEY: t}
        held = rows.get(rid) if rows is not None else None
        lived = {p, *(_history_partitions(held) if held else ())}
        if len(lived) > 1:
            doc[HIST_KEY] = sorted(lived)
        ops = [[table, p, rid, doc]]
        if held is not None and held["_p"] != p:
            ops.append([table, held["_p"], rid, None])
        return rid, p, doc, ops

    def _history_line(self, table: str, p: str, rid: str, t: int, entry: dict[str, Any]) -> list[Any]:
        if not isinstance(entry, dict):
            raise StorageError("列表行和历史条目必须是字典 (index_row/history_entry must be dicts)")
        try:
            line = chain.link({"_id": rid, TIME_KEY: t, **entry}, self._head(table, p))
        except (TypeError, ValueError) as exc:
            raise StorageError(f"修改历史中有无法保存的值（{exc}）(not JSON-serialisable)") from None
        self._heads[(table, p)] = chain.digest(line)
        return [table, p, line.decode("utf-8")]

    def _numbers(self, table: str, p: str) -> list[list[Any]]:
        taken = self._reserved.pop((table, p), None)
        return [[table, p, taken]] if taken else []

    @_serialised
    def put(self, table: str, record: dict[str, Any], index_row: dict[str, Any],
            history_entry: dict[str, Any] | None = None, *,
            derived: tuple[str, list[Item]] | None = None, new: bool = False) -> None:
        """Save one record — with its history entry, the rows `derived` from it (`(table,
        items)`, the engine's rollup) and any number it took — as one journal line.

        `new`: the record's id was just made (a fresh uuid4), so it is not looked for in the
        table (which then need not be loaded).
        """
        self._check_writable()
        names.check_table(table)
        rows = None if new and table not in self._tables else self._state(table)
        t = self._next_t()
        heads = dict(self._heads)
        try:
            rid, p, _, ops = self._entry_ops(table, record, index_row, t, rows)
            entry: dict[str, Any] = {"t": t, "ops": ops}
            if history_entry is not None:
                entry["h"] = [self._history_line(table, p, rid, t, history_entry)]
            if derived is not None and derived[1]:
                d_rows = self._state(derived[0])
                for rec, row, _ in derived[1]:
                    entry["ops"] += self._entry_ops(derived[0], rec, row, t, d_rows)[3]
            numbers = self._numbers(table, p)
            if numbers:
                entry["n"] = numbers
            self._commit(entry)
        except BaseException:
            self._heads = heads      # the chain goes on from what is really written
            raise

    def put_many(self, table: str, items: Iterable[Item], *,
                 derived: tuple[str, list[Item]] | None = None, new: bool = False) -> int:
        """Save many `(record, index_row, history_entry)` items — with the rows `derived` from
        them (`(table, items)`, the engine's rollup) and the numbers they took — as ONE journal
        line, fsynced once: after a crash the whole batch is there, or none of it. Then the
        village files are rewritten (a batch is large).

        For bulk loads (demo data, imports). A bad item refuses the whole batch. `new`: every
        id was just made, so the table's stored rows need not be loaded to find moves. The
        village files are written behind (`_write_behind`): the previous batch's first.
        """
        self._join_writer()          # outside the lock: the writer takes it
        with self._mutex:
            return self._put_many(table, items, derived, new)

    def _put_many(self, table: str, items: Iterable[Item], derived: tuple[str, list[Item]] | None,
                  new: bool) -> int:
        self._check_writable()
        rows = {} if new and table not in self._tables else self._state(table)
        heads = dict(self._heads)
        ops: list[list[Any]] = []
        lines: list[list[Any]] = []
        where: dict[str, dict[str, Any]] = {}
        # where each record is, this batch's items included; fresh ids (`new`) are in no stored row
        view = where if new else ChainMap(where, rows)
        try:
            for record, index_row, history_entry in items:
                t = self._next_t()
                rid, p, doc, more = self._entry_ops(table, record, index_row, t, view)
                where[rid] = row_of(doc, p)
                ops += more
                if history_entry is not None:
                    lines.append(self._history_line(table, p, rid, t, history_entry) + [t])
            if derived is not None and derived[1]:
                t = self._next_t()
                d_where: dict[str, dict[str, Any]] = {}
                d_view = ChainMap(d_where, self._state(derived[0]))
                for rec, row, _ in derived[1]:
                    rid, p, doc, more = self._entry_ops(derived[0], rec, row, t, d_view)
                    d_where[rid] = row_of(doc, p)
                    ops += more
            if ops:
                entry: dict[str, Any] = {"t": self._last_t, "ops": ops, "h": lines}
                numbers = [n for key in sorted(self._reserved) for n in self._numbers(*key)]
                if numbers:
                    entry["n"] = numbers
                self._commit(entry)
        except BaseException:
            self._heads = heads
            raise
        self._write_behind()
        return len(where)

    def _write_behind(self) -> None:
        """Write the batch just committed into its village files from a thread of its own, so
        that the caller prepares the next batch meanwhile: the files' writes and fsyncs are
        mostly waiting on the disk (three quarters of a 50,000-person demo's checkpoints),
        time the next batch's validation can use. The thread holds the store's lock while it
        writes: the next batch, and every read, waits for it (`put_many` takes the lock), so
        no more than one batch is ever held beyond its files. The journal holds the batch
        until its files are written, as with any checkpoint, so a crash meanwhile loses
        nothing acknowledged; a failure is told to the next save (`_commit`) and at `close`."""
        self._writer = threading.Thread(target=self._write_batch, name="carebook-bulk-writer", daemon=True)
        self._writer.start()

    def _write_batch(self) -> None:
        with self._mutex:
            if self._closed:
                return
            try:
                self._checkpoint(keep=False)
            except StorageError as exc:          # reported to the next save, and at close
                self._compact_error = exc

    def wait_for_writes(self) -> None:
        """Return once the last bulk batch is in its village files (`_write_behind`): the end
        of a bulk save, so that what follows reads files no thread is writing."""
        self._join_writer()
        if self._compact_error is not None:
            error, self._compact_error = self._compact_error, None
            raise error

    def settle(self) -> None:
        """Return once the day's backup and the last bulk batch's writer have ended: the
        store's threads that a caller about to `fork` (`core.transfer.bulkfork`) must not
        leave holding a lock the copy would inherit held."""
        self.wait_for_backup()
        self.wait_for_writes()

    def _join_writer(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None and writer is not threading.current_thread():
            writer.join()

    @_serialised
    def next_number(self, table: str, partition: str, key: str, *, seed: Callable[[], int],
                    taken: Callable[[int], bool] = lambda n: False) -> int:
        """The next number of counter `key` in one village (a file number's sequence).

        The counter is stored with the village; it advances in the journal line of the next
        `put` into that village, so a number is used once even across a crash, and a save that
        is refused leaves no gap. `seed()` gives the highest number in use when the village has
        no counter yet (a ledger from before counters); `taken(n)` skips numbers typed by hand.
        """
        self._check_writable()
        p = names.check_partition(partition)
        k = (names.check_table(table), p)
        held = self._counters.get(k, {}).get(key)
        if held is None:
            held = self._index(table, p)[1].get(key)
        n = (seed() if held is None else held) + 1
        while taken(n):
            n += 1
        self._reserved.setdefault(k, {})[key] = n
        return n

    # ----------------------------------------------------------------- reading
    @_serialised
    def get(self, table: str, rid: str) -> dict[str, Any] | None:
        row = self._state(table).get(rid) if isinstance(rid, str) else None
        if row is None:
            return None
        doc = self._docs(table, row["_p"]).get(rid)
        return None if doc is None else _public(doc)

    @_serialised
    def select(self, table: str, partition: str, test: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        """The records of one partition whose list row passes `test`, in file order.

        A table not loaded whole reads just this partition's index file."""
        p = names.check_partition(partition)
        self._check_open()
        loaded = self._tables.get(names.check_table(table))
        rows = ({rid: row for rid, row in loaded.items() if row["_p"] == p} if loaded is not None
                else self._part_rows(table, p))
        chosen = [rid for rid, row in rows.items() if test(row)]
        if not chosen:
            return []
        docs = self._docs(table, p)
        return [_public(docs[rid]) for rid in chosen if rid in docs]

    @_serialised
    def rows_holding(self, table: str, field: str, value: str, *, prefix: bool = False) -> dict[str, dict[str, Any]]:
        """{id: list row} of the rows whose `field` is `value` (with `prefix`: starts with it),
        without loading the table: the duplicate ID number and file number checks of one save,
        and the seed of a village's file numbers (`carebook records add` read all 50,000 rows
        for them). Each village's index file is searched as bytes for the value as JSON writes
        it; a village is read only when its file holds it, or when its index cannot be trusted
        as it is (changed by the journal, damaged, describing other data). An exact hit is
        confirmed over the whole table, as `_state` resolves a record found in two villages
        (for a prefix, such an old copy can only raise a seed: a number skipped, never reused).
        A table already loaded answers from memory."""
        self._check_open()

        def holds(row: dict[str, Any]) -> bool:
            got = row.get(field)
            return got == value if not prefix else isinstance(got, str) and got.startswith(value)

        loaded = self._tables.get(names.check_table(table))
        if loaded is None and self._index_bytes(table) <= LOAD_WHOLE_BYTES:
            loaded = self._state(table)      # a small table: read once, then asked in memory
        if loaded is None:
            needle = atomic.dumps(value)[:-1] if prefix else atomic.dumps(value)
            found: dict[str, dict[str, Any]] = {}
            for p in sorted(self._disk_partitions(table)):
                if (table, p) in self._ops or not self._index_lacks(table, p, needle):
                    found.update((rid, row) for rid, row in self._part_rows(table, p).items() if holds(row))
            if prefix or not found:
                return found
            loaded = self._state(table)
        return {rid: row for rid, row in loaded.items() if holds(row)}

    def _index_bytes(self, table: str) -> int:
        """The size of the table's index files together (a stat each, nothing read)."""
        folder = self.root / RECORDS / table
        try:
            return sum(f.stat().st_size for f in folder.iterdir() if f.name.endswith(INDEX_SUFFIX))
        except OSError:
            return 0

    def _index_lacks(self, table: str, p: str, needle: bytes) -> bool:
        """Whether the village's index file can be trusted as it is (`_trusted_index`) and holds
        `needle` nowhere (so no row of the village holds the value)."""
        raw = self._trusted_index(table, p)
        return raw is not None and needle not in raw

    def _trusted_index(self, table: str, p: str) -> bytes | None:
        """The bytes of the village's index file when it is intact and was built from its data
        file as it is now, the journal having nothing newer for the village; else None."""
        if (table, p) in self._ops:
            return None
        try:
            raw = self._index_path(table, p).read_bytes()
        except OSError:
            return None
        at = raw.rfind(sealed._SEAL_AT)
        meta_at = raw.rfind(b'"' + META.encode() + b'":{"1":{"data":', 0, max(at, 0))
        if at < 0 or meta_at < 0:
            return None
        try:
            crc = int(raw[at + len(sealed._SEAL_AT):].split(b":")[-1].rstrip(b"}"))
            made_from = int(raw[meta_at:at].split(b'"data":', 1)[1].split(b",", 1)[0].rstrip(b"}"))
        except (ValueError, IndexError):
            return None
        if zlib.crc32(memoryview(raw)[:at]) != crc or made_from != sealed.crc_of(self._data_path(table, p)):
            return None
        return raw

    @_serialised
    def row_counts(self, table: str) -> dict[str, int]:
        """{village: its number of list rows}, counted in the index files' bytes (every row has
        one save time, `"_t":`, which no JSON text value can hold unescaped) instead of parsed;
        a village whose index cannot be trusted as it is is read. For the total of a list whose
        first page is all that is shown (`carebook records list --limit 1`). A record left in two
        villages by an interrupted move in a ledger from before the journal counts twice here
        until a writer has loaded the table once (which removes the older copy)."""
        self._check_open()
        loaded = self._tables.get(names.check_table(table))
        if loaded is not None:
            out: dict[str, int] = {}
            for row in loaded.values():
                out[row["_p"]] = out.get(row["_p"], 0) + 1
            return dict(sorted(out.items()))
        counts = {}
        for p in sorted(self._disk_partitions(table)):
            raw = self._trusted_index(table, p)
            counts[p] = raw.count(b'"' + TIME_KEY.encode() + b'":') if raw is not None else len(self._part_rows(table, p))
        return counts

    @_serialised
    def partition_rows(self, table: str, p: str) -> dict[str, dict[str, Any]]:
        """The list rows of one village as `index` would show them (shared: do not change them)."""
        self._check_open()
        loaded = self._tables.get(names.check_table(table))
        if loaded is not None:
            return {rid: row for rid, row in loaded.items() if row["_p"] == p}
        return self._part_rows(table, names.check_partition(p))

    @_serialised
    def rows(self, table: str, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The list rows of `ids` that exist (shared: do not change them)."""
        rows = self._state(table)
        return {rid: rows[rid] for rid in ids if rid in rows}

    def scan_rows(self, table: str, fields: Iterable[str],
                  where: Callable[[dict[str, Any]], bool] | None = None) -> dict[str, dict[str, Any]]:
        """{id: {field: value, "_p": partition}} for the list rows passing `where`, read one
        partition's index file at a time and not kept. (A table already loaded whole answers
        from memory with its full rows: do not change them.)

        For a pass over a big table not loaded whole: the quarter's summary counts 300,000
        visits by date and level; only the rows kept, and only `fields`, are held.
        """
        fields = tuple(fields)
        shared: dict[Any, Any] = {}

        def pick(row: dict[str, Any], p: str) -> dict[str, Any]:
            out = {f: _share(shared, row.get(f)) for f in fields}
            out["_p"] = _share(shared, p)
            return out

        with self._mutex:
            self._check_open()
            loaded = self._tables.get(names.check_table(table))
            if loaded is not None:
                return dict(loaded) if where is None else {rid: row for rid, row in loaded.items() if where(row)}
            partitions = sorted(self._disk_partitions(table))
        kept: dict[str, tuple[int, dict[str, Any]]] = {}
        for p in partitions:
            with self._mutex:
                rows = self._part_rows(table, p)
            for rid, row in rows.items():
                if where is not None and not where(row):
                    continue
                t = _time(row)
                if rid not in kept or kept[rid][0] < t:
                    kept[rid] = (t, pick(row, p))
        return {rid: row for rid, (_, row) in kept.items()}

    @_serialised
    def index(self, table: str) -> dict[str, dict[str, Any]]:
        """id → list row (with `_p`, the partition). Rows are shared: do not change them."""
        return dict(self._state(table))

    def iter_records(self, table: str, partitions: Iterable[str] | None = None) -> Iterator[dict[str, Any]]:
        """Every record, one partition at a time; files read here are not kept in the cache."""
        with self._mutex:
            self._check_open()
            names.check_table(table)
            if partitions is None:
                chosen = sorted({row["_p"] for row in self._state(table).values()})
            else:
                chosen = [names.check_partition(p) for p in partitions]
        return self._iter_parts(table, chosen)

    def _iter_parts(self, table: str, chosen: list[str], shape: Callable[[dict[str, Any]], dict[str, Any]] = _public,
                    keep: bool = False) -> Iterator[dict[str, Any]]:
        for p in chosen:
            with self._mutex:
                loaded = self._tables.get(table)
                docs = [shape(doc) for rid, doc in self._docs(table, p, keep=keep or (table, p) in self._cache).items()
                        if loaded is None or loaded.get(rid, {}).get("_p") == p]
            yield from docs

    def iter_shared(self, table: str, partitions: Iterable[str], keep: bool = False) -> Iterator[dict[str, Any]]:
        """The records of `partitions` as `iter_records` gives them, but NOT copied: the parsed
        documents themselves (storage keys left out), for a reader that never changes them.
        Re-evaluation and migration read all 50,000 records; copying each one was a seventh of
        their time. A caller that wants to change a record copies what it changes. `keep`: the
        parsed file stays cached (a migration writes the village next)."""
        return self._iter_parts(table, self._checked_parts(table, partitions), _shared, keep)

    def _checked_parts(self, table: str, partitions: Iterable[str]) -> list[str]:
        """`partitions` of `table` checked as names, on an open store."""
        with self._mutex:
            self._check_open()
            names.check_table(table)
            return [names.check_partition(p) for p in partitions]

    @_serialised
    def history(self, table: str, rid: str) -> list[dict[str, Any]]:
        """Every history entry of a record, oldest first, following its moves between villages.

        A history file whose hash chain is broken is reported (`problems`) and still read."""
        if not isinstance(rid, str):
            return []
        row = self._state(table).get(rid)
        places = _history_partitions(row) if row is not None else self._history_files(table)
        needle = json.dumps(rid, ensure_ascii=False).encode("utf-8")
        found = []
        for p in places:
            path = self._history_path(table, p)
            raw = self._check_chain(path)
            found += [d for d in chain.entries(path, needle, raw) if d.get("_id") == rid]
            found += [d for _, blob in self._hist.get((table, p), ()) if needle in blob
                      for d in [json.loads(blob)] if d.get("_id") == rid and d not in found]
        found.sort(key=_time)
        return [{k: v for k, v in d.items() if k not in ("_id", TIME_KEY, chain.PREV)} for d in found]

    @_serialised
    def histories(self, table: str) -> list[tuple[str, dict[str, Any]]]:
        """(record id, entry) of every history entry of the table, each record's oldest first:
        a whole-ledger copy (`carebook ledger copy`) reads each village's file once, where
        `history` per record reads (and checks) the village's file again for every record."""
        found: dict[str, list[dict[str, Any]]] = {}
        for p in sorted(self._history_files(table)):
            path = self._history_path(table, p)
            docs = chain.entries(path, raw=self._check_chain(path))
            seen = {(d.get("_id"), d.get(TIME_KEY)) for d in docs}
            pending = [json.loads(blob) for _, blob in self._hist.get((table, p), ())]   # not yet in the file
            for d in docs + [d for d in pending if (d.get("_id"), d.get(TIME_KEY)) not in seen]:
                if isinstance(d.get("_id"), str):
                    found.setdefault(d["_id"], []).append(d)
        out = []
        for rid, docs in found.items():
            docs.sort(key=_time)
            out += [(rid, {k: v for k, v in d.items() if k not in ("_id", TIME_KEY, chain.PREV)}) for d in docs]
        return out

    def _check_chain(self, path: Path) -> bytes:
        """Report a broken history chain once; a file found whole is parsed again only from
        where it was last found whole (`chain.check`). The bytes checked, for the caller to
        read its entries from (the file is read once)."""
        raw = chain.read(path)
        if path in self._reported:
            return raw
        broken, checked = chain.check(path, self._chains.get(path), raw)
        if checked is not None:
            self._chains[path] = checked
        else:
            self._chains.pop(path, None)
        if broken is not None:
            self._reported.add(path)
            rel = path.relative_to(self.root).as_posix()
            self.problems.append(Problem(
                f"修改历史 {rel} 第 {broken[0]} 行：{broken[1]}。请运行 carebook verify，并用备份核对",
                file=rel, line=broken[0], severity="error", rule="storage.history_chain"))
        return raw

    def _history_files(self, table: str) -> set[str]:
        folder = self.root / HISTORY / table
        found = {p for t, p in self._hist if t == table}
        if folder.is_dir():
            found |= {f.name[: -len(HISTORY_SUFFIX)] for f in folder.glob(f"*{HISTORY_SUFFIX}")}
        return found

    @_serialised
    def count(self, table: str) -> int:
        return len(self._state(table))

    @_serialised
    def tables(self) -> list[str]:
        self._check_open()
        folder = self.root / RECORDS
        on_disk = {d.name for d in folder.iterdir() if d.is_dir()} if folder.is_dir() else set()
        return sorted(on_disk | set(self._tables) | {t for t, _ in self._ops})

    @_serialised
    def partitions(self, table: str) -> list[str]:
        """Partitions holding at least one record."""
        return sorted({row["_p"] for row in self._state(table).values()})

    # ----------------------------------------------------------------- files as a cache key
    # For caches derived from the list rows (`core.reporting.columncache`): what a partition's
    # files are now, and its rows together with the files they were read from.
    def _files_key(self, table: str, p: str, pending: bool = True) -> tuple[int, ...] | None:
        """The CRC each of the partition's two files records of itself, with their size, time
        and inode: a new file (every write is an atomic rename) or a changed byte gives another
        key. None when the files alone do not tell the rows: journal changes not yet written,
        a file missing or unsealed. `pending=False`: the journal's changes are the ones being
        written into these files right now (`_tell_written`)."""
        if pending and self._ops.get((table, p)):
            return None
        key: list[int] = []
        for path in (self._data_path(table, p), self._index_path(table, p)):
            crc = sealed.crc_of(path)
            try:
                st = path.stat()
            except OSError:
                return None
            if crc is None:
                return None
            key += [crc, st.st_size, st.st_mtime_ns, st.st_ino]
        return tuple(key)

    @_serialised
    def files_keys(self, table: str) -> dict[str, tuple[int, ...] | None]:
        """{partition: `_files_key`} for every partition of the table, in partition order."""
        self._check_open()
        names.check_table(table)
        return {p: self._files_key(table, p) for p in sorted(self._disk_partitions(table))}

    @_serialised
    def keyed_part_rows(self, table: str, p: str) -> tuple[dict[str, dict[str, Any]], tuple[int, ...] | None]:
        """(current list rows of one partition — shared, do not change them —, the files key
        they follow from); the key is None when they may not be kept under one (the files
        changed while read, or were found damaged and set aside)."""
        self._check_open()
        before, problems = self._files_key(table, p), len(self.problems)
        rows = self._part_rows(table, p)
        same = before is not None and len(self.problems) == problems and self._files_key(table, p) == before
        return rows, before if same else None

    # ----------------------------------------------------------------- re-evaluation's kept values (issue 10)
    def iter_stamped(self, table: str, partitions: Iterable[str], keep: bool = False) -> Iterator[tuple[int, dict[str, Any]]]:
        """(save time `_t`, record as `iter_shared` gives it) of each record of `partitions`:
        values kept beside the ledger are matched to the list rows by the save time of the very
        document they were taken from (`core.lifecycle.keptfiles`)."""
        return self._iter_parts(table, self._checked_parts(table, partitions),
                                lambda doc: (_time(doc), _shared(doc)), keep)

    @_serialised
    def files_key(self, table: str, p: str) -> tuple[int, ...] | None:
        """`files_keys` of one partition (a stat and a seal read of its two files)."""
        self._check_open()
        return self._files_key(names.check_table(table), names.check_partition(p))

    def last_save_time(self) -> int:
        """The save time (`_t`) of the last save in this store, or the newest a loaded table
        holds: a record whose `_t` is at most this was saved by then (re-evaluation's marker)."""
        return self._last_t

    def when_written(self, table: str,
                     listener: Callable[[str, dict[str, dict[str, Any]], tuple[int, ...] | None], None]) -> None:
        """Call `listener(partition, documents, files key)` after each village file of `table` and
        its index are rewritten (a checkpoint, a bulk batch), on the writing thread, with the
        documents the file now holds (shared: do not change them) and the key of the files as
        written (None: not to be kept). A failing listener never fails the write. Per table, so
        a write of a table nobody listens to costs nothing (no files key worked out)."""
        self._written.setdefault(table, []).append(listener)

    def _tell_written(self, table: str, p: str, village: Village) -> None:
        listeners = self._written.get(table)
        if not listeners:
            return
        key = self._files_key(table, p, pending=False)
        for listener in list(listeners):
            try:
                listener(p, village.docs, key)
            except Exception as exc:  # noqa: BLE001 - a cache beside the ledger; the write itself stands
                logging.getLogger("carebook.store").warning("写入后留值失败（文件已写好，不受影响）：%s",
                                                            describe_error(exc))

    # ----------------------------------------------------------------- lifetime
    def close(self) -> None:
        """Write the journal into the village files (a writer), then let go of the folder."""
        self._join_writer()          # outside the lock: the bulk writer takes it
        self._close()

    @_serialised
    def _close(self) -> None:
        if self._closed:
            return
        try:
            self.wait_for_backup()
            if self._journal is not None:
                self._checkpoint()
        finally:
            self._closed = True
            self._cache.clear()
            self._tables.clear()
            if self._journal is not None:
                self._journal.close()
            if self._lock is not None:
                self._lock.release()
                self._lock = None

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
