"""`carebook ledger copy`: move a ledger between a data folder and a PostgreSQL server (either way).

Why verify after copying: a town adopting a server moves years of village work, and a silently
short copy would be found only at the quarter's summary. So after writing, both sides are read
again from scratch and compared village by village: record count, history count and a SHA-256
over the records and their history (canonical JSON, sorted by id), per table.

Records, list rows and every history entry are copied (a record with several history entries is
written as several items of one bulk load, which keeps the last copy and every entry). Into a
ledger that already has records (a village's folder added to the town's server) the copy goes
only when no record id is on both sides.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from core import paths
from core.problems import CarebookError

ROW_META = ("_p", "_t", "_h")
BATCH = 5000


@dataclass
class VillageCheck:
    table: str
    partition: str
    records: int
    history: int
    source_sum: str
    copy_sum: str

    @property
    def ok(self) -> bool:
        return self.source_sum == self.copy_sum


def open_store(target: str | Path, *, readonly: bool):
    """A folder's `Store` or a server's `PgStore` (the destination's schema is made if new)."""
    if paths.is_server(target):
        from core.storage.pgstore import PgStore

        return PgStore(str(target), readonly=readonly)
    from core.storage import Store

    folder = Path(target)
    if readonly and not (folder / "records").is_dir():
        raise CarebookError(f"{folder} 不是台账数据文件夹（没有 records/）")
    return Store(folder, readonly=readonly, backup_every_hours=None if readonly else 24)


def _histories(store, table: str, ids: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """Every history entry of the table by record; a server answers in one query."""
    if hasattr(store, "histories"):
        out: dict[str, list[dict[str, Any]]] = {}
        for rid, entry in store.histories(table):
            out.setdefault(rid, []).append(entry)
        return out
    return {rid: store.history(table, rid) for rid in ids}


def _canonical(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def village_sums(store, table: str) -> dict[str, tuple[int, int, str]]:
    """{village: (records, history entries, sha256)} of one table."""
    index = store.index(table)
    hist = _histories(store, table, index)
    out = {}
    for p in sorted({row["_p"] for row in index.values()}):
        digest, n, h = hashlib.sha256(), 0, 0
        for rec in sorted(store.iter_records(table, [p]), key=lambda r: r["id"]):
            entries = hist.get(rec["id"], [])
            digest.update(_canonical(rec))
            digest.update(_canonical(entries))
            n, h = n + 1, h + len(entries)
        out[p] = (n, h, digest.hexdigest())
    return out


def copy_ledger(source: str | Path, dest: str | Path, progress: Callable[[str], None] = lambda _: None
                ) -> list[VillageCheck]:
    """Copy every table, then verify each village; raises `CarebookError` on a mismatch."""
    if str(source) == str(dest):
        raise CarebookError("来源和目标是同一个台账")
    with open_store(source, readonly=True) as src:
        tables = src.tables()
        with open_store(dest, readonly=False) as dst:
            for table in tables:
                _copy_table(src, dst, table, progress)
        checks = []
        with open_store(dest, readonly=True) as dst:            # read back from scratch
            for table in tables:
                theirs = village_sums(dst, table)
                for p, (n, h, digest) in village_sums(src, table).items():
                    checks.append(VillageCheck(table, p, n, h, digest, (theirs.get(p) or (0, 0, "缺失"))[2]))
    return checks


def _copy_table(src, dst, table: str, progress: Callable[[str], None]) -> None:
    index = src.index(table)
    clash = set(index) & set(dst.index(table))
    if clash:
        raise CarebookError(f"目标台账的 {table} 中已有 {len(clash)} 条相同编号的记录（如 {sorted(clash)[0]}），"
                            "未复制。复制只能加入新的记录。")
    hist = _histories(src, table, index)
    batch: list[tuple[dict, dict, dict | None]] = []
    for p in sorted({row["_p"] for row in index.values()}):
        for rec in src.iter_records(table, [p]):
            row = {k: v for k, v in index[rec["id"]].items() if k not in ROW_META}
            entries = hist.get(rec["id"]) or [None]
            batch.extend((rec, row, entry) for entry in entries)
        if len(batch) >= BATCH:
            dst.put_many(table, batch)
            batch = []
        progress(f"{table} {p}")
    if batch:
        dst.put_many(table, batch)
