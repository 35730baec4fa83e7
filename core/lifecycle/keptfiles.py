"""Values the list rows lack, kept beside the ledger one file per village, and kept current.

Re-judging 风险等级 after 高龄 moved (80→85) needs, for the 80–84-year-olds, the diseases, the
housing hazard, the children's contact ... which the list rows do not carry
(`core.lifecycle.keptvalues`). Read from the full records, that is a parse of every village
file: the slow part of the first dry run after such a change. So they are kept in
`<ledger>/cache/columns/<table>.records/<village>.bin`, and written where the records are in
memory anyway, so that an admin's first dry run finds them:

- after the day's first open (`core.lifecycle.reevaluate.refresh_for_today`), once the staff
  screen is up: `keep_current` brings every village not current up to date, one village at a
  time on a thread of its own (nothing added to what staff wait for before the first screen);
- by an applied re-evaluation run on its own, for each village it reads: it registers
  `keep_on_write` before it writes, and keeps a village it read without writing (`keep_read`,
  from what it read or the store's cache of the file: no second parse);
- by every village file the store rewrites while registered (`Store.when_written`): the
  re-evaluation's writes, and the TUI's saves once the background writer puts them into their
  village — a save keeps its village current instead of leaving it to be read again;
- by a dry run, for each village it had to read.

Each file names the fields it holds (`spec`: what the forms' computed fields read, see
`core.reporting.rowfields.computed_reads`) and the village files it was derived from (the
store's files key: CRC, size, time, inode of the data and index files). It counts only when both
are as now: a village written by anything else (another program, a restore, a hand edit) is
read again, and a spec that changed (a form now reads another field) reads every village again.
Each value also carries its record's save time (`_t`, to the nanosecond), which a caller
compares with the list row it holds. A damaged, foreign or missing file is read around.
Nothing is held in memory beyond one call.
"""
from __future__ import annotations

import marshal
from pathlib import Path
from typing import Any, Callable, Iterable
from weakref import WeakKeyDictionary

from core.reporting.columncache import FOLDER, _decoded, _unmarshalled, _write

RECORDS = ".records"      # `<table>.records/`
SAVED = "_t"              # each value's record save time (`Store`'s TIME_KEY)
SPEC = ".spec.bin"        # the fields kept now, for the store's writes (no village starts with a dot)


def folder(store, table: str) -> Path:
    return Path(store.root).joinpath(*FOLDER, f"{table}{RECORDS}")


def spec_items(spec: dict[str, Iterable[str] | None]) -> tuple:
    """The spec as kept: sorted (field, None or sorted repeat columns) pairs."""
    return tuple(sorted((f, None if cols is None else tuple(sorted(cols))) for f, cols in spec.items()))


def _projected(value: Any, cols: tuple[str, ...]) -> Any:
    """A repeat group's rows cut down to `cols`."""
    if not isinstance(value, list):
        return value
    return [{c: row[c] for c in cols if c in row} if isinstance(row, dict) else row for row in value]


def _entry(spec: tuple, key: tuple | None, stamped: Iterable[tuple[int, dict]]) -> tuple:
    """(spec, files key, ids, {field: values}) of one village from (save time, record) pairs;
    ids and each column marshalled on their own, so a reader decodes only what it asks. (Made
    on the store's writing thread for each village written: a few milliseconds.)"""
    pairs = list(stamped)
    datas = [doc.get("data") or {} for _, doc in pairs]
    cols = {f: marshal.dumps([d.get(f) for d in datas] if c is None else [_projected(d.get(f), c) for d in datas])
            for f, c in spec}
    cols[SAVED] = marshal.dumps([t for t, _ in pairs])
    return spec, key, marshal.dumps([doc["id"] for _, doc in pairs]), cols


def _read(path: Path) -> tuple | None:
    held = _unmarshalled(path)
    if (isinstance(held, tuple) and len(held) == 4 and isinstance(held[0], tuple) and isinstance(held[2], bytes)
            and isinstance(held[3], dict)):
        return held
    return None


def _current(store, table: str, p: str, spec: tuple, key: tuple | None) -> tuple | None:
    """Village `p`'s kept entry when it holds `spec` for the village files `key`, else None."""
    if key is None:
        return None
    held = _read(folder(store, table) / f"{p}.bin")
    return held if held is not None and held[0] == spec and held[1] == key else None


def _keep(store, table: str, p: str, entry: tuple) -> None:
    if entry[1] is not None:
        _write(folder(store, table) / f"{p}.bin", entry)


def held_spec(store, table: str) -> tuple | None:
    """The spec the last run kept values under (None: none kept)."""
    found = _unmarshalled(folder(store, table) / SPEC)
    return found if isinstance(found, tuple) else None


def _note_spec(store, table: str, spec: tuple) -> None:
    if held_spec(store, table) != spec:
        _write(folder(store, table) / SPEC, spec)


def values(eng, table: str, spec: dict[str, Iterable[str] | None], wanted: dict[str, Iterable[str]],
           fields: Iterable[str], read_missing: bool = True) -> dict[str, dict[str, Any]] | None:
    """{record id: {field: value, "_t": its save time}} for the `wanted` records ({village: ids})
    — `fields` of `spec` as their full records hold them — or None for a store without files
    (the caller reads the records). A village without a current file is read (once for all its
    records) and its file written; with `read_missing` False it is left out (an applied run reads
    it next anyway, and keeps it then)."""
    store = eng.store
    if not hasattr(store, "files_keys") or not hasattr(store, "iter_stamped"):
        return None
    spec = spec_items(spec)
    _note_spec(store, table, spec)
    fields = frozenset(fields) | {SAVED}
    keys = store.files_keys(table)
    out: dict[str, dict[str, Any]] = {}
    read: dict[str, tuple] = {}
    damaged = len(getattr(store, "problems", ()))
    for p in sorted(wanted):
        if p not in keys:                 # no such village file: the caller reads the records
            continue
        key = keys[p]
        entry = _current(store, table, p, spec, key)
        got = _decoded(entry[1:], fields) if entry is not None else None
        if got is None and not read_missing:
            continue
        if got is None:
            entry = _entry(spec, key, store.iter_stamped(table, [p]))
            got = _decoded(entry[1:], fields)
            assert got is not None
            read[p] = entry
        ids, cols = got
        want = set(wanted[p])
        for i, rid in enumerate(ids):
            if rid in want:
                out[rid] = {f: cols[f][i] for f in fields}
    if read:
        # a village written while read, or a file found damaged and set aside meanwhile, is not
        # kept (as `Store.keyed_part_rows` keeps rows)
        after = store.files_keys(table)
        intact = len(getattr(store, "problems", ())) == damaged
        for p, entry in read.items():
            if intact and after.get(p) == entry[1]:
                _keep(store, table, p, entry)
    return out


_SPECS: WeakKeyDictionary[Any, dict[str, tuple]] = WeakKeyDictionary()   # store -> {table: spec kept on write}


def keep_on_write(store, table: str, spec: tuple | None = None) -> bool:
    """Keep `table`'s values current from every village file this store writes from now on
    (`Store.when_written`), under `spec` or, without one, the spec last kept; False when there
    is nothing to keep under (no spec yet) or the store has no files."""
    if not hasattr(store, "when_written"):
        return False
    if spec is None:
        spec = held_spec(store, table)      # the spec last kept, as the file holds it: nothing to note
        if spec is None:
            return False
    else:
        _note_spec(store, table, spec)
    from core.storage.store import saved_at

    kept = _SPECS.setdefault(store, {})
    if table not in kept:
        def written(p: str, docs: dict[str, dict], key: tuple | None) -> None:
            if key is not None:
                _keep(store, table, p, _entry(kept[table], key, ((saved_at(d), d) for d in docs.values())))
        store.when_written(table, written)
    kept[table] = spec
    return True


def keep_read(store, table: str, p: str, spec: tuple, seen: list, key: tuple | None) -> None:
    """Keep village `p` after a run read it without writing it: from `seen` (every record of
    the village with its save time, as read whole) or, when it was fetched record by record,
    from the store's cache of the parsed file (not parsed again). `key`: its files key before
    the read; nothing is kept unless the files are still those (no save pending or made)."""
    if key is None or store.files_key(table, p) != key or _current(store, table, p, spec, key) is not None:
        return
    entry = _entry(spec, key, seen or store.iter_stamped(table, [p], keep=True))
    if store.files_key(table, p) == key:
        _keep(store, table, p, entry)


def keep_current(store, table: str, spec: dict[str, Iterable[str] | None],
                 between: Callable[[], object] | None = None) -> int:
    """Keep every village of `table` whose kept file is missing or not current, one village at
    a time (each read whole once, its file written only if the village files are still those
    read and no file was found damaged meanwhile), calling `between` after each village read (a
    pause, so a screen sharing the store stays responsive). A village
    with a save pending (no files key) is left to the store's write (`keep_on_write`). How many
    villages it kept; 0 for a store without files."""
    if not hasattr(store, "files_keys") or not hasattr(store, "iter_stamped"):
        return 0
    spec = spec_items(spec)
    _note_spec(store, table, spec)
    kept = 0
    for p, key in sorted(store.files_keys(table).items()):
        if key is None or _current(store, table, p, spec, key) is not None:
            continue
        damaged = len(getattr(store, "problems", ()))
        entry = _entry(spec, key, store.iter_stamped(table, [p]))
        if store.files_key(table, p) == key and len(getattr(store, "problems", ())) == damaged:
            _keep(store, table, p, entry)
            kept += 1
        if between is not None:
            between()
    return kept
