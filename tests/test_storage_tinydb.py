"""TinyDB is carebook's database for real: village files open with `TinyDB(storage=VillageStorage)`,
what either side writes the other reads, and `Store`'s full reads and bulk writes go through
TinyDB's `Table`, while a single save keeps the text path."""
from __future__ import annotations

import json

import pytest
from tinydb import Query, TinyDB
from tinydb.table import Table

from core.storage import Store, StorageError, atomic
from core.storage.tinystorage import VillageStorage

from storage_support import TABLE, V1, V2, data_file, item  # noqa: E402,F401


def calls(monkeypatch, owner, name: str) -> list:
    """Count calls of `owner.name` while letting it run."""
    seen: list = []
    real = getattr(owner, name)

    def spy(*args, **kwargs):
        seen.append(name)
        return real(*args, **kwargs)
    monkeypatch.setattr(owner, name, spy)
    return seen


def test_record_written_through_tinydb_is_read_by_store(tmp_path):
    with Store(tmp_path, backup_every_hours=None) as s:
        s.put(TABLE, *item("a", V1, "甲"))
    with TinyDB(data_file(tmp_path), storage=VillageStorage) as db:
        doc_id = db.table("_default").insert({"id": "t", "partition": V1, "data": {"name": "从TinyDB写入"},
                                              "_row": {"name": "从TinyDB写入"}, "_t": 1})
    assert doc_id == 2
    assert not list(data_file(tmp_path).parent.glob(f"*{atomic.TMP_SUFFIX}"))
    with Store(tmp_path, backup_every_hours=None) as s:  # index no longer matches: rebuilt through TinyDB
        assert s.problems == []
        assert s.get(TABLE, "t")["data"]["name"] == "从TinyDB写入"
        assert s.index(TABLE)["t"]["name"] == "从TinyDB写入"
        assert sorted(r["id"] for r in s.iter_records(TABLE)) == ["a", "t"]
        s.put(TABLE, *item("t", V1, "改名"))  # the text path keeps TinyDB's id
    with TinyDB(data_file(tmp_path), storage=VillageStorage) as db:
        assert db.table("_default").get(doc_id=2)["data"]["name"] == "改名"


def test_store_records_are_queryable_through_tinydb(tmp_path):
    with Store(tmp_path, backup_every_hours=None) as s:
        s.put_many(TABLE, [item(f"r{i}", V1, f"老人{i}", risk="高" if i % 3 == 0 else "低") for i in range(9)])
        s.put(TABLE, *item("r4", V1, "单独保存", risk="高"))
    with TinyDB(data_file(tmp_path), storage=VillageStorage, readonly=True) as db:
        person = Query()
        high = db.table("_default").search(person.data.risk == "高")
        assert sorted(d["id"] for d in high) == ["r0", "r3", "r4", "r6"]
        assert db.table("_default").get(person.id == "r4")["data"]["name"] == "单独保存"
        assert db.table("_default").count(person.data.name.matches("老人.*")) == 8


def test_full_reads_and_bulk_writes_go_through_tinydb_single_saves_do_not(tmp_path, monkeypatch):
    inserts = calls(monkeypatch, Table, "insert_multiple")
    with Store(tmp_path, backup_every_hours=None) as s:
        s.put_many(TABLE, [item(f"r{i}", V1 if i % 2 else V2) for i in range(6)])
        assert len(inserts) == 2  # one per village
        searches = calls(monkeypatch, Table, "search")
        assert len(list(s.iter_records(TABLE))) == 6 and len(searches) == 2
        writes = calls(monkeypatch, VillageStorage, "write")
        s.put(TABLE, *item("r1", V1, "改名"))
        s.put_many(TABLE, [item("r3", V1, "小批")])  # one record into a village of three: text path
        assert writes == [] and len(inserts) == 2
        s.put_many(TABLE, [item(f"n{i}", V1) for i in range(3)] + [item("r5", V1, "大批")])
        assert len(writes) == 1 and len(inserts) == 3
        assert s.get(TABLE, "r3")["data"]["name"] == "小批" and s.get(TABLE, "r5")["data"]["name"] == "大批"
    data_file(tmp_path).with_name(f"{V1}.index.json").unlink()
    alls = calls(monkeypatch, Table, "all")
    with Store(tmp_path, backup_every_hours=None) as s:
        assert s.get(TABLE, "r1")["data"]["name"] == "改名" and s.count(TABLE) == 9
        assert alls == ["all"]  # the lost index was rebuilt with Table.all


def test_bulk_replace_drops_fields_keeps_ids_and_writes_the_index_with_the_file(tmp_path):
    with Store(tmp_path, backup_every_hours=None) as s:
        s.put_many(TABLE, [item("a", V1, "甲", phone="13800000000"), item("b", V1, "乙")])
        s.put_many(TABLE, [item("a", V1, "甲二"), item("c", V1, "丙")])  # replace a, add c
        assert "phone" not in s.get(TABLE, "a")["data"]
    with TinyDB(data_file(tmp_path), storage=VillageStorage) as db:
        assert {d.doc_id: d["id"] for d in db.all()} == {1: "a", 2: "b", 3: "c"}
        assert db.get(doc_id=1)["data"] == {"name": "甲二"}
    index = json.loads(data_file(tmp_path).with_name(f"{V1}.index.json").read_text("utf-8"))
    assert index["layout"]["size"] == data_file(tmp_path).stat().st_size
    assert sorted(index["rows"]) == ["a", "b", "c"]


def test_village_storage_refuses_what_it_cannot_write_and_leaves_the_file(tmp_path):
    with Store(tmp_path, backup_every_hours=None) as s:
        s.put(TABLE, *item("a", V1, "甲"))
    before = data_file(tmp_path).read_bytes()
    with TinyDB(data_file(tmp_path), storage=VillageStorage, readonly=True) as db:
        with pytest.raises(StorageError, match="只读"):
            db.insert({"id": "x"})
    with TinyDB(data_file(tmp_path), storage=VillageStorage) as db:
        with pytest.raises(StorageError, match="无法保存"):
            db.insert({"id": "x", "when": object()})
    with Store(tmp_path, backup_every_hours=None) as s:
        with pytest.raises(StorageError, match="无法保存"):
            s.put_many(TABLE, [({"id": "y", "partition": V1, "bad": {1, 2}}, {}, None)])
    assert data_file(tmp_path).read_bytes() == before
    assert not list(data_file(tmp_path).parent.glob(f"*{atomic.TMP_SUFFIX}"))


def test_a_file_tinydb_cannot_read_is_set_aside_by_iter_records(tmp_path):
    with Store(tmp_path, backup_every_hours=None) as s:
        s.put(TABLE, *item("a", V1, "甲"))
        s.put(TABLE, *item("b", V2, "乙"))
    with Store(tmp_path, backup_every_hours=None) as s:
        s.index(TABLE)
        data_file(tmp_path).write_text('{"_default": {"x": {"id": "a"}}}', "utf-8")  # not a TinyDB id
        assert [r["id"] for r in s.iter_records(TABLE)] == ["b"]
        assert any("文档编号不是数字" in p.message for p in s.problems)
    assert not data_file(tmp_path).exists()
