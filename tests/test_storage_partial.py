"""Saving into a table that is not loaded whole reads only the village saved into."""
from __future__ import annotations

from core.storage import Store
from storage_support import TABLE, V1, V2, item


def test_a_save_reads_only_its_own_village_and_a_full_load_sees_all(tmp_path):
    with Store(tmp_path) as st:
        st.put_many(TABLE, [item("a", V1), item("b", V2)])
    with Store(tmp_path) as st:
        st.put(TABLE, *item("c", V1, name="李四"))
        assert TABLE not in st._tables                       # no whole-table load for one save
        assert set(st._partials[TABLE].by_part) == {V1}      # only the village saved into
        assert set(st.index(TABLE)) == {"a", "b", "c"}       # the whole view, written row included
        assert st.get(TABLE, "c")["data"]["name"] == "李四"
    with Store(tmp_path) as st:
        assert {r["id"] for r in st.iter_records(TABLE)} == {"a", "b", "c"}


def test_a_move_saved_without_the_old_village_leaves_no_duplicate(tmp_path):
    with Store(tmp_path) as st:
        st.put_many(TABLE, [item("a", V1, name="旧")])
    with Store(tmp_path) as st:
        rec, row, entry = item("a", V2, name="新")
        st.put(TABLE, rec, row, entry)                        # V1 was never read in this store
    with Store(tmp_path) as st:
        records = list(st.iter_records(TABLE))
        assert [(r["id"], r["data"]["name"]) for r in records] == [("a", "新")]
        assert st.index(TABLE)["a"]["_p"] == V2


def test_select_reads_one_village_and_parses_only_the_rows_that_pass(tmp_path, monkeypatch):
    from core.storage import partfile

    with Store(tmp_path) as st:
        st.put_many(TABLE, [item("a", V1, name="张三"), item("b", V1, name="李四"), item("c", V2, name="张三")])
    with Store(tmp_path, readonly=True) as st:
        parsed = []
        real = partfile.json.loads
        monkeypatch.setattr(partfile.json, "loads", lambda blob: parsed.append(blob) or real(blob))
        found = st.select(TABLE, V1, lambda row: row.get("name") == "张三")
        assert [(r["id"], r["data"]["name"]) for r in found] == [("a", "张三")]
        documents = [b for b in parsed if isinstance(b, bytes) and b'"_row"' in b]   # not index rows
        assert len(documents) == 1                            # the other document was not parsed
        assert TABLE not in st._tables and set(st._partials[TABLE].by_part) == {V1}
        assert st.select(TABLE, V2, lambda row: False) == []



def test_scan_rows_reads_every_village_keeps_only_what_is_asked_and_loads_nothing(tmp_path):
    with Store(tmp_path) as st:
        st.put_many(TABLE, [item("a", V1, name="张三"), item("b", V1, name="李四"), item("c", V2, name="王五")])
    with Store(tmp_path, readonly=True) as st:
        rows = st.scan_rows(TABLE, ["name"], where=lambda row: row.get("name") != "李四")
        assert rows == {"a": {"name": "张三", "_p": V1}, "c": {"name": "王五", "_p": V2}}
        assert TABLE not in st._tables and not st._partials.get(TABLE)   # nothing kept for the session
        st.index(TABLE)                                                  # loaded whole: answered from memory
        assert set(st.scan_rows(TABLE, ["name"])) == {"a", "b", "c"}


def test_scan_rows_counts_a_record_left_in_two_villages_once(tmp_path):
    with Store(tmp_path) as st:
        st.put_many(TABLE, [item("a", V1, name="旧")])
    with Store(tmp_path) as st:
        st.put(TABLE, *item("a", V2, name="新"))             # moved; V1's old copy is left behind
    with Store(tmp_path, readonly=True) as st:
        assert st.scan_rows(TABLE, ["name"]) == {"a": {"name": "新", "_p": V2}}
