"""One contract suite, two backends: the TinyDB data folder and a real PostgreSQL server.

Every case runs against both (`backend` is parametrised): what `core.storage.contract` promises
the engine must hold whichever store is behind it — put/get, list rows, moves, history,
derived rows in the same commit, bulk loads, partial reads, reopening, refusals in Chinese,
the backup (or server dump) round trip, drafts kept on the desk, and a writer SIGKILLed mid-save.
"""
from __future__ import annotations

import random
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from core.storage import StorageError, Store
from core.storage.contract import METHODS, RecordStore
from storage_support import TABLE, V1, V2, item

V3 = "120116157203"


@dataclass
class Backend:
    kind: str                       # "folder" | "postgres"
    target: str                     # folder path or server URL
    open: Callable[..., RecordStore]
    server: object = None           # pg_support.PgServer for "postgres"


@pytest.fixture(params=["folder", "postgres"])
def backend(request, tmp_path):
    if request.param == "folder":
        root = tmp_path / "ledger"
        yield Backend("folder", str(root), lambda readonly=False: Store(root, readonly=readonly, backup_every_hours=None))
        return
    server = request.getfixturevalue("pg_server")
    from core.storage.pgstore import PgStore

    url = server.url(server.create_db())
    yield Backend("postgres", url, lambda readonly=False: PgStore(url, readonly=readonly), server)


def test_both_backends_keep_the_whole_contract(backend):
    with backend.open() as s:
        assert isinstance(s, RecordStore)
        assert all(callable(getattr(s, m)) for m in METHODS)
        assert s.problems == []


def test_put_get_index_count(backend):
    with backend.open() as s:
        rec, row, entry = item("a", V1, "张三", age=71)
        s.put(TABLE, rec, row, entry, new=True)
        s.put(TABLE, *item("b", V2, "李四"))
        assert s.get(TABLE, "a") == rec
        assert s.get(TABLE, "nobody") is None
        assert s.count(TABLE) == 2
        idx = s.index(TABLE)
        assert idx["a"]["name"] == "张三" and idx["a"]["_p"] == V1 and idx["b"]["_p"] == V2
        assert set(s.rows(TABLE, ["b", "zz"])) == {"b"}
        assert s.count("visit") == 0 and s.index("visit") == {}


def test_edit_and_move_keep_one_copy_and_the_whole_history(backend):
    with backend.open() as s:
        s.put(TABLE, *item("a", V1, "张三"), new=True)
        s.put(TABLE, *item("a", V1, "张三丰"))
        s.put(TABLE, *item("a", V2, "张三丰"))          # moved to another village
        assert s.count(TABLE) == 1
        assert s.index(TABLE)["a"]["_p"] == V2
        assert s.get(TABLE, "a")["data"]["name"] == "张三丰"
        assert [h["diff"]["name"][1] for h in s.history(TABLE, "a")] == ["张三", "张三丰", "张三丰"]
        assert [r["id"] for r in s.iter_records(TABLE, [V1])] == []
    with backend.open() as s:                            # and after reopening
        assert s.index(TABLE)["a"]["_p"] == V2
        assert len(s.history(TABLE, "a")) == 3


def test_derived_rows_are_saved_with_the_record(backend):
    with backend.open() as s:
        roll = ({"id": "p1", "form": "rollup_visit", "version": 1, "partition": V1, "data": {"1": "2026-10-01"}},
                {"1": "2026-10-01"}, None)
        s.put("visit", *item("v1", V1, "走访"), derived=("rollup_visit", [roll]), new=True)
        assert s.rows("rollup_visit", ["p1"])["p1"]["1"] == "2026-10-01"
        assert s.index("rollup_visit")["p1"]["_p"] == V1
        assert s.history("rollup_visit", "p1") == []


def test_put_many_keeps_the_last_copy_and_every_history_entry(backend):
    with backend.open() as s:
        first, second = item("a", V1, "甲"), item("a", V1, "乙")
        n = s.put_many(TABLE, [first, item("b", V2, "丙"), second])
        assert n == 2
        assert s.get(TABLE, "a")["data"]["name"] == "乙"
        assert [h["diff"]["name"][1] for h in s.history(TABLE, "a")] == ["甲", "乙"]


def test_partial_reads(backend):
    with backend.open() as s:
        s.put_many(TABLE, [item(f"r{i}", (V1, V2, V3)[i % 3], f"人{i}", n=i) for i in range(30)])
        got = s.select(TABLE, V2, lambda row: row["name"] in ("人1", "人4", "人5"))
        assert sorted(r["id"] for r in got) == ["r1", "r4"]
        assert all(r["data"]["n"] in (1, 4) for r in got)
        scanned = s.scan_rows(TABLE, ["name"], lambda row: row["_p"] == V3)
        # at least the fields asked for and the partition (a table in memory gives its whole rows)
        assert len(scanned) == 10 and {"name": "人2", "_p": V3}.items() <= scanned["r2"].items()
        assert len(s.scan_rows(TABLE, ["name"])) == 30
        assert sorted(r["data"]["n"] for r in s.iter_records(TABLE, [V1])) == list(range(0, 30, 3))
        assert len(list(s.iter_records(TABLE))) == 30


def test_refusals_are_chinese_storage_errors_and_write_nothing(backend):
    with backend.open() as s:
        with pytest.raises(StorageError, match="无法保存的值"):
            s.put(TABLE, {"id": "bad", "partition": V1, "data": {"x": {1, 2}}}, {}, {"who": "x"})
        with pytest.raises(StorageError, match="缺少编号"):
            s.put(TABLE, {"partition": V1, "data": {}}, {}, None)
        assert s.get(TABLE, "bad") is None and s.history(TABLE, "bad") == []
        s.put(TABLE, *item("a", V1))
    with backend.open(readonly=True) as ro:
        assert ro.get(TABLE, "a")["data"]["name"] == "张三"
        with pytest.raises(StorageError, match="只读"):
            ro.put(TABLE, *item("b", V1))


def _backup_and_restore(backend: Backend, tmp_path: Path) -> RecordStore:
    """The folder's own backup/restore, or the server's: pg_dump, then pg_restore into a new database."""
    if backend.kind == "folder":
        from core.storage import restore_backup
        from core.storage.backups import make_backup

        made = make_backup(Path(backend.target))
        return made, lambda: restore_backup(Path(backend.target), made.name), backend.open
    server = backend.server
    dump = tmp_path / "ledger.dump"
    db = backend.target.split("?")[0].rsplit("/", 1)[1]
    env_args = ["-h", str(server.socket_dir), "-p", str(server.port), "-U", "carebook_owner"]
    subprocess.run([str(server.bindir / "pg_dump"), "-Fc", "-f", str(dump), *env_args, db], check=True)
    target = server.create_db()

    def restore():
        subprocess.run([str(server.bindir / "pg_restore"), "--no-owner", "-d", target, *env_args, str(dump)],
                       check=True, capture_output=True)
    from core.storage.pgstore import PgStore
    return dump, restore, lambda: PgStore(server.url(target))


def test_backup_round_trip(backend, tmp_path):
    with backend.open() as s:
        s.put(TABLE, *item("a", V1, "备份前"))
    made, restore, reopen = _backup_and_restore(backend, tmp_path)
    with backend.open() as s:
        s.put(TABLE, *item("a", V1, "备份后"))
    restore()
    with reopen() as s:
        assert s.get(TABLE, "a")["data"]["name"] == "备份前"
        assert len(s.history(TABLE, "a")) == 1


def test_engine_drafts_stay_on_the_desk(backend, tmp_path, monkeypatch):
    from core.engine import Engine

    monkeypatch.setenv("CAREBOOK_DESK", str(tmp_path / "desks"))
    with Engine.open(backend.target) as eng:
        eng.save_draft("registration", None, {"name": "草稿里的人"})
        assert eng.load_draft("registration", None) == {"name": "草稿里的人"}
        assert eng.data_dir.exists() and (eng.data_dir / "drafts").is_dir()
    with Engine.open(backend.target) as eng:
        assert eng.load_draft("registration", None) == {"name": "草稿里的人"}
        eng.drop_draft("registration", None)
        assert eng.load_draft("registration", None) is None


WRITER = textwrap.dedent("""
    import random, sys
    from pathlib import Path
    target, seed = sys.argv[1], int(sys.argv[2])
    if target.startswith("postgresql://"):
        from core.storage.pgstore import PgStore
        s = PgStore(target)
    else:
        from core.storage import Store
        s = Store(Path(target), backup_every_hours=None)
    rng = random.Random(seed)
    mine = []
    for n in range(10**9):
        if mine and rng.random() < 0.4:
            rid = rng.choice(mine)
        else:
            rid = f"r{seed}-{n}"
            mine.append(rid)
        village = f"12011615720{rng.randrange(3)}"
        roll = ({"id": rid, "partition": village, "data": {"n": n}}, {"n": n}, None)
        s.put("registration", {"id": rid, "partition": village, "data": {"n": n, "note": "留守老人探访" * 40}},
              {"n": n}, {"who": "测试员", "n": n}, derived=("rollup_registration", [roll]))
        print(rid, village, n, flush=True)
""")


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_acknowledged_saves_and_whole_commits_survive_sigkill(backend):
    rng = random.Random(11)
    acked: dict[str, tuple[str, int]] = {}
    for round_no in range(6):
        child = subprocess.Popen([sys.executable, "-c", WRITER, backend.target, str(round_no)],
                                 stdout=subprocess.PIPE, cwd=Path(__file__).resolve().parent.parent)
        first = child.stdout.readline()
        time.sleep(rng.uniform(0.0, 0.3))
        child.send_signal(signal.SIGKILL)
        rest = child.stdout.read()
        child.wait()
        for line in (first + rest).split(b"\n"):
            parts = line.split()
            if len(parts) == 3:
                acked[parts[0].decode()] = (parts[1].decode(), int(parts[2]))
    assert acked, "the writer never acknowledged a save"
    with backend.open() as s:
        index = s.index("registration")
        for rid, (village, n) in acked.items():
            rec = s.get("registration", rid)
            assert rec is not None, rid
            # a later, unacknowledged save may have landed whole; never an older one
            assert rec["data"]["n"] >= n
            if rec["data"]["n"] == n:
                assert index[rid]["_p"] == village
        gaps = []
        for rid, row in index.items():
            n = s.get("registration", rid)["data"]["n"]
            # one commit: the record, its list row, its history entry and its derived row agree
            assert row["n"] == n
            if [h["n"] for h in s.history("registration", rid)][-1:] != [n]:
                gaps.append(f"{rid}: history")
            if s.rows("rollup_registration", [rid]).get(rid, {}).get("n") != n:
                gaps.append(f"{rid}: derived row")
    if gaps and backend.kind == "folder":
        # Known gap of the folder store at this commit: the history line is appended after the
        # village files are replaced, and the derived table's file is renamed separately, so a
        # kill in between loses one of them. The journal commit protocol being written on
        # branch `store` makes them one commit; this case then passes as it does on the server.
        pytest.xfail(f"folder store, not one commit yet: {gaps[:3]}")
    assert gaps == []
