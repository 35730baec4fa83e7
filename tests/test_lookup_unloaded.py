"""A duplicate ID number or file number found without loading the table (`Store.rows_holding`):
one save from the command line must not read 50,000 list rows, and must still find every
duplicate — in a village the journal changed, behind a damaged or outdated index file."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))   # tests/ helpers under --import-mode=importlib

import pytest

from core.problems import ValidationFailed
from core.storage import Store
from storage_support import TABLE, V1, V2, item
from tui_support import PERSON, open_engine, save_person

V3 = "120116157203"


def index_file(root: Path, village: str) -> Path:
    return root / f"records/{TABLE}/{village}.index.json"


@pytest.fixture(autouse=True)
def big_tables(monkeypatch):
    """Every table here is read as a district's is: by searching its index files."""
    from core.storage import store

    monkeypatch.setattr(store, "LOAD_WHOLE_BYTES", 0)


@pytest.fixture
def ledger(tmp_path):
    with Store(tmp_path) as st:
        st.put_many(TABLE, [item("a", V1, name="张三"), item("b", V2, name="李四"), item("c", V3, name="王五")])
    return tmp_path


def test_a_value_is_found_reading_only_the_village_that_holds_it(ledger):
    with Store(ledger) as st:
        reads = []
        part_rows = st._part_rows
        st._part_rows = lambda table, p: reads.append(p) or part_rows(table, p)
        assert st.rows_holding(TABLE, "name", "赵六") == {}
        assert reads == [] and TABLE not in st._tables          # no village parsed, nothing loaded
        assert set(st.rows_holding(TABLE, "name", "李", prefix=True)) == {"b"}
        assert reads == [V2]                                     # the one village holding it
        assert set(st.rows_holding(TABLE, "name", "李四")) == {"b"}   # a duplicate: confirmed over all


def test_a_small_table_is_read_whole_once_and_asked_in_memory(ledger, monkeypatch):
    from core.storage import store

    monkeypatch.setattr(store, "LOAD_WHOLE_BYTES", 4 << 20)
    with Store(ledger) as st:
        assert st.rows_holding(TABLE, "name", "赵六") == {}
        assert TABLE in st._tables                          # as before: a few hundred rows, read once
        assert set(st.rows_holding(TABLE, "name", "李四")) == {"b"}


def test_a_value_saved_since_the_files_were_written_is_found(ledger):
    with Store(ledger) as st:
        st.put(TABLE, *item("d", V1, name="赵六"), new=True)        # only in the journal
        assert set(st.rows_holding(TABLE, "name", "赵六")) == {"d"}
        st.put(TABLE, *item("b", V2, name="李思"))                   # renamed: the old value is gone
        assert st.rows_holding(TABLE, "name", "李四") == {}


def test_a_damaged_index_file_is_not_trusted(ledger):
    path = index_file(ledger, V2)
    raw = path.read_bytes()
    path.write_bytes(raw.replace("李四".encode(), "李五".encode()))   # same size, CRC no longer fits
    with Store(ledger) as st:
        assert set(st.rows_holding(TABLE, "name", "李四")) == {"b"}  # read from the data file


def test_an_index_of_older_data_is_not_trusted(ledger):
    old_index = index_file(ledger, V2).read_bytes()
    with Store(ledger) as st:
        st.put(TABLE, *item("e", V2, name="钱七"), new=True)
    index_file(ledger, V2).write_bytes(old_index)                   # intact, but of the data before
    with Store(ledger) as st:
        assert set(st.rows_holding(TABLE, "name", "钱七")) == {"e"}


def test_a_command_line_save_checks_duplicates_without_loading_the_people(tmp_path):
    eng = open_engine(tmp_path)
    first = save_person(eng)
    save_person(eng, id_number="120116194505050049", file_no="")     # numbered 120116157201-9002
    eng.close()
    eng = open_engine(tmp_path)
    try:
        with pytest.raises(ValidationFailed) as refused:
            eng.save("registration", eng.new_record("registration", **dict(PERSON, file_no="")))
        assert any(p.rule == "unique" and first.id in str(p) for p in refused.value.problems)
        assert not eng.index_loaded("registration")
        third = eng.save("registration", eng.new_record(
            "registration", **dict(PERSON, id_number="120116194003150066", file_no="")))
        assert third.record["data"]["file_no"] == "120116157201-9003"   # after the highest in the village
        assert not eng.index_loaded("registration")
        assert eng.find_unique("registration", "id_number", PERSON["id_number"]) == first.id
    finally:
        eng.close()


def test_row_counts_trust_only_sound_indexes(ledger):
    path = index_file(ledger, V2)
    path.write_bytes(path.read_bytes().replace("李四".encode(), "李五".encode()))   # damaged
    with Store(ledger) as st:
        st.put(TABLE, *item("d", V1, name="赵六"), new=True)                    # in the journal
        assert st.row_counts(TABLE) == {V1: 2, V2: 1, V3: 1}
        assert TABLE not in st._tables


@pytest.mark.parametrize("offset,limit", [(0, 1), (0, 50), (3, 4), (19, 5), (40, 10)])
def test_a_plain_page_reads_its_villages_only_and_equals_the_loaded_list(tmp_path, offset, limit):
    from core.transfer import demo

    eng = open_engine(tmp_path)
    demo.generate(eng, persons=24, seed=3, as_of=eng.today())
    eng.close()
    eng = open_engine(tmp_path)
    try:
        save_person(eng)                                  # one person only in the journal
        page = eng.query("registration", offset=offset, limit=limit)
        assert not eng.index_loaded("registration")
        full = eng.index("registration").query(offset=offset, limit=limit)
        assert (page.rows, page.total, page.offset, page.limit) == (full.rows, full.total, full.offset, full.limit)
        assert page.total == 25 and (page.rows or offset >= 25)
    finally:
        eng.close()
