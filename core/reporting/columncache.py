"""The columns reports count, kept beside the ledger so a summary or due list parses no index.

The quarterly summary and the due lists read a dozen fields of 50,000 people and two dates per
person from the rollup; reading them from the list rows means parsing every village's index
file (27 MB of JSON at 50,000 people, with name, ID, phone ... in each row) and building 50,000
dicts first. This cache holds only those columns, one list per field, in one file per table
(`<ledger>/cache/columns/<table>.bin`), read in a few tens of milliseconds.

It can never be stale, whatever happened between two reads: every village's entry names the
files it was derived from (`Store.files_key`: the CRC each file records of itself, its size,
modification time and inode — the store replaces a file only by atomic rename, so any write
gives a new key). Each read compares the keys with the files as they are now and re-derives
only the villages that differ, from the store's own list rows (journal applied); a village
with saves still in the journal is always read from the store. So a save, a crash halfway
through a write, a restore or a hand edit all show at the next read, and the cache file itself
is written by atomic rename too (best effort: a read-only folder just goes without).

Which columns: the fields the report, schedule and view files declare for the form
(`Engine.row_fields`, derived from the form files), its title field, and whatever a caller
asks for besides. Rows that do not carry a field (saved before it was declared), a record
found in two villages, or a store without files (PostgreSQL) make `columns` answer None:
the caller then reads the rows the slow way, which handles those cases.

`core.lifecycle.keptfiles` keeps, with the same files key and helpers, values the list rows do
not carry at all, read from the full records: what re-evaluation needs to re-judge a person
without reading the record.
"""
from __future__ import annotations

import marshal
import sys
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

FOLDER = ("cache", "columns")
FORMAT = 2
_HEADER = f"carebook-columns {FORMAT} {sys.version_info[0]}.{sys.version_info[1]}\n".encode()
COUNTS = "_counts"        # `core.records.rollup.COUNTS`: summed per village, not kept per row


# What this process last read or wrote per store and table, as marshalled bytes (~9 MB at
# 50,000 people): home's counts and due list, then a summary, read the file once. Still
# checked against the files' keys each time.
_MEMO: "weakref.WeakKeyDictionary[Any, dict[str, dict]]" = weakref.WeakKeyDictionary()


@dataclass
class Columns:
    """One table's columns, rows in the store's order (villages in code order)."""

    ids: list[str]
    parts: list[str]                       # each row's partition (village)
    cols: dict[str, list[Any]]             # field -> one value per row
    sums: list[tuple[str, dict | None]]    # rollup tables: (village, {quarter: {key: n}}) per village

    def column(self, field: str) -> list[Any]:
        return self.cols[field]


def path_of(store, table: str) -> Path:
    return Path(store.root).joinpath(*FOLDER, f"{table}.bin")


def _unmarshalled(path: Path) -> Any:
    """A cache file's content, or None when missing, damaged or from another format/Python."""
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    if not raw.startswith(_HEADER):
        return None
    try:
        return marshal.loads(memoryview(raw)[len(_HEADER):])
    except (EOFError, ValueError, TypeError):
        return None


def _read(path: Path) -> dict:
    """The cache file's content, or {} when missing, damaged or from another format/Python."""
    held = _unmarshalled(path)
    if not (isinstance(held, dict) and isinstance(held.get("parts"), dict) and isinstance(held.get("fields"), tuple)
            and all(isinstance(e, tuple) and len(e) == 5 and isinstance(e[1], bytes) and isinstance(e[2], dict)
                    and isinstance(e[3], tuple) for e in held["parts"].values())):
        return {}
    return held


_swept: set[Path] = set()     # folders `_write` has cleared of old temp files (this process)


def _write(path: Path, held: dict) -> None:
    """Replace the cache file by atomic rename, without fsync: a file torn by a power cut
    fails its header or does not decode, and every entry is checked against the village
    files anyway. Temp files a killed process left (over an hour old) are cleared first, once
    per folder and process (the kept values write one file per village: 139 listings a run)."""
    import os
    import time
    import uuid

    try:
        path.parent.mkdir(parents=True, exist_ok=True)       # again: a cache folder may be deleted
        if path.parent not in _swept:
            for left in path.parent.glob(".*.tmp"):
                if left.stat().st_mtime < time.time() - 3600:
                    left.unlink(missing_ok=True)
            _swept.add(path.parent)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            tmp.write_bytes(_HEADER + marshal.dumps(held))
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    except (OSError, ValueError):      # a read-only folder or a value marshal cannot hold
        pass


def _entry(key: tuple | None, rows: dict[str, dict], fields: tuple[str, ...], with_sums: bool) -> tuple:
    """(files key, ids, {field: values}, fields some row lacks, village sums) of one village;
    the ids and each column marshalled on their own, so a reader decodes only what it asks
    (home's counts read two columns of fifteen) and a process keeps them as bytes."""
    shared: dict[Any, Any] = {}

    def share(v: Any) -> Any:
        return shared.setdefault(v, v) if isinstance(v, str) and len(v) <= 32 else v

    values = list(rows.values())
    wanted = frozenset(fields)
    lacking: set[str] = set()
    for row in values:
        if not wanted <= row.keys():
            lacking |= wanted - row.keys()
    cols = {f: marshal.dumps([share(row.get(f)) for row in values]) for f in fields}
    sums: dict | None = None
    if with_sums:
        sums = {}
        for row in values:
            counts = row.get(COUNTS)
            if not isinstance(counts, dict):
                sums = None
                break
            for quarter, per_key in counts.items():
                into = sums.setdefault(quarter, {})
                for k, n in per_key.items():
                    into[k] = into.get(k, 0) + n
    return key, marshal.dumps(list(rows)), cols, tuple(sorted(lacking)), sums


def _decoded(entry: tuple, fields: frozenset[str]) -> tuple[list, dict[str, list]] | None:
    """(ids, {field: values}) of an entry; None when a part of it does not decode."""
    try:
        return marshal.loads(entry[1]), {f: marshal.loads(entry[2][f]) for f in fields}
    except (EOFError, ValueError, TypeError, KeyError):
        return None


def _fields_for(eng, table: str, asked: Iterable[str]) -> frozenset[str]:
    from core.records import rollup

    out = set(asked)
    if not table.startswith(rollup.PREFIX):
        form = eng.form(table)
        out |= eng.row_fields(table)
        out.add(getattr(form, "title_field", None) or "name")
    return frozenset(out)


def columns(eng, table: str, fields: Iterable[str], *, complete: bool = True) -> Columns | None:
    """`fields` of every row of `table` as columns, or None (see the module docstring).

    `complete`: None when some row does not carry one of `fields` (a form's list rows: the
    record must then be read); rollup rows leave out levels a person was never visited at, and
    are asked with `complete=False` (a missing value reads as None, as `row.get` reads it)."""
    store = eng.store
    if not hasattr(store, "files_keys"):
        return None
    from core.records import rollup

    fields = frozenset(fields)
    keys = store.files_keys(table)
    path = path_of(store, table)
    memo = _MEMO.setdefault(store, {})
    held = memo.get(table) or _read(path)
    kept = frozenset(held.get("fields") or ())
    parts: dict[str, tuple] = dict(held.get("parts") or {})
    if not fields <= kept:
        kept, parts = _fields_for(eng, table, fields | kept), {}
    order = tuple(sorted(kept))
    with_sums = table.startswith(rollup.PREFIX)
    changed = set(parts) - set(keys)
    fresh: dict[str, tuple] = {}
    ids: list[str] = []
    owners: list[str] = []
    cols: dict[str, list[Any]] = {f: [] for f in fields}
    sums: list[tuple[str, dict | None]] = []
    lacks = False
    for p, key in keys.items():
        entry = parts.get(p)
        got = None if entry is None or key is None or entry[0] != key else _decoded(entry, fields)
        if got is None:
            rows, read_key = store.keyed_part_rows(table, p)
            entry = _entry(read_key, rows, order, with_sums)
            got = _decoded(entry, fields)
            assert got is not None
            if read_key is not None or p in parts:     # new, or an old entry not to be kept
                changed.add(p)
        if entry[0] is not None:
            fresh[p] = entry
        part_ids, part_cols = got
        lacks = lacks or bool(fields.intersection(entry[3]))
        ids += part_ids
        owners += [p] * len(part_ids)
        for f in fields:
            cols[f] += part_cols[f]
        if part_ids:
            sums.append((p, entry[4]))
    if changed:
        _write(path, {"fields": order, "parts": fresh})
    memo[table] = {"fields": order, "parts": fresh}
    if complete and lacks:
        return None
    if len(set(ids)) != len(ids):      # a record in two villages: the store says which copy counts
        return None
    return Columns(ids, owners, cols, sums)
