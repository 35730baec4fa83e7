"""Village files held as document text, on real files: the first save to a village cuts the file
by the layout its index recorded instead of parsing it, and only when the bytes are exactly those
written; anything else (stock TinyDB files, old indexes, damage under a matching index) is parsed
in full first. The files stay TinyDB databases that stock TinyDB reads."""
from __future__ import annotations

import json
import os

import pytest
from tinydb import TinyDB
from tinydb.storages import JSONStorage

from core.storage import Store, atomic, tinyfile
from core.storage.tinyfile import CorruptFile, Documents

from storage_support import TABLE, V1, V2, data_file, item  # noqa: E402,F401


def stock_read(path) -> dict[int, dict]:
    with TinyDB(path, storage=JSONStorage, access_mode="r") as db:
        return {doc.doc_id: dict(doc) for doc in db.all()}


def no_parsing(monkeypatch) -> None:
    def refuse(path, raw):
        raise AssertionError(f"parsed {path}")
    monkeypatch.setattr(tinyfile, "parse", refuse)


def test_first_save_to_a_village_cuts_the_file_without_parsing(tmp_path, monkeypatch):
    with Store(tmp_path, backup_every_hours=None) as s:
        s.put_many(TABLE, [item(f"r{i}", V1, f"老人{i}", note="留守" * i) for i in range(40)])
    with Store(tmp_path, backup_every_hours=None) as s:
        no_parsing(monkeypatch)
        s.put(TABLE, *item("r7", V1, "改名"))              # replace, keeps its TinyDB id
        s.put(TABLE, *item("new", V1, "新人"))             # insert, next TinyDB id
        assert s.get(TABLE, "r7")["data"]["name"] == "改名"
        assert s.history(TABLE, "r7")[-1]["diff"] == {"name": [None, "改名"]}
    docs = stock_read(data_file(tmp_path))
    assert docs[8]["data"]["name"] == "改名" and docs[41]["data"]["name"] == "新人"
    assert sorted(docs) == list(range(1, 42))
    raw = data_file(tmp_path).read_bytes()
    assert raw == json.dumps(json.loads(raw), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    monkeypatch.undo()
    with Store(tmp_path, backup_every_hours=None) as s:
        assert s.count(TABLE) == 41 and s.problems == []
        assert {r["id"]: r["data"]["name"] for r in s.iter_records(TABLE)}["r7"] == "改名"


def test_get_then_save_from_a_cold_village_and_moving_away(tmp_path, monkeypatch):
    with Store(tmp_path, backup_every_hours=None) as s:
        s.put_many(TABLE, [item("a", V1), item("b", V1, "李四"), item("c", V2, "王五")])
    with Store(tmp_path, backup_every_hours=None) as s:
        no_parsing(monkeypatch)
        rec = s.get(TABLE, "a")
        rec["data"]["name"] = "张三丰"
        rec["partition"] = V2
        s.put(TABLE, rec, {"name": "张三丰"}, {"who": "王五"})
    assert [d["id"] for d in stock_read(data_file(tmp_path, V1)).values()] == ["b"]
    assert [d["id"] for d in stock_read(data_file(tmp_path, V2)).values()] == ["c", "a"]
    monkeypatch.undo()
    with Store(tmp_path, backup_every_hours=None) as s:
        assert s.index(TABLE)["a"]["_p"] == V2 and s.get(TABLE, "a")["data"]["name"] == "张三丰"


def test_bytes_changed_under_a_matching_index_are_parsed_and_never_overwritten(tmp_path):
    """Damage on disk that keeps size, mtime and inode: only the CRC-32 notices it."""
    with Store(tmp_path, backup_every_hours=None) as s:
        s.put_many(TABLE, [item("a", V1, "甲"), item("b", V1, "乙"), item("c", V2, "丙")])
    path = data_file(tmp_path)
    st = os.stat(path)
    raw = path.read_bytes()
    damaged = raw.replace(b'"name":"', b'"name";"', 1)
    with open(path, "r+b") as fh:  # in place: same inode and size
        fh.write(damaged)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    with Store(tmp_path, backup_every_hours=None) as s:
        assert s.index(TABLE)["a"]["name"] == "甲"  # the index still matches size, mtime, inode
        s.put(TABLE, *item("d", V1, "丁"))
        [problem] = s.problems
        assert problem.is_error and f"records/{TABLE}/{V1}.json" in problem.message
        assert s.get(TABLE, "a") is None and s.get(TABLE, "d")["data"]["name"] == "丁"
    [aside] = (tmp_path / f"quarantine/records/{TABLE}").glob(f"{V1}.json.*")
    assert aside.read_bytes() == damaged


def test_same_size_valid_change_under_a_matching_index_is_read_not_lost(tmp_path):
    with Store(tmp_path, backup_every_hours=None) as s:
        s.put_many(TABLE, [item("a", V1, "甲"), item("b", V1, "乙")])
    path = data_file(tmp_path)
    st = os.stat(path)
    changed = path.read_bytes().replace("乙".encode(), "丁".encode())
    with open(path, "r+b") as fh:
        fh.write(changed)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    with Store(tmp_path, backup_every_hours=None) as s:
        s.put(TABLE, *item("a", V1, "甲二"))
        assert s.problems == []
    names = {d["id"]: d["data"]["name"] for d in stock_read(path).values()}
    assert names == {"a": "甲二", "b": "丁"}


def test_file_written_by_stock_tinydb_is_read_and_rewritten_in_carebook_form(tmp_path, monkeypatch):
    folder = tmp_path / "records" / TABLE
    folder.mkdir(parents=True)
    with TinyDB(data_file(tmp_path)) as db:  # spaces and \\u escapes, a foreign document, ids with a gap
        db.insert_multiple([{"id": "a", "partition": V1, "data": {"name": "甲"}, "_row": {"name": "甲"}, "_t": 1},
                            {"note": "别的程序写的"}])
        db.insert({"id": "b", "partition": V1, "data": {"name": "乙"}, "_row": {"name": "乙"}, "_t": 2})
        db.remove(doc_ids=[3])
        db.insert({"id": "b", "partition": V1, "data": {"name": "乙"}, "_row": {"name": "乙"}, "_t": 2})
    assert b"\\u" in data_file(tmp_path).read_bytes()
    with Store(tmp_path, backup_every_hours=None) as s:
        assert sorted(s.index(TABLE)) == ["a", "b"] and s.problems == []
        s.put(TABLE, *item("c", V1, "丙"))
        assert s.get(TABLE, "a")["data"]["name"] == "甲"
    docs = stock_read(data_file(tmp_path))
    assert docs == {1: {"id": "a", "partition": V1, "data": {"name": "甲"}, "_row": {"name": "甲"}, "_t": 1},
                    2: {"note": "别的程序写的"}, 4: docs[4], 5: docs[5]}
    assert docs[4]["id"] == "b" and docs[5]["id"] == "c"
    assert "丙".encode() in data_file(tmp_path).read_bytes() and b"\\u" not in data_file(tmp_path).read_bytes()
    with Store(tmp_path, backup_every_hours=None) as s:  # now in carebook form: cut, not parsed
        no_parsing(monkeypatch)
        s.put(TABLE, *item("b", V1, "乙二"))
    assert stock_read(data_file(tmp_path))[4]["data"]["name"] == "乙二"


def test_index_of_the_previous_format_is_rebuilt_silently(tmp_path, monkeypatch):
    with Store(tmp_path, backup_every_hours=None) as s:
        s.put(TABLE, *item("a", V1, "甲"))
    index = tmp_path / f"records/{TABLE}/{V1}.index.json"
    old = json.loads(index.read_text("utf-8"))
    index.write_text(json.dumps({"format": 1, "data": old["data"], "rows": old["rows"]}), "utf-8")
    with Store(tmp_path, backup_every_hours=None) as s:
        assert s.index(TABLE)["a"]["name"] == "甲" and s.problems == []
    assert json.loads(index.read_text("utf-8"))["layout"]["size"] == data_file(tmp_path).stat().st_size
    with Store(tmp_path, backup_every_hours=None) as s:
        no_parsing(monkeypatch)
        s.put(TABLE, *item("b", V1, "乙"))


def test_other_tables_in_a_village_file_are_kept(tmp_path):
    folder = tmp_path / "records" / TABLE
    folder.mkdir(parents=True)
    data_file(tmp_path).write_text(json.dumps(
        {"notes": {"1": {"text": "备注"}}, "_default": {"1": {"id": "a", "data": {}, "_row": {}, "_t": 1}}},
        ensure_ascii=False), "utf-8")
    with Store(tmp_path, backup_every_hours=None) as s:
        s.put(TABLE, *item("b", V1, "乙"))
    with Store(tmp_path, backup_every_hours=None) as s:
        s.put(TABLE, *item("a", V1, "甲"))
    content = json.loads(data_file(tmp_path).read_text("utf-8"))
    assert content["notes"] == {"1": {"text": "备注"}}
    assert [d["id"] for d in content["_default"].values()] == ["a", "b"]


@pytest.mark.parametrize("raw, reason", [
    (b'{"_default": {"1": {"id": "a"}}', "truncated"),
    (b'{"_default": {"1": {"id": "a"}}} x', "extra"),
    (b'{"_default": {"1": {"id": "a"}} "t": {}}', "','"),
    (b'{"_default": [1]}', "'{'"),
    (b'{"t": 3}', "TinyDB"),
    (b'[]', "'{'"),
    ("{\"_default\": {\"1\": {\"id\": \"甲\"}}}".encode("gbk"), "UnicodeDecodeError"),
])
def test_parse_refuses_what_is_not_a_tinydb_file(tmp_path, raw, reason):
    with pytest.raises(CorruptFile, match=reason):
        tinyfile.parse(tmp_path / "x.json", raw)


def test_parse_gives_each_documents_exact_text(tmp_path):
    raw = '{"_default":{"1":{"id":"a","t":"}\\"{"},"2":{"x":[1,2],"名":"老人"},"1":{"id":"b"}}}'.encode()
    docs, values, layout = tinyfile.parse(tmp_path / "x.json", raw)
    assert values == [{"id": "b"}, {"x": [1, 2], "名": "老人"}]  # a repeated id: the later copy wins, as in json.loads
    assert docs.ids == {"b": "1"} and docs.texts == {"1": b'{"id":"b"}', "2": '{"x":[1,2],"名":"老人"}'.encode()}
    assert layout is None  # the file held a repeated id: not what carebook writes
    canonical = '{"_default":{"1":{"id":"b"},"2":{"x":[1,2],"名":"老人"}}}'.encode()
    assert tinyfile.parse(tmp_path / "x.json", canonical)[2]["size"] == len(canonical)
    spaced = tinyfile.parse(tmp_path / "x.json", canonical.replace(b",", b", "))
    assert spaced[2] is None and spaced[0].texts == docs.texts  # re-encoded in carebook's form
    assert docs.next_id == 3
    raw2, layout = docs.changed({"c": b'{"id":"c"}'}, {"b"}).encode()
    assert json.loads(raw2) == {"_default": {"2": {"x": [1, 2], "名": "老人"}, "3": {"id": "c"}}}
    cut = Documents.from_layout(raw2, layout)
    assert cut.texts == {"2": docs.texts["2"], "3": b'{"id":"c"}'} and cut.ids == {"c": "3"} and cut.next_id == 4
    assert Documents.from_layout(raw2.replace(b"3", b"4"), layout) is None
    assert Documents.from_layout(raw2 + b" ", layout) is None
    assert Documents.from_layout(raw2, {"size": len(raw2)}) is None


def test_commit_makes_files_durable_together_and_leaves_no_temps(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    atomic.commit([(atomic.stage(a, b"1"), a), (atomic.stage(b, b"2"), b)])
    assert a.read_bytes() == b"1" and b.read_bytes() == b"2"
    (tmp_path / "dir.json").mkdir()  # a rename that must fail
    staged = [(atomic.stage(a, b"3"), a), (atomic.stage(tmp_path / "dir.json", b"4"), tmp_path / "dir.json")]
    with pytest.raises(OSError):
        atomic.commit(staged)
    assert not list(tmp_path.glob(f"*{atomic.TMP_SUFFIX}")) and b.read_bytes() == b"2"


def test_village_cache_is_bounded(tmp_path):
    with Store(tmp_path, backup_every_hours=None, cache_partitions=3) as s:
        s.put_many(TABLE, [item(f"r{i}", f"1201161572{i:02d}") for i in range(10)])
        for i in range(10):
            s.put(TABLE, *item(f"r{i}", f"1201161572{i:02d}", "再存"))
            assert s.get(TABLE, f"r{i}")["data"]["name"] == "再存"
        assert len(s._cache) == 3
        assert all(isinstance(part.docs.texts[k], bytes) for part in s._cache.values() for k in part.docs.texts)
