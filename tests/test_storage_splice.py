"""Index files of format 3: one list row per line, so a save splices its row into the file's text
instead of parsing and encoding every row of the village. The spliced bytes must be exactly those
of a full encode; anything not exactly as written (format 2, a rows part whose CRC does not match,
an index that does not match its data) takes the full path, and format 2 is still read."""
from __future__ import annotations

import json

import pytest

from core.storage import Store, indexfile, tinyfile
from core.storage.indexfile import IndexText, LazyRows
from core.storage.tinyfile import Documents

from storage_support import TABLE, V1, V2, data_file, item  # noqa: E402,F401

ROWS = {"a": {"name": "甲", "_p": V1}, 'b"q': {"name": "乙}\n,", "_p": V1}, "c": {"name": "丙", "_h": [V1, V2]}}


@pytest.mark.parametrize("lines, removes", [
    ({"b\"q": {"name": "换"}}, []),                        # replace in the middle
    ({"a": {"name": "换"}, "c": {"x": 1}}, []),            # first and last
    ({"new": {"name": "新"}}, []),                         # append
    ({}, ["a"]), ({}, ['b"q']), ({}, ["c"]),              # remove first, middle, last
    ({}, ["a", 'b"q', "c"]),                              # remove all
    ({"new": {}}, ["a", 'b"q', "c", "missing"]),
    ({"a": {"name": "留"}}, ["a"]),                        # put wins over remove, as in the store
])
def test_spliced_text_is_byte_identical_to_a_full_encode(lines, removes):
    rows = dict(ROWS)
    for rid in removes:
        if rid not in lines:
            rows.pop(rid, None)
    rows.update(lines)
    spliced = IndexText.from_rows(ROWS).spliced({rid: indexfile.row_line(rid, row) for rid, row in lines.items()}, removes)
    assert spliced.body == IndexText.from_rows(rows).body
    assert spliced.rows() == rows
    raw = spliced.encode([1, 2], None)
    assert json.loads(raw) == {"format": 3, "data": [1, 2], "layout": None, "check": json.loads(raw)["check"], "rows": rows}


def test_empty_text_splices_and_encodes():
    assert IndexText().spliced({"a": b'"a":{}'}, []).body == b'\n"a":{}\n'
    assert json.loads(IndexText().encode([0, 0], None))["rows"] == {}


def test_lazy_rows_find_rows_without_parsing_them_all():
    lazy = LazyRows(IndexText.from_rows(ROWS), V1)
    assert lazy.get("c") == {"name": "丙", "_h": [V1, V2], "_p": V1} and lazy.get("zz") is None
    assert len(lazy) == 3 and lazy._rows is None
    assert lazy.ids() == set(ROWS) and 'b"q' in lazy       # an id with an escape: found by parsing
    assert dict(lazy) == {rid: {**row, "_p": V1} for rid, row in ROWS.items()}


def _index(tmp_path, village=V1):
    return tmp_path / f"records/{TABLE}/{village}.index.json"


def test_store_splices_and_a_new_save_into_a_cold_village_parses_no_rows(tmp_path, monkeypatch):
    with Store(tmp_path, backup_every_hours=None) as s:
        s.put_many(TABLE, [item(f"r{i}", V1, f"老人{i}") for i in range(30)])
        s.put(TABLE, *item("r3", V1, "改名"))             # the whole table is loaded: spliced from disk
    with Store(tmp_path, backup_every_hours=None) as s:
        encoded = []
        real = IndexText.from_rows
        monkeypatch.setattr(IndexText, "from_rows", classmethod(lambda cls, rows: encoded.append(rows) or real(rows)))
        s.put(TABLE, *item("new", V1, "新人"))            # table not loaded: one village, kept as text
        s.put(TABLE, *item("r5", V1, "又改"))
        lazy = s._partials[TABLE].lazy[V1]
        assert encoded == [] and lazy._rows is None        # no row encoded or parsed whole
        assert s.select(TABLE, V1, lambda row: row["name"] == "新人")[0]["id"] == "new"
    raw = _index(tmp_path).read_bytes()
    content = json.loads(raw)
    assert raw == indexfile.encode(content["data"], content["rows"], content["layout"])
    with Store(tmp_path, backup_every_hours=None) as s:
        names = {rid: row["name"] for rid, row in s.index(TABLE).items()}
        assert len(names) == 31 and names["r3"] == "改名" and names["r5"] == "又改" and s.problems == []


def test_rows_part_not_as_written_is_not_spliced(tmp_path):
    with Store(tmp_path, backup_every_hours=None) as s:
        s.put_many(TABLE, [item("a", V1, "甲"), item("b", V1, "乙")])
    index = _index(tmp_path)
    raw = index.read_bytes()
    assert indexfile.read_text(index, data_file(tmp_path)) is not None
    index.write_bytes(raw.replace("甲".encode(), "丁".encode()))  # same size, still JSON: CRC differs
    assert indexfile.read_text(index, data_file(tmp_path)) is None
    with Store(tmp_path, backup_every_hours=None) as s:
        s.put(TABLE, *item("c", V1, "丙"))                # read with json.loads, encoded whole
    rows = json.loads(index.read_bytes())["rows"]
    assert {rid: r["name"] for rid, r in rows.items()} == {"a": "丁", "b": "乙", "c": "丙"}
    assert indexfile.read_text(index, data_file(tmp_path)) is not None


def _as_format_2(tmp_path, village=V1) -> None:
    """Rewrite a village's index as carebook wrote it before format 3 (spans absolute)."""
    index = _index(tmp_path, village)
    content = json.loads(index.read_bytes())
    raw = data_file(tmp_path, village).read_bytes()
    docs = Documents.from_layout(raw, content["layout"])
    spans, pos = [], len(b'{"_default":{')
    owner = {key: rid for rid, key in docs.ids.items()}
    for n, (key, blob) in enumerate(docs.texts.items()):
        pos += len(key) + 3 + (1 if n else 0)
        spans.append([key, owner.get(key), pos, pos + len(blob)])
        pos += len(blob)
    layout = {"size": len(raw), "crc": content["layout"]["crc"], "spans": spans}
    index.write_bytes(json.dumps({"format": 2, "data": content["data"], "rows": content["rows"], "layout": layout},
                                 ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def test_index_of_format_2_is_read_and_its_layout_still_cuts_the_data_file(tmp_path, monkeypatch):
    with Store(tmp_path, backup_every_hours=None) as s:
        s.put_many(TABLE, [item(f"r{i}", V1, f"老人{i}") for i in range(12)] + [item("x", V2, "外村")])
    rows = json.loads(_index(tmp_path).read_bytes())["rows"]
    _as_format_2(tmp_path)
    text, _ = indexfile.read_text(_index(tmp_path), data_file(tmp_path))   # cut into lines, rows not parsed
    assert text.body == IndexText.from_rows(rows).body
    with Store(tmp_path, readonly=True) as s:                 # open reads format 2 as it is
        assert len(s.index(TABLE)) == 13 and s.problems == []
    monkeypatch.setattr(tinyfile, "parse", lambda path, raw: pytest.fail(f"parsed {path}"))
    with Store(tmp_path, backup_every_hours=None) as s:
        s.put(TABLE, *item("r4", V1, "改名"))             # cut by the old spans, not parsed
        s.put(TABLE, *item("new", V1, "新人"))
    assert json.loads(_index(tmp_path).read_bytes())["format"] == 3
    with Store(tmp_path, backup_every_hours=None) as s:
        names = {rid: row["name"] for rid, row in s.index(TABLE).items()}
        assert len(names) == 14 and names["r4"] == "改名" and s.problems == []


def test_layout_round_trip_and_old_spans():
    docs = Documents().changed({"a": b'{"id":"a"}', "b": '{"id":"b","n":"二"}'.encode(), "c": b'{"id":"c"}'}, set())
    raw, layout = docs.changed({"d": b'{"id":"d"}'}, {"b"}).encode()
    assert layout["keys"] == ["1", "3", "4"] and layout["rids"] == ["a", "c", "d"]
    cut = Documents.from_layout(raw, layout)
    assert cut.texts == {"1": b'{"id":"a"}', "3": b'{"id":"c"}', "4": b'{"id":"d"}'} and cut.next_id == 5
    assert cut.encode() == (raw, layout)
    assert Documents.from_layout(raw, {**layout, "lens": layout["lens"][:-1]}) is None
    assert Documents.from_layout(raw, {**layout, "lens": [11, 10, 10]}) is None    # spans do not fit the bytes
    spans = [["1", "a", 17, 27], ["3", "c", 32, 42], ["4", "d", 47, 57]]
    old = Documents.from_layout(raw, {"size": len(raw), "crc": layout["crc"], "spans": spans})
    assert old.texts == cut.texts and old.ids == cut.ids and old.next_id == 5


def test_a_record_and_its_derived_rows_are_made_durable_in_one_commit(tmp_path, monkeypatch):
    from core.storage import atomic

    with Store(tmp_path, backup_every_hours=None) as s:
        s.put_many(TABLE, [item("a", V1)])
        s.put_many("rollup", [({"id": "p1", "partition": V2, "data": {}}, {"last": "2026-01-01"}, None)])
    commits = []
    real = atomic.commit
    monkeypatch.setattr(atomic, "commit", lambda staged, *a, **k: commits.append([p.name for _, p in staged]) or real(staged, *a, **k))
    with Store(tmp_path, backup_every_hours=None) as s:
        rollup = [({"id": "p1", "partition": V2, "data": {}}, {"last": "2026-02-01"}, None),
                  ({"id": "p2", "partition": V1, "data": {}}, {"last": "2026-02-01"}, None)]
        s.put(TABLE, *item("b", V1, "乙"), derived=("rollup", rollup))
    assert commits == [[f"{V1}.json", f"{V1}.index.json", f"{V1}.json", f"{V1}.index.json", f"{V2}.json", f"{V2}.index.json"]]
    with Store(tmp_path, backup_every_hours=None) as s:
        assert {rid: r["last"] for rid, r in s.index("rollup").items()} == {"p1": "2026-02-01", "p2": "2026-02-01"}
        assert set(s.index(TABLE)) == {"a", "b"} and s.history("rollup", "p2") == [] and len(s.history(TABLE, "b")) == 1


def _docs(n: int) -> Documents:
    return Documents().changed({f"r{i}": f'{{"id":"r{i}","n":"{"老" * i}"}}'.encode() for i in range(n)}, set())


@pytest.mark.parametrize("n", [0, 1, 5])
@pytest.mark.parametrize("upserts", [
    {"r0": b'{"id":"r0","n":"longer than before"}'}, {"r4": b'{"id":"r4"}'}, {"r2": b'{"id":"r2"}'},
    {"new": b'{"id":"new"}'}, {"new": b'{"id":"new"}', "r1": b'{"id":"r1","x":[1]}', "n2": b'{"id":"n2"}'},
])
def test_data_file_spliced_into_its_bytes_is_byte_identical_to_a_full_encode(n, upserts):
    whole = _docs(n)
    raw, layout = whole.encode()
    held = Documents.from_layout(raw, layout)
    assert held._spliced is not None and held.encode() == (raw, layout)
    upserts = {rid: blob for rid, blob in upserts.items() if rid.startswith("n") or int(rid[1:]) < n}
    spliced = held.changed(upserts, set())
    again = whole.changed(upserts, set())
    assert spliced._spliced is not None                        # no document was cut
    assert spliced.encode() == again.encode()
    assert spliced.ids == again.ids and spliced.next_id == again.next_id and spliced.size() == again.size()
    assert all(spliced.text(key) == blob for key, blob in again.texts.items())
    assert spliced.texts == again.texts and spliced._spliced is None   # cut on demand, then held as texts
    assert held.encode() == (raw, layout)                      # the original is left as it was


def test_a_removal_or_a_layout_that_does_not_fit_takes_the_full_path():
    raw, layout = _docs(3).encode()
    held = Documents.from_layout(raw, layout)
    moved = held.changed({"r1": b'{"id":"r1"}'}, {"r0"})
    assert moved._spliced is None and moved.encode() == _docs(3).changed({"r1": b'{"id":"r1"}'}, {"r0"}).encode()
    assert Documents.from_layout(raw, {**layout, "keys": ["1", "1", "3"]}) is None
    assert Documents.from_layout(raw, {**layout, "lens": [*layout["lens"][:2], "9"]}) is None


def test_format_2_rows_that_do_not_match_the_data_layout_are_parsed_not_cut(tmp_path):
    with Store(tmp_path, backup_every_hours=None) as s:
        s.put_many(TABLE, [item("a", V1, "甲"), item("b", V1, "乙")])
    _as_format_2(tmp_path)
    index = _index(tmp_path)
    content = json.loads(index.read_bytes())
    for rows in ({**content["rows"], "ghost": {"name": "无"}},                   # a row the data file lacks
                 {**content["rows"], "a": {"x": {"nested": 1}, "name": "甲"}}):  # an object inside a row
        raw = json.dumps({**content, "rows": rows}, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        assert indexfile._cut_v2(raw) is None
    assert indexfile._cut_v2(index.read_bytes()) is not None
    index.write_bytes(index.read_bytes().replace(b'"rows":{', b'"rows": {'))     # not as carebook wrote it
    assert indexfile.read_text(index, data_file(tmp_path)) is None
    with Store(tmp_path, backup_every_hours=None) as s:
        s.put(TABLE, *item("c", V1, "丙"))
        assert {rid: r["name"] for rid, r in s.index(TABLE).items()} == {"a": "甲", "b": "乙", "c": "丙"}


def test_a_new_record_does_not_look_through_other_villages_and_a_move_still_does(tmp_path):
    with Store(tmp_path, backup_every_hours=None) as s:
        s.put_many(TABLE, [item("a", V1, "甲"), item("b", V2, "乙")])
    with Store(tmp_path, backup_every_hours=None) as s:
        s.put(TABLE, *item("n1", V1, "新一"), new=True)
        s.put(TABLE, *item("n2", V2, "新二"), new=True)
        assert s._partials[TABLE].lazy[V1]._ids is None          # V1's ids never listed
        s.put(TABLE, *item("a", V2, "甲"))                        # a move: found in V1, removed there
        assert "a" not in s._partials[TABLE].lazy[V1]
    with Store(tmp_path, backup_every_hours=None) as s:
        assert {rid: row["_p"] for rid, row in s.index(TABLE).items()} == {"a": V2, "b": V2, "n1": V1, "n2": V2}
        assert [h["diff"] for h in s.history(TABLE, "a")] == [{"name": [None, "甲"]}] * 2


def test_a_village_written_in_this_session_splices_into_what_it_wrote(tmp_path, monkeypatch):
    with Store(tmp_path, backup_every_hours=None) as s:
        s.put_many(TABLE, [item("a", V1, "甲")])
    reads = []
    real = indexfile.read_text
    monkeypatch.setattr(indexfile, "read_text", lambda *a: reads.append(a) or real(*a))
    with Store(tmp_path, backup_every_hours=None) as s:
        assert s.count(TABLE) == 1                                 # whole table loaded: rows parsed
        for name in ("乙", "丙", "丁"):
            s.put(TABLE, *item(f"r{name}", V1, name), new=True)
    assert len(reads) == 1                                         # the file was read for the first save only
    raw = _index(tmp_path).read_bytes()
    content = json.loads(raw)
    assert raw == indexfile.encode(content["data"], content["rows"], content["layout"]) and len(content["rows"]) == 4


@pytest.mark.parametrize("escaped", [False, True])
def test_a_batch_of_lines_is_cut_once_and_still_byte_identical(escaped):
    rows = {f"r{i}": {"n": i} for i in range(30)}
    if escaped:
        rows['q"x'] = {"n": "esc"}                               # cannot be keyed by its bytes: one by one
    lines = {f"r{i}": {"n": -i} for i in range(0, 30, 3)} | {f"new{i}": {"n": i} for i in range(12)}
    removes = ["r1", "r4", "r29", "r3", "gone"]
    expected = {rid: row for rid, row in rows.items() if rid not in removes or rid in lines} | lines
    spliced = IndexText.from_rows(rows).spliced({rid: indexfile.row_line(rid, row) for rid, row in lines.items()}, removes)
    assert spliced.body == IndexText.from_rows(expected).body
