"""`Store`: carebook's records on disk, one TinyDB file per table and village.

Why this shape: TinyDB rewrites its whole file on every change (~650 ms at 50,000 people in
one file). Splitting each table by partition (village) bounds a save to one village's file.
TinyDB's `Table` over `tinystorage.VillageStorage` (crash-safe writes) does the work where the
whole village is wanted anyway: index rebuilds, `iter_records`, bulk loads (`put_many`) and the
clean-up after a crash mid-move. A single save (`put`) takes the text path instead: a village is
held as its documents' JSON text (`tinyfile.Documents`, LRU-bounded), a save encodes one document
and joins the rest, and the first save to a village not in memory cuts the file by the byte spans
its index recorded (checked by size and CRC-32) instead of parsing it; the same save through
TinyDB costs 3.6 times as much, over the 20 ms target (figures in `tinystorage`). The index file
takes the saved row spliced into its text (`indexfile`, format 3), not every row encoded again. `get` cuts one
document out of the village's text and parses only that. Open reads only the small index files.
See docs/design.md ("Storage") for the layout.
"""
from __future__ import annotations

import functools
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

from tinydb import TinyDB, where
from tinydb.middlewares import CachingMiddleware
from tinydb.table import Document

from core.problems import Problem
from core.storage import atomic, backups, history, indexfile, lock, names, quarantine
from core.storage.errors import StorageError
from core.storage.indexfile import IndexText, LazyRows
from core.storage.partfile import HIST_KEY, PRIVATE_KEYS, ROW_KEY, TIME_KEY, PartitionFile
from core.storage.tinyfile import TABLE, CorruptFile, Documents
from core.storage.tinystorage import VillageStorage

RECORDS, HISTORY = "records", "history"
DATA_SUFFIX, INDEX_SUFFIX, HISTORY_SUFFIX = ".json", ".index.json", ".jsonl"
Item = tuple[dict[str, Any], dict[str, Any], "dict[str, Any] | None"]


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
    """A freshly parsed document without storage keys (callers may change it freely)."""
    return {k: v for k, v in doc.items() if k not in PRIVATE_KEYS}


def _encode(doc: dict[str, Any]) -> bytes:
    try:
        return atomic.dumps(doc)
    except (TypeError, ValueError) as exc:
        raise StorageError(f"记录中有无法保存的值（{exc}）(not JSON-serialisable)") from None


def _history_partitions(row: dict[str, Any]) -> list[str]:
    """Villages whose history files hold entries of the record this row lists."""
    lived = row.get(HIST_KEY)
    return lived if isinstance(lived, list) and all(isinstance(p, str) for p in lived) else [row["_p"]]


class _Table:
    """What the index files say about one table: every row, by id and by partition.

    A table not loaded whole (a save into one village's visits) may hold partitions as
    `LazyRows` (`lazy`, also in `by_part`): their rows are not in `rows`, `row` finds them.
    """

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        self.by_part: dict[str, Mapping[str, dict[str, Any]]] = {}
        self.lazy: dict[str, LazyRows] = {}

    def row(self, rid: str, p: str | None = None) -> dict[str, Any] | None:
        """The row of `rid`: parsed partitions first, then lazily read ones (`p` searched first)."""
        found = self.rows.get(rid)
        if found is None and self.lazy:
            here = self.lazy.get(p) if p is not None else None
            found = here.get(rid) if here is not None else None
            if found is None:
                found = next((lz.get(rid) for q, lz in self.lazy.items() if q != p and rid in lz), None)
        return found

    def set(self, rid: str, row: dict[str, Any]) -> None:
        """Record a saved row; a lazy partition's rows are replaced as a whole by its writer."""
        old = self.rows.get(rid)
        if old is not None and old["_p"] != row["_p"]:
            owner = self.by_part.get(old["_p"])
            if isinstance(owner, dict):
                owner.pop(rid, None)
            del self.rows[rid]
        if row["_p"] in self.lazy:
            return
        self.rows[rid] = row
        self.by_part.setdefault(row["_p"], {})[rid] = row  # type: ignore[index]

    def drop_partition(self, p: str) -> None:
        if self.lazy.pop(p, None) is None:
            for rid in self.by_part.pop(p, {}):
                if self.rows.get(rid, {}).get("_p") == p:
                    del self.rows[rid]
        self.by_part[p] = {}


class Store:
    """Records of every table under `root`; see the module docstring and docs/design.md."""

    def __init__(self, root: Path, readonly: bool = False, *, backup_every_hours: float | None = 24,
                 keep_backups: int = 7, cache_partitions: int = 24):
        self.root = Path(root)
        self.readonly = readonly
        self.problems: list[Problem] = []
        self._lock = None
        self._tables: dict[str, _Table] = {}
        # Partitions read for a save into a table not loaded whole (a new visit needs its own
        # village's rows, not the 300,000 rows of every village); dropped when the table loads.
        self._partials: dict[str, _Table] = {}
        self._cache: OrderedDict[tuple[str, str], PartitionFile] = OrderedDict()
        self._cache_size = max(2, cache_partitions)
        # Layouts of index files just read, so the save or the person file that follows can
        # cut the village's data file without reading its index a second time (~7 ms for a
        # village's visits). A layout is checked against the file's size and CRC before use.
        self._layouts: OrderedDict[tuple[str, str], Any] = OrderedDict()
        self._reported: set[Path] = set()
        self._unmovable: set[Path] = set()  # damaged files a writer could not set aside
        self._last_t = 0
        self._closed = False
        self._mutex = threading.RLock()
        if readonly:
            return
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"无法创建数据文件夹 {self.root}（{exc.strerror or exc}）") from None
        self._lock = lock.acquire(self.root)
        if backup_every_hours is not None:
            try:
                backups.rotate(self.root, backup_every_hours, keep_backups)
            except OSError as exc:
                self.problems.append(Problem(
                    f"自动备份失败（{exc.strerror or exc}），请检查磁盘空间 (backup failed)",
                    severity="warning", rule="storage.backup"))

    # ----------------------------------------------------------------- paths and state
    def _data_path(self, table: str, p: str) -> Path:
        return self.root / RECORDS / table / f"{p}{DATA_SUFFIX}"

    def _index_path(self, table: str, p: str) -> Path:
        return self.root / RECORDS / table / f"{p}{INDEX_SUFFIX}"

    def _history_path(self, table: str, p: str) -> Path:
        return self.root / HISTORY / table / f"{p}{HISTORY_SUFFIX}"

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError("数据存储已关闭 (store closed)")

    def _check_writable(self) -> None:
        self._check_open()
        if self.readonly:
            raise StorageError("数据文件夹以只读方式打开，不能保存 (read-only store)")

    def _next_t(self) -> int:
        self._last_t = max(self._last_t + 1, time.time_ns())
        return self._last_t

    def _problem(self, path: Path, reason: str, *, rebuilt: bool) -> None:
        """Set a damaged file aside (writer) and report it once."""
        if path in self._reported and self.readonly:
            return
        self._reported.add(path)
        self.problems.append(quarantine.set_aside(self.root, path, reason, move=not self.readonly, rebuilt=rebuilt))
        if not self.readonly and path.exists():
            self._unmovable.add(path)

    def _disk_partitions(self, table: str) -> set[str]:
        folder = self.root / RECORDS / table
        if not folder.is_dir():
            return set()
        if not self.readonly:
            atomic.remove_stale_temps(folder)
        found = set()
        for f in folder.iterdir():
            if f.name.startswith("."):
                continue
            if f.name.endswith(INDEX_SUFFIX):
                found.add(f.name[: -len(INDEX_SUFFIX)])
            elif f.name.endswith(DATA_SUFFIX):
                found.add(f.name[: -len(DATA_SUFFIX)])
        return found

    def _state(self, table: str) -> _Table:
        """The table's rows, loaded from its index files on first use."""
        self._check_open()
        state = self._tables.get(names.check_table(table))
        if state is not None:
            return state
        state = _Table()
        stale: list[tuple[str, str]] = []
        for p in sorted(self._disk_partitions(table)):
            rows = self._load_index(table, p)
            state.by_part[p] = {}
            for rid, row in rows.items():
                row["_p"] = p
                held = state.rows.get(rid)
                if held is not None and held.get(TIME_KEY, 0) >= row.get(TIME_KEY, 0):
                    stale.append((rid, p))
                    continue
                if held is not None:
                    stale.append((rid, held["_p"]))
                state.set(rid, row)
        self._tables[table] = state
        self._partials.pop(table, None)
        if not self.readonly:
            for rid, p in stale:  # a crash mid-move left a second, older copy behind
                self._write(table, p, {}, {rid}, [], through_tinydb=True)
        return state

    def _state_for(self, table: str, p: str | None) -> _Table:
        """The whole table when it is loaded, else just the rows of partition `p`.

        A record that moved from a village not read here leaves its old copy behind; the next
        whole-table load keeps the newer copy (by save time) and removes the old one, as after
        a crash mid-move.
        """
        self._check_open()
        if table in self._tables or p is None:
            return self._state(table)
        part = self._partials.setdefault(names.check_table(table), _Table())
        if p in part.by_part:
            return part
        data_path, index_path = self._data_path(table, p), self._index_path(table, p)
        # A format-3 index that matches its data file is kept as text: a new visit in a
        # village of 2,400 visits then splices its row in and parses none of theirs (~6 ms).
        found = indexfile.read_text(index_path, data_path)
        if found is not None:
            text, data_layout = found
            part.by_part[p] = part.lazy[p] = LazyRows(text, p)
            self._keep_layout(table, p, data_layout)
            return part
        rows = self._load_index(table, p) if data_path.exists() or index_path.exists() else {}
        part.by_part[p] = {}
        for rid, row in rows.items():
            row["_p"] = p
            part.set(rid, row)
        return part

    def _load_index(self, table: str, p: str) -> dict[str, dict[str, Any]]:
        index_path, data_path = self._index_path(table, p), self._data_path(table, p)
        try:
            found = indexfile.load_with_layout(index_path, data_path)
        except CorruptFile as exc:
            self._problem(index_path, exc.reason, rebuilt=True)
            found = None
        if found is not None:
            rows, data_layout = found
            self._keep_layout(table, p, data_layout)
            return rows
        try:
            part, docs, data_layout = PartitionFile.parse(data_path)
        except CorruptFile as exc:
            self._problem(data_path, exc.reason, rebuilt=False)
            part, docs, data_layout = PartitionFile(data_path), [], None
        self._remember(table, p, part)
        rows = indexfile.rows_from_docs(docs, p)
        if not self.readonly and data_path not in self._unmovable:
            indexfile.save(index_path, data_path, rows, data_layout)
        return rows

    def _keep_layout(self, table: str, p: str, data_layout: Any) -> None:
        if data_layout is not None and (table, p) not in self._cache:
            self._layouts[(table, p)] = data_layout
            while len(self._layouts) > self._cache_size:
                self._layouts.popitem(last=False)

    def _index_text(self, table: str, state: _Table, p: str) -> IndexText | None:
        """The rows part of `p`'s index file as text to splice a save into, or `None`.

        A lazily read partition holds it, a village written in this session keeps what it wrote
        (`PartitionFile.index_text`); otherwise it is read again from the file, which in a
        writer's session holds exactly the rows this store has for `p` (they were read from it
        or written to it); `None` when it cannot be cut into lines (`indexfile.read_text`).
        """
        lazy = state.lazy.get(p)
        if lazy is not None:
            return lazy.text
        cached = self._cache.get((table, p))
        if cached is not None and cached.index_text is not None:
            return cached.index_text
        found = indexfile.read_text(self._index_path(table, p), self._data_path(table, p))
        if found is None:
            return None
        self._keep_layout(table, p, found[1])
        return found[0]

    def _partition(self, table: str, p: str) -> tuple[PartitionFile, bool]:
        """The partition (LRU-cached) and whether its file was just found damaged."""
        key = (table, p)
        part = self._cache.get(key)
        if part is not None:
            self._cache.move_to_end(key)
            return part, False
        path = self._data_path(table, p)
        damaged = False
        data_layout = self._layouts.pop(key, None)
        if data_layout is None:
            data_layout = indexfile.layout(self._index_path(table, p))
        try:
            part = PartitionFile.load(path, data_layout)
        except CorruptFile as exc:
            damaged = True
            self._problem(path, exc.reason, rebuilt=False)
            part = PartitionFile(path)
        self._remember(table, p, part)
        return part, damaged

    def _remember(self, table: str, p: str, part: PartitionFile) -> None:
        """Cache a partition's text; the least recently used go first (bounded memory)."""
        self._cache[(table, p)] = part
        self._cache.move_to_end((table, p))
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def _usable_partition(self, table: str, state: _Table, p: str) -> PartitionFile:
        part, damaged = self._partition(table, p)
        if damaged:
            state.drop_partition(p)
            if not self.readonly:
                self._index_path(table, p).unlink(missing_ok=True)
        return part

    # ----------------------------------------------------------------- writing
    def _write(self, table: str, p: str, docs: dict[str, tuple[dict[str, Any], bytes | None]],
               removes: set[str], lines: list[bytes], through_tinydb: bool = False) -> None:
        """Data file and index file made durable together, then history appended.

        `docs`: record id → (document, its JSON or `None` to encode here). Both files are
        renamed only once both are on disk, and history comes last: a crash can only
        shorten what was saved. Rows and cache change only after the files are in place.
        `through_tinydb`: write with TinyDB's `Table` (bulk loads, clean-up), which encodes the
        whole village again; single saves keep the text path (see `tinystorage`).
        """
        self._commit([self._stage(table, p, docs, removes, through_tinydb)])
        self._append_history(table, p, lines)

    def _stage(self, table: str, p: str, docs: dict[str, tuple[dict[str, Any], bytes | None]],
               removes: set[str], through_tinydb: bool = False) -> "_Pending":
        """Everything a write of one partition needs, made before any file is touched.

        Through TinyDB the files are written here already (TinyDB's `flush`), so such a write
        is committed alone (`_write`); the text path leaves the files to `_commit`, which makes
        several partitions durable in one round of fsyncs (a visit and its rollup row).
        """
        state = self._tables.get(table) or self._partials[table]
        # The index text first: read from the file, it brings the data file's layout along.
        old_text = self._index_text(table, state, p)
        part = self._usable_partition(table, state, p)
        if part.path in self._unmovable:  # writing would overwrite the damaged file
            raise StorageError(f"村 {p} 的数据文件已损坏且无法移走，暂不能保存到该村，请联系技术支持 (file damaged)")
        if not state.by_part.get(p):   # no rows (or the data file was just set aside, rows dropped)
            old_text = None
        fresh: dict[str, dict[str, Any]] = {}
        for rid, (doc, _) in docs.items():
            row = fresh[rid] = {**doc[ROW_KEY], TIME_KEY: doc[TIME_KEY], "_p": p}
            if HIST_KEY in doc:
                row[HIST_KEY] = doc[HIST_KEY]
        # The index: the changed rows spliced into the file's text (the same bytes a full
        # encode gives, without encoding 2,400 rows); encoded whole when no text is at hand.
        if old_text is not None:
            text = old_text.spliced({rid: indexfile.row_line(rid, row) for rid, row in fresh.items()}, removes)
        else:
            rows = dict(state.by_part.get(p, {}))
            for rid in removes:
                rows.pop(rid, None)
            text = IndexText.from_rows({**rows, **fresh})
        index_path = self._index_path(table, p)

        def index_file(data_tmp: Path, _docs: Documents, data_layout: dict[str, Any] | None) -> list[tuple[Path, bytes]]:
            return [(index_path, text.encode(indexfile.signature(data_tmp), data_layout))]

        pending = _Pending(table, p, state, part, text, fresh, removes, set(docs))
        if through_tinydb:
            try:
                pending.new_part = _tinydb_write(part, docs, removes, index_file)
            except OSError as exc:
                self._write_failed([pending], exc)
        else:
            blobs = {rid: blob if blob is not None else _encode(doc) for rid, (doc, blob) in docs.items()}
            pending.new_part, raw, data_layout = part.staged(blobs, removes)
            pending.village = (part.path, raw, pending.new_part.docs, data_layout, index_file)
        return pending

    def _commit(self, pendings: list["_Pending"]) -> None:
        """Write the staged partitions' files in one atomic commit, then update cache and rows."""
        villages = [pd.village for pd in pendings if pd.village is not None]
        try:
            if villages:
                VillageStorage.commit_many(villages)
        except OSError as exc:
            self._write_failed(pendings, exc)
        for pd in pendings:
            table, p, state = pd.table, pd.p, pd.state
            pd.new_part.index_text = pd.text
            self._remember(table, p, pd.new_part)
            if p in state.lazy:
                state.by_part[p] = state.lazy[p] = state.lazy[p].after(pd.text, pd.fresh, pd.removes)
            else:
                owned = state.by_part.setdefault(p, {})
                for rid in pd.removes:
                    if rid not in pd.saved:
                        owned.pop(rid, None)  # type: ignore[attr-defined]
            for rid, row in pd.fresh.items():
                state.set(rid, row)

    def _write_failed(self, pendings: list["_Pending"], exc: OSError) -> None:
        for pd in pendings:
            self._cache.pop((pd.table, pd.p), None)  # a rename may have happened: read the disk again
        raise StorageError(f"保存失败（{exc.strerror or exc}），请检查磁盘空间和文件夹权限 (write failed)") from None

    def _append_history(self, table: str, p: str, lines: list[bytes]) -> None:
        try:
            history.append(self._history_path(table, p), lines)
        except OSError as exc:
            raise StorageError(f"记录已保存，但修改历史未能写入（{exc.strerror or exc}），请检查磁盘空间 (history write failed)") from None

    def _prepare(self, record: dict[str, Any], index_row: dict[str, Any], entry: dict[str, Any] | None,
                 state: _Table, also: str | None = None, encode: bool = True, fresh: bool = False,
                 ) -> tuple[str, str, dict[str, Any], bytes | None, bytes | None, str | None]:
        """Check one item and serialise what can fail before any file is touched.

        Returns id, partition, document, its JSON (the one encoding a save needs), history
        line, and the village the record leaves. `also`: a village this record's history went
        to earlier in the same bulk load. `encode=False` leaves the document's JSON to the
        partition write (bulk loads: holding every record's JSON at once would double their
        memory; the write still refuses a bad value with `StorageError`).
        """
        if not isinstance(record, dict) or not isinstance(record.get("id"), str) or not record["id"]:
            raise StorageError("记录缺少编号 id，无法保存 (record id missing)")
        if not isinstance(index_row, dict) or not (entry is None or isinstance(entry, dict)):
            raise StorageError("列表行和历史条目必须是字典 (index_row/history_entry must be dicts)")
        rid = record["id"]
        p = names.check_partition(record.get("partition"))
        t = self._next_t()
        doc = {**record, ROW_KEY: dict(index_row), TIME_KEY: t}
        held = state.rows.get(rid) if fresh else state.row(rid, p)
        moved_from = held["_p"] if held is not None and held["_p"] != p else None
        lived = {p, *([also] if also else []), *(_history_partitions(held) if held else ())}
        if len(lived) > 1:
            doc[HIST_KEY] = sorted(lived)
        blob = _encode(doc) if encode else None
        try:
            line = None if entry is None else history.line(rid, t, entry)
        except (TypeError, ValueError) as exc:
            raise StorageError(f"修改历史中有无法保存的值（{exc}）(not JSON-serialisable)") from None
        return rid, p, doc, blob, line, moved_from

    @_serialised
    def put(self, table: str, record: dict[str, Any], index_row: dict[str, Any],
            history_entry: dict[str, Any] | None = None, *,
            derived: tuple[str, list[Item]] | None = None, new: bool = False) -> None:
        """Save one record; a record whose partition changed leaves its old file in the same call.

        `derived`: `(table, items)` of rows kept from this record (the engine's rollup of latest
        visits), written in the same commit: every file of both reaches the disk in one round
        of fsyncs before any is renamed (~3 ms less than a second commit), then history.
        `new`: the record's id was just made (a fresh uuid4), so no stored copy is looked for in
        the villages read lazily (~0.5 ms each to list their ids).
        """
        self._check_writable()
        state = self._state_for(table, names.check_partition(record.get("partition")) if isinstance(record, dict) else None)
        rid, p, doc, blob, line, moved_from = self._prepare(record, index_row, history_entry, state, fresh=new)
        writes = [(table, p, {rid: (doc, blob)}, set())]
        if moved_from is not None:
            writes.append((table, moved_from, {}, {rid}))
        if derived is not None and derived[1]:
            writes.extend(self._writes_of(derived[0], derived[1]))
        self._commit([self._stage(*w) for w in writes])
        self._append_history(table, p, [line] if line else [])

    def _writes_of(self, table: str, items: list[Item]) -> list[tuple[str, str, dict[str, Any], set[str]]]:
        """Small items (no history) grouped into one text-path write per partition."""
        state = self._state(table)
        docs: dict[str, dict[str, tuple[dict[str, Any], bytes | None]]] = {}
        removes: dict[str, set[str]] = {}
        for record, index_row, _ in items:
            rid, p, doc, blob, _, moved_from = self._prepare(record, index_row, None, state)
            docs.setdefault(p, {})[rid] = (doc, blob)
            if moved_from is not None:
                removes.setdefault(moved_from, set()).add(rid)
        return [(table, p, docs.get(p, {}), removes.get(p, set())) for p in sorted(set(docs) | set(removes))]

    @_serialised
    def put_many(self, table: str, items: Iterable[Item]) -> int:
        """Save many `(record, index_row, history_entry)` items with one write per partition file.

        For bulk loads (demo data, imports). Each partition file is replaced atomically, but a
        bad value found while writing one partition leaves earlier partitions saved.
        """
        self._check_writable()
        state = self._state(table)
        docs: dict[str, dict[str, tuple[dict[str, Any], None]]] = {}
        removes: dict[str, set[str]] = {}
        lines: dict[str, list[bytes]] = {}
        where: dict[str, str] = {}
        for record, index_row, entry in items:
            earlier = where.get(record.get("id")) if isinstance(record, dict) else None
            rid, p, doc, _, line, moved_from = self._prepare(record, index_row, entry, state, earlier, encode=False)
            if where.get(rid, p) != p:
                docs[where[rid]].pop(rid, None)
            where[rid] = p
            docs.setdefault(p, {})[rid] = (doc, None)
            if moved_from is not None:
                removes.setdefault(moved_from, set()).add(rid)
            if line:
                lines.setdefault(p, []).append(line)
        for p in sorted(set(docs) | set(removes)):
            # TinyDB encodes the whole village again; worth it only when the batch brings at
            # least as many documents as the village holds (a load into new villages). Fewer
            # records into a fuller village (the engine's per-save rollup, the bench's later
            # 50,000-visit chunks: all through TinyDB its load took 19.6 s instead of 13.2 s)
            # take the text path, which encodes only what changed.
            brought = docs.get(p, {})
            self._write(table, p, brought, removes.get(p, set()), lines.get(p, []),
                        through_tinydb=len(state.by_part.get(p, ())) <= len(brought))
        return len(where)

    # ----------------------------------------------------------------- reading
    @_serialised
    def get(self, table: str, rid: str) -> dict[str, Any] | None:
        state = self._state(table)
        row = state.rows.get(rid) if isinstance(rid, str) else None
        if row is None:
            return None
        doc = self._usable_partition(table, state, row["_p"]).get(rid)
        return None if doc is None else _public(doc)

    @_serialised
    def select(self, table: str, partition: str, test: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        """The records of one partition whose list row passes `test`, in file order.

        Only those documents are parsed: a person's visits are a handful of the thousand in
        their village's file, which is cut by its layout, not parsed whole (~80 ms → ~10 ms).
        A table not loaded whole reads just this partition's index file."""
        p = names.check_partition(partition)
        state = self._state_for(table, p)
        rows = state.by_part.get(p) or {}
        if table not in self._tables and any(HIST_KEY in row for row in rows.values()):
            state = self._state(table)     # a moved record: only the whole table knows its copy
            rows = state.by_part.get(p) or {}
        chosen = [rid for rid, row in rows.items() if test(row)]
        if not chosen:
            return []
        part = self._usable_partition(table, state, p)
        return [_public(doc) for doc in map(part.get, chosen) if doc is not None]

    @_serialised
    def rows(self, table: str, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The list rows of `ids` that exist (shared: do not change them).

        For a caller that needs a few rows of a big table (the engine's rollup, one row per
        saved visit): `index` copies all 50,000 (~1.5 ms).
        """
        rows = self._state(table).rows
        return {rid: rows[rid] for rid in ids if rid in rows}

    def scan_rows(self, table: str, fields: Iterable[str],
                  where: Callable[[dict[str, Any]], bool] | None = None) -> dict[str, dict[str, Any]]:
        """{id: {field: value, "_p": partition}} for the list rows passing `where`, read one
        partition's index file at a time and not kept. (A table already loaded whole answers
        from memory with its full rows: do not change them.)

        For a pass over a big table not loaded whole: the quarter's summary counts 300,000
        visits by date and level, and loading them through `index` kept ~300 MB for the rest
        of the session. Only the rows kept, and only `fields`, are held. A record found in two
        partitions (a crash mid-move, until the next whole-table load removes the old copy)
        is returned once: the newer of the copies that pass `where`.
        """
        fields = tuple(fields)
        shared: dict[Any, Any] = {}      # one copy of each repeated value (a date, a level)

        def pick(row: dict[str, Any], p: str) -> dict[str, Any]:
            out = {f: _share(shared, row.get(f)) for f in fields}
            out["_p"] = _share(shared, p)
            return out

        with self._mutex:
            self._check_open()
            loaded = self._tables.get(table)
            if loaded is not None:      # in memory anyway: its rows as they are (shared, read-only)
                return dict(loaded.rows) if where is None else \
                    {rid: row for rid, row in loaded.rows.items() if where(row)}
            partitions = sorted(self._disk_partitions(table))
        kept: dict[str, tuple[int, dict[str, Any]]] = {}
        for p in partitions:
            with self._mutex:     # a save replaces the partition's files
                rows = self._load_index(table, p)
            for rid, row in rows.items():
                if where is not None and not where(row):
                    continue
                t = row.get(TIME_KEY, 0)
                if rid not in kept or kept[rid][0] < t:
                    kept[rid] = (t, pick(row, p))
        return {rid: row for rid, (_, row) in kept.items()}

    @_serialised
    def index(self, table: str) -> dict[str, dict[str, Any]]:
        """id → list row (with `_p`, the partition). Rows are shared: do not change them."""
        return dict(self._state(table).rows)

    def iter_records(self, table: str, partitions: Iterable[str] | None = None) -> Iterator[dict[str, Any]]:
        """Every record, one partition at a time; files not in the cache are not cached.

        Asked for a few partitions of a table not yet loaded (a person's visits), it reads only
        those partitions' index files: loading all of them would cost ~300 MB for 300,000 visits.
        """
        with self._mutex:
            if partitions is not None and table not in self._tables:
                chosen = [names.check_partition(p) for p in partitions]
                owned = {p: self._load_index(table, p) if p in self._disk_partitions(table) else {}
                         for p in chosen}
                # A record that moved between villages may have left a stale copy behind after a
                # crash; only the whole table's view can tell which copy is current.
                if not any(HIST_KEY in row for rows in owned.values() for row in rows.values()):
                    state = _Table()
                    for p, rows in owned.items():
                        state.by_part[p] = rows
                    return self._iter_parts(table, state, chosen)
            state = self._state(table)
            chosen = sorted(state.by_part) if partitions is None else [names.check_partition(p) for p in partitions]
        return self._iter_parts(table, state, chosen)

    def _iter_parts(self, table: str, state: _Table, chosen: list[str]) -> Iterator[dict[str, Any]]:
        for p in chosen:
            with self._mutex:  # read under the lock: a save replaces the partition's files
                docs = [_public(doc) for doc in self._partition_docs(table, state, p)]
            yield from docs

    def _partition_docs(self, table: str, state: _Table, p: str) -> list[dict[str, Any]]:
        """The current documents of one partition (stale copies left by a crash skipped)."""
        owned = state.by_part.get(p)
        if not owned:
            return []
        part = self._cache.get((table, p))
        # A village in the cache is read from its text; any other with one json.loads of the
        # whole file, the quickest way to every document.
        storage = {"documents": part.docs} if part is not None else {}
        try:
            with TinyDB(self._data_path(table, p), storage=VillageStorage, readonly=True, **storage) as db:
                return db.table(TABLE).search(where("id").test(lambda rid: isinstance(rid, str) and rid in owned))
        except CorruptFile:  # damaged: the checked load reports it and sets it aside
            docs = self._usable_partition(table, state, p).records()
        return [doc for doc in docs if doc.get("id") in owned]

    @_serialised
    def history(self, table: str, rid: str) -> list[dict[str, Any]]:
        """Every history entry of a record, oldest first, following its moves between villages."""
        if not isinstance(rid, str):
            return []
        state = self._state(table)
        row = state.rows.get(rid)
        # A record missing from the index (its file set aside) may still have history anywhere.
        places = _history_partitions(row) if row is not None else self._history_files(table)
        found = [doc for p in places for doc in history.read(self._history_path(table, p), rid)]
        found.sort(key=lambda d: d.get(history.TIME_KEY, 0) if isinstance(d.get(history.TIME_KEY), int) else 0)
        return [history.public(d) for d in found]

    def _history_files(self, table: str) -> set[str]:
        folder = self.root / HISTORY / table
        if not folder.is_dir():
            return set()
        return {f.name[: -len(HISTORY_SUFFIX)] for f in folder.glob(f"*{HISTORY_SUFFIX}")}

    @_serialised
    def count(self, table: str) -> int:
        return len(self._state(table).rows)

    @_serialised
    def tables(self) -> list[str]:
        self._check_open()
        folder = self.root / RECORDS
        on_disk = {d.name for d in folder.iterdir() if d.is_dir()} if folder.is_dir() else set()
        return sorted(on_disk | set(self._tables))

    @_serialised
    def partitions(self, table: str) -> list[str]:
        """Partitions holding at least one record."""
        return sorted(p for p, rows in self._state(table).by_part.items() if rows)

    # ----------------------------------------------------------------- lifetime
    @_serialised
    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._cache.clear()
        self._tables.clear()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Pending:
    """One partition's write between `Store._stage` and `Store._commit`."""

    def __init__(self, table: str, p: str, state: _Table, part: PartitionFile, text: IndexText,
                 fresh: dict[str, dict[str, Any]], removes: set[str], saved: set[str]):
        self.table, self.p, self.state, self.part, self.text = table, p, state, part, text
        self.fresh, self.removes, self.saved = fresh, removes, saved
        self.new_part: PartitionFile = part
        self.village: tuple[Any, ...] | None = None   # `VillageStorage.commit_many` arguments


def _tinydb_write(part: PartitionFile, docs: dict[str, tuple[dict[str, Any], bytes | None]], removes: set[str],
                  index_file: Any) -> PartitionFile:
    """Put `docs` and drop `removes` with TinyDB's `Table`; one atomic write of the village.

    A replaced record is removed and inserted again under its old TinyDB id (TinyDB has no
    "replace": `Table.update` merges fields, and a field the record dropped would stay). New
    records get their ids here too, from the village's counter: TinyDB's own would count from
    the table as it was before the insert, and hand a new record the id of a replaced one.
    `CachingMiddleware` holds the two operations' result until `flush`, so the file and its
    index are written once, together, and not at all if anything before fails.
    """
    ids, next_id = part.docs.ids, part.docs.next_id
    leaving = [int(ids[rid]) for rid in removes | docs.keys() if rid in ids]
    arriving = []
    for rid, (doc, _) in docs.items():
        if rid in ids:
            arriving.append(Document(doc, int(ids[rid])))
        else:
            arriving.append(Document(doc, next_id))
            next_id += 1
    storage = CachingMiddleware(VillageStorage)
    db = TinyDB(part.path, storage=storage, documents=part.docs, companions=index_file)
    t = db.table(TABLE)
    if leaving:
        t.remove(doc_ids=leaving)
    if arriving:
        t.insert_multiple(arriving)
    storage.flush()
    return PartitionFile(part.path, storage.documents)
