"""Reading and saving without loading a whole table: a new record, one village's records, a scan."""
from __future__ import annotations

from core.storage import Store
from storage_support import TABLE, V1, V2, item


def test_a_new_record_loads_nothing_and_a_full_load_sees_all(tmp_path):
    with Store(tmp_path) as st:
        st.put_many(TABLE, [item("a", V1), item("b", V2)])
    with Store(tmp_path) as st:
        st.put(TABLE, *item("c", V1, name="李四"), new=True)
        assert TABLE not in st._tables and not st._cache     # one journal line, no file read
        assert set(st.index(TABLE)) == {"a", "b", "c"}       # the whole view, the journal included
        assert st.get(TABLE, "c")["data"]["name"] == "李四"
    with Store(tmp_path) as st:
        assert {r["id"] for r in st.iter_records(TABLE)} == {"a", "b", "c"}


def test_a_move_saved_in_one_line_leaves_no_duplicate(tmp_path):
    with Store(tmp_path) as st:
        st.put_many(TABLE, [item("a", V1, name="旧")])
    with Store(tmp_path) as st:
        st.put(TABLE, *item("a", V2, name="新"))
    with Store(tmp_path) as st:
        records = list(st.iter_records(TABLE))
        assert [(r["id"], r["data"]["name"]) for r in records] == [("a", "新")]
        assert st.index(TABLE)["a"]["_p"] == V2


def test_select_reads_one_village(tmp_path):
    with Store(tmp_path) as st:
        st.put_many(TABLE, [item("a", V1, name="张三"), item("b", V1, name="李四"), item("c", V2, name="张三")])
    with Store(tmp_path, readonly=True) as st:
        found = st.select(TABLE, V1, lambda row: row.get("name") == "张三")
        assert [(r["id"], r["data"]["name"]) for r in found] == [("a", "张三")]
        assert TABLE not in st._tables and set(st._cache) == {(TABLE, V1)}
        assert st.select(TABLE, V2, lambda row: False) == []


def test_scan_rows_reads_every_village_keeps_only_what_is_asked_and_loads_nothing(tmp_path):
    with Store(tmp_path) as st:
        st.put_many(TABLE, [item("a", V1, name="张三"), item("b", V1, name="李四"), item("c", V2, name="王五")])
    with Store(tmp_path) as st:
        st.put(TABLE, *item("d", V2, name="赵六"), new=True)     # still in the journal
        rows = st.scan_rows(TABLE, ["name"], where=lambda row: row.get("name") != "李四")
        assert rows == {"a": {"name": "张三", "_p": V1}, "c": {"name": "王五", "_p": V2},
                        "d": {"name": "赵六", "_p": V2}}
        assert TABLE not in st._tables and not st._cache      # nothing kept for the session
        st.index(TABLE)                                        # loaded whole: answered from memory
        assert set(st.scan_rows(TABLE, ["name"])) == {"a", "b", "c", "d"}
