"""File numbers from a counter stored with each village: no scan of the ledger, no number twice."""
from __future__ import annotations

import json

import pytest

from binhai_support import TOWN2, VILLAGE, VILLAGE2, open_engine, person
from core.problems import ValidationFailed


class NoScan(dict):
    def values(self):
        raise AssertionError("the list rows were scanned for a number")


def test_numbers_come_from_the_village_counter_and_survive_a_restart(tmp_path):
    eng = open_engine(tmp_path)
    numbers = [eng.save("registration", person(file_no=None)).record["data"]["file_no"] for _ in range(2)]
    assert numbers == [f"{VILLAGE}-0001", f"{VILLAGE}-0002"]
    other = eng.save("registration", person(file_no=None, village=VILLAGE2, town=TOWN2,
                                            address="天津市滨海新区太平镇太平村1号"))
    assert other.record["data"]["file_no"] == f"{VILLAGE2}-0001"
    eng.save("registration", person(file_no=f"{VILLAGE}-0003"))          # typed by hand
    with pytest.raises(ValidationFailed):
        eng.save("registration", person(file_no=None, name=None))       # refused: takes no number
    assert eng.save("registration", person(file_no=None)).record["data"]["file_no"] == f"{VILLAGE}-0004"
    eng.close()
    content = json.loads((tmp_path / f"data/records/registration/{VILLAGE}.json").read_text("utf-8"))
    assert content["_meta"]["1"]["counters"] == {f"file_no:{VILLAGE}-": 4}
    eng = open_engine(tmp_path, forms=tmp_path / "forms")
    try:
        index = eng.index("registration")
        index.rows = NoScan(index.rows)
        assert eng.save("registration", person(file_no=None)).record["data"]["file_no"] == f"{VILLAGE}-0005"
    finally:
        eng.close()


def test_a_ledger_without_counters_is_seeded_once_from_its_rows(tmp_path):
    eng = open_engine(tmp_path)
    eng.save("registration", person(file_no=f"{VILLAGE}-0041"))
    eng.close()
    path = tmp_path / f"data/records/registration/{VILLAGE}.index.json"
    raw = path.read_bytes()
    assert b'"counters":{}' in raw                       # no number was ever taken here
    eng = open_engine(tmp_path, forms=tmp_path / "forms")
    try:
        assert eng.save("registration", person(file_no=None)).record["data"]["file_no"] == f"{VILLAGE}-0042"
    finally:
        eng.close()
