"""End to end: demo ledger -> Engine.export -> files read back (every exporter, via the hook)."""
from __future__ import annotations

import csv
import json

import openpyxl
import pytest



@pytest.fixture(scope="module")
def eng(engine):
    """The conftest engine (module scope: this module's own empty ledger)."""
    return engine


@pytest.fixture(scope="module")
def demo_eng(eng):
    from core.transfer import demo

    try:
        demo.generate(eng, persons=40, seed=5)
    except (ImportError, AttributeError, NotImplementedError) as exc:   # a part still being written
        pytest.skip(f"演示数据暂不可用：{type(exc).__name__}: {exc}")
    return eng


def test_builtin_exporters_registered(eng):
    names = {e.name: e for e in eng.exporters()}
    assert {"xlsx", "csv", "json", "jsonl", "print"} <= set(names)
    assert names["print"].supports == {"form"} and "roster" in names["xlsx"].supports
    assert all(e.label and e.extension.startswith(".") for e in names.values())


def test_blank_form_through_engine(eng, tmp_path):
    [path] = eng.export("form", "print", tmp_path)
    assert path.name == "registration-空白.html"
    html = path.read_text(encoding="utf-8")
    assert "天津市滨海新区农村留守老年人基本情况登记表" in html and "跳过本节" in html


def test_records_json_jsonl_csv_xlsx(demo_eng, tmp_path):
    n = demo_eng.count("registration")
    [js] = demo_eng.export("records", "json", tmp_path / "登记")
    data = json.loads(js.read_text(encoding="utf-8"))
    assert len(data) == n and "*" in data[0]["data"]["id_number"]
    assert "\\u" not in js.read_text(encoding="utf-8")                 # ensure_ascii=False
    [jl] = demo_eng.export("records", "jsonl", tmp_path, full=True)
    lines = jl.read_text(encoding="utf-8").splitlines()
    assert len(lines) == n and "*" not in json.loads(lines[0])["data"]["id_number"]
    paths = demo_eng.export("records", "csv", tmp_path)
    assert [p.name for p in paths] == ["registration.csv", "registration-children.csv"]
    with open(paths[0], encoding="utf-8-sig") as fh:
        assert len(list(csv.reader(fh))) == n + 1
    [x] = demo_eng.export("records", "xlsx", tmp_path)
    assert openpyxl.load_workbook(x, read_only=True).worksheets[0].max_row == n + 1
    assert any(e["format"] == "jsonl" and e["full"] for e in demo_eng.audit_log())


def test_roster_and_summary_xlsx(demo_eng, tmp_path):
    [r] = demo_eng.export("roster", "xlsx", tmp_path)
    ws = openpyxl.load_workbook(r).active
    assert ws["A1"].value == demo_eng.report("roster").title
    assert ws.page_setup.orientation == "landscape" and ws.freeze_panes
    [s] = demo_eng.export("summary", "xlsx", tmp_path, quarter="2026Q4")
    ws = openpyxl.load_workbook(s).active
    assert any(ws.cell(r, 1).value == "合计" for r in range(1, ws.max_row + 1))
    assert ws.merged_cells.ranges


def test_printed_person(demo_eng, tmp_path):
    rid = next(iter(demo_eng.index("registration").rows))
    [p] = demo_eng.export("form", "print", tmp_path, record_id=rid)
    html = p.read_text(encoding="utf-8")
    assert "■" in html and "*" in html


def test_town_summary_breaks_down_by_village(demo_eng, tmp_path):
    """A town's exported summary has one row per village (as on the summary screen), and the
    villages add up to the town's figure in the district sheet."""
    town = next(iter(demo_eng.index("registration").rows.values()))["town"]
    [s] = demo_eng.export("summary", "xlsx", tmp_path / "town", quarter="2026Q4", town=town)
    ws = openpyxl.load_workbook(s).active
    assert ws["A3"].value == "村（居）委会"
    rows = [[c.value for c in r] for r in ws.iter_rows(min_row=6) if r[0].value and isinstance(r[1].value, int)]
    villages = [r for r in rows if r[0] != "合计"]
    [total] = [r for r in rows if r[0] == "合计"]
    assert len(villages) > 1 and sum(r[1] for r in villages) == total[1]
    [d] = demo_eng.export("summary", "xlsx", tmp_path / "district", quarter="2026Q4")
    dws = openpyxl.load_workbook(d).active
    name = demo_eng.divisions.name(town)
    assert [r[1].value for r in dws.iter_rows(min_row=6) if r[0].value == name] == [total[1]]
    [one] = demo_eng.export("summary", "xlsx", tmp_path / "one", quarter="2026Q4", town=town, by_village=False)
    assert openpyxl.load_workbook(one).active["A3"].value == "街镇"
