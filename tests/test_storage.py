"""Store basics on real files: save, read back, list rows, move between villages, reopen."""
from __future__ import annotations

import json
import shutil
import threading

import pytest

from core.storage import Store, StorageError, sealed
TABLE = "registration"
V1, V2 = "120116157201", "120116157202"


def person(rid: str, village: str, name: str = "张三", **data) -> tuple[dict, dict, dict]:
    """One `(record, index_row, history_entry)` item as the engine would pass it."""
    record = {"id": rid, "form": TABLE, "version": 1, "partition": village,
              "data": {"name": name, "village": village, "address": "滨海新区杨家泊镇", **data}}
    return record, {"name": name, "village": village}, {"who": "王五", "diff": {"name": [None, name]}}


def test_put_get_index_iter_count(tmp_path):
    with Store(tmp_path) as s:
        s.put(TABLE, *person("a", V1, "张三"))
        s.put(TABLE, *person("b", V2, "李四"))
        assert s.get(TABLE, "a")["data"]["name"] == "张三"
        assert s.get(TABLE, "missing") is None
        assert s.index(TABLE) == {"a": {"name": "张三", "village": V1, "_p": V1, "_t": s.index(TABLE)["a"]["_t"]},
                                  "b": {"name": "李四", "village": V2, "_p": V2, "_t": s.index(TABLE)["b"]["_t"]}}
        assert sorted(r["id"] for r in s.iter_records(TABLE)) == ["a", "b"]
        assert [r["id"] for r in s.iter_records(TABLE, partitions=[V2])] == ["b"]
        assert s.count(TABLE) == 2
        assert s.tables() == [TABLE]
        assert s.partitions(TABLE) == [V1, V2]
        assert s.count("visit") == 0 and s.index("visit") == {}


def test_update_replaces_whole_record_and_get_returns_a_copy(tmp_path):
    with Store(tmp_path) as s:
        rec, row, entry = person("a", V1, phone="13800000000")
        s.put(TABLE, rec, row, entry)
        rec2 = {k: v for k, v in rec.items()}
        rec2["data"] = {"name": "张三", "village": V1}
        s.put(TABLE, rec2, row, {"who": "王五", "diff": {"phone": ["13800000000", None]}})
        got = s.get(TABLE, "a")
        assert "phone" not in got["data"]
        got["data"]["name"] = "changed"
        assert s.get(TABLE, "a")["data"]["name"] == "张三"
        assert [h["diff"] for h in s.history(TABLE, "a")] == [{"name": [None, "张三"]}, {"phone": ["13800000000", None]}]


def test_partition_move_leaves_old_file_in_same_put(tmp_path):
    with Store(tmp_path) as s:
        s.put(TABLE, *person("a", V1))
        s.put(TABLE, *person("keep", V1))
        s.put(TABLE, *person("a", V2, "张三丰"))
        assert s.get(TABLE, "a")["partition"] == V2
        assert s.index(TABLE)["a"]["_p"] == V2
        assert len(s.history(TABLE, "a")) == 2
    with Store(tmp_path):        # the village files are rewritten from the journal at close
        old = json.loads((tmp_path / f"records/{TABLE}/{V1}.json").read_text("utf-8"))
        assert [d["id"] for d in old["_default"].values()] == ["keep"]
        old_index = json.loads((tmp_path / f"records/{TABLE}/{V1}.index.json").read_text("utf-8"))
        assert list(old_index["rows"]) == ["keep"]


def test_reopen_sees_everything(tmp_path):
    with Store(tmp_path) as s:
        for i in range(30):
            s.put(TABLE, *person(f"r{i}", f"1201161572{i % 3:02d}", f"老人{i}"))
        s.put(TABLE, *person("r0", V2, "搬家"))
    with Store(tmp_path) as s:
        assert s.count(TABLE) == 30
        assert s.get(TABLE, "r0")["data"]["name"] == "搬家"
        assert s.get(TABLE, "r29")["data"]["name"] == "老人29"
        assert len(list(s.iter_records(TABLE))) == 30
        assert len(s.history(TABLE, "r0")) == 2


def test_chinese_is_stored_as_utf8_text(tmp_path):
    with Store(tmp_path) as s:
        s.put(TABLE, *person("a", V1, "张三"))
    for rel in (f"records/{TABLE}/{V1}.json", f"records/{TABLE}/{V1}.index.json", f"history/{TABLE}/{V1}.jsonl"):
        text = (tmp_path / rel).read_bytes().decode("utf-8")
        assert "张三" in text and "\\u" not in text, rel


def test_put_many_groups_and_moves(tmp_path):
    with Store(tmp_path) as s:
        s.put(TABLE, *person("moved", V1))
        items = [person(f"p{i}", f"1201161572{i % 7:02d}") for i in range(500)]
        items.append(person("moved", V2, "新村"))
        items.append(person("p1", V2, "最后一次"))  # same id twice in one batch: last wins
        assert s.put_many(TABLE, items) == 501
        assert s.count(TABLE) == 501
        assert s.get(TABLE, "moved")["partition"] == V2
        assert s.get(TABLE, "p1")["data"]["name"] == "最后一次"
        assert sorted(r["id"] for r in s.iter_records(TABLE)).count("p1") == 1
    with Store(tmp_path) as s:
        assert s.count(TABLE) == 501
        assert s.index(TABLE)["p1"]["_p"] == V2
        assert "moved" not in {d["id"] for d in json.loads(
            (tmp_path / f"records/{TABLE}/{V1}.json").read_text("utf-8"))["_default"].values()}


def test_copy_left_behind_by_crash_mid_move_is_resolved(tmp_path):
    folder = tmp_path / "records" / TABLE
    with Store(tmp_path, backup_every_hours=None) as s:
        s.put(TABLE, *person("a", V1, "旧"))
    saved = tmp_path / "saved"
    shutil.copytree(folder, saved)
    with Store(tmp_path, backup_every_hours=None) as s:
        s.put(TABLE, *person("a", V2, "新"))
    for name in (f"{V1}.json", f"{V1}.index.json"):  # as if the crash came before the old file was cleaned
        shutil.copy2(saved / name, folder / name)
    with Store(tmp_path, backup_every_hours=None) as s:
        assert s.count(TABLE) == 1
        assert s.get(TABLE, "a")["data"]["name"] == "新"
        assert [r["data"]["name"] for r in s.iter_records(TABLE)] == ["新"]
    assert json.loads((folder / f"{V1}.json").read_text("utf-8"))["_default"] == {}


@pytest.mark.parametrize("table, record, message", [
    ("Bad Table", {"id": "a", "partition": V1}, "表名"),
    (TABLE, {"id": "a", "partition": "../evil"}, "分区名"),
    (TABLE, {"id": "a", "partition": "CON"}, "分区名"),
    (TABLE, {"partition": V1}, "编号"),
    (TABLE, {"id": "a", "partition": V1, "data": {"when": object()}}, "无法保存"),
])
def test_bad_input_is_refused_in_chinese_and_changes_nothing(tmp_path, table, record, message):
    with Store(tmp_path) as s:
        s.put(TABLE, *person("ok", V1))
        with pytest.raises(StorageError, match=message):
            s.put(table, record, {}, {})
        assert s.count(TABLE) == 1
        s.put(TABLE, *person("ok2", V1))
        assert s.count(TABLE) == 2


def test_record_without_partition_goes_to_none_partition(tmp_path):
    with Store(tmp_path) as s:
        rec, row, entry = person("a", V1)
        rec["partition"] = None
        s.put(TABLE, rec, row, entry)
        assert s.partitions(TABLE) == ["_none"]
        assert s.get(TABLE, "a")["partition"] is None


def test_readonly_refuses_writes_and_closed_store_refuses_everything(tmp_path):
    with Store(tmp_path / "missing", readonly=True) as ro:
        assert ro.count(TABLE) == 0
        with pytest.raises(StorageError, match="只读"):
            ro.put(TABLE, *person("a", V1))
    assert not (tmp_path / "missing").exists()
    s = Store(tmp_path)
    s.close()
    with pytest.raises(StorageError, match="已关闭"):
        s.get(TABLE, "a")


def test_reads_beside_a_saving_thread(tmp_path):
    """The TUI saves in a worker thread while the screen lists rows."""
    with Store(tmp_path) as s:
        failures = []

        def writer():
            try:
                for i in range(150):
                    s.put(TABLE, *person(f"t{i}", f"1201161572{i % 3:02d}"))
                    s.put(TABLE, *person(f"t{i // 2}", f"1201161572{(i + 1) % 3:02d}", "搬"))
            except Exception as exc:  # reported below, with the thread's own error
                failures.append(exc)

        thread = threading.Thread(target=writer)
        thread.start()
        while thread.is_alive():
            rows = s.index(TABLE)
            assert all(r["_p"].startswith("1201161572") for r in rows.values())
            assert len(list(s.iter_records(TABLE))) <= 150
        thread.join()
        assert failures == []
        assert s.count(TABLE) == 150 == len(list(s.iter_records(TABLE)))


def test_odd_lookups_answer_none(tmp_path):
    with Store(tmp_path) as s:
        s.put(TABLE, *person("a", V1))
        assert s.get(TABLE, ["a"]) is None and s.history(TABLE, None) == []
        with pytest.raises(StorageError, match="分区名"):
            list(s.iter_records(TABLE, partitions=["../x"]))


def test_files_after_many_changes_hold_exactly_the_last_versions(tmp_path):
    """Only changed documents are re-encoded on save; the file must still be the whole truth."""
    expected = {}
    with Store(tmp_path) as s:
        for i in range(20):
            expected[f"r{i}"] = person(f"r{i}", f"1201161572{i % 2:02d}", f"老人{i}")[0]
            s.put(TABLE, *person(f"r{i}", f"1201161572{i % 2:02d}", f"老人{i}"))
        for i in range(0, 20, 3):  # updates in place, some moving village
            item = person(f"r{i}", f"1201161572{(i + 1) % 3:02d}", f"改名{i}", phone=None)
            expected[f"r{i}"] = item[0]
            s.put(TABLE, *item)
    with Store(tmp_path) as s:
        assert {rid: s.get(TABLE, rid) for rid in expected} == expected
    for f in (tmp_path / "records" / TABLE).glob("*.json"):
        raw = f.read_bytes()
        content = json.loads(raw)
        assert raw == sealed.seal(content)          # compact UTF-8, sealed with its own CRC
