"""The import check streamed: each person checked as the row is read, the report the same as
when every row was held, and memory that does not grow with the file.

A real export of a demo ledger is read back (openpyxl), spoiled the ways office files are —
a masked ID number, an answer the form does not offer, a missing name, the same person twice,
children under a 档案编号 nobody has, a 合计 row — and written as carebook writes (xlsxwriter,
inline strings: the fast scan) and as Excel does (shared strings: openpyxl's parser).
"""
from __future__ import annotations

import tracemalloc

import openpyxl
import pytest
import xlsxwriter

from binhai_support import copy_forms, open_engine
from demo_cache import demo_copy
from core.transfer.importing import import_records

MASKED = "120107********0032"


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    """The 25-person demo's full records export, as rows of its two sheets."""
    tmp = tmp_path_factory.mktemp("stream")
    demo_copy(tmp / "a" / "data", persons=25, seed=11, forms=copy_forms(tmp / "a"), operator="测试员")
    eng = open_engine(tmp / "a", tmp / "a" / "forms")
    try:
        [path] = eng.export("records", "xlsx", tmp / "out.xlsx", full=True)
    finally:
        eng.close()
    wb = openpyxl.load_workbook(path, read_only=True)
    sheets = [(ws.title, [list(r) for r in ws.iter_rows(values_only=True)]) for ws in wb.worksheets[:2]]
    wb.close()
    return sheets


def spoiled(export, copies: int = 1):
    """The export with its people repeated `copies` times (the same ID numbers: every copy after
    the first is a duplicate) and spoiled in known rows."""
    (parent, people), (kids, children) = export
    head = people[0]
    at = {h: i for i, h in enumerate(head)}
    rows = [list(r) for _ in range(copies) for r in people[1:]]
    rows[2][at["公民身份号码"]] = MASKED                      # line 4
    rows[4][at["健康状况"]] = "良好"                            # line 6: not a choice → 待补全
    rows[6][at["姓名"]] = None                                  # line 8: no name → refused
    rows[9][at["公民身份号码"]] = rows[8][at["公民身份号码"]]   # line 11: same person as line 10
    rows.append(["合计", f"{len(rows)}人"] + [None] * (len(head) - 2))
    child_rows = [list(r) for r in children[1:]]
    child_rows.insert(3, ["没有这个编号", 1, "某人"] + [None] * (len(children[0]) - 3))
    return (parent, [head] + rows), (kids, [children[0]] + child_rows)


def write(path, sheets, inline: bool):
    if inline:                                    # as carebook writes: inline strings
        wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
        for title, rows in sheets:
            ws = wb.add_worksheet(title)
            for i, row in enumerate(rows):
                for j, v in enumerate(row):
                    if isinstance(v, str):
                        ws.write_string(i, j, v)
                    elif v is not None:
                        ws.write_number(i, j, v)
        wb.close()
    else:                                         # as Excel writes: shared strings
        wb = openpyxl.Workbook()
        wb.remove(wb.active)
        for title, rows in sheets:
            ws = wb.create_sheet(title)
            for row in rows:
                ws.append(row)
        wb.save(path)
    return path


@pytest.mark.parametrize("inline", [True, False])
def test_the_report_names_every_problem_in_order_and_skip_bad_saves_the_rest(export, tmp_path, inline):
    path = write(tmp_path / "spoiled.xlsx", spoiled(export), inline)
    (parent, _), (kids, _) = export
    eng = open_engine(tmp_path)
    try:
        res = import_records(eng, "registration", path, dry_run=True)
        assert res.rows == 25 and res.saved == 0 and eng.count("registration") == 0
        said = [(p.sheet, p.line, p.message) for p in res.problems]
        # the group sheet's rows first, then the people's rows in order, the file against itself last
        assert said[0] == (kids, 5, "档案编号“没有这个编号”在主表中没有对应的人")
        assert [line for sheet, line, _ in said if sheet == parent] == [4, 4, 8, 11]
        assert "公民身份号码 缺失或有误" in said[1][2] and MASKED[:4] in said[2][2] and "遮蔽" in said[2][2]
        assert said[3][2].startswith("姓名 缺失或有误")
        assert said[-1] == (parent, 11, "公民身份号码与第 10 行重复")
        assert res.refused == 4
        [later] = res.incomplete
        assert later.line == 6 and later.missing == ["健康状况"] and "良好" in later.refused_cells[0]
        assert any("合计" in n and "第 27 行" in n for n in res.notes)
        res = import_records(eng, "registration", path, skip_bad=True, operator="导入员")
        assert res.saved == 25 - 3 and eng.count("registration") == 22
        assert [(p.sheet, p.line, p.message) for p in res.problems] == said
        ids = {r["data"]["id_number"] for r in eng.iter_records("registration")}
        assert MASKED not in ids and len(ids) == 22
        kids_of = {r["data"]["file_no"]: r["data"].get("children") or [] for r in eng.iter_records("registration")}
        assert sum(len(v) for v in kids_of.values()) == len(export[1][1]) - 1 - sum(
            1 for r in export[1][1][1:] if r[0] in {export[0][1][i][0] for i in (3, 7, 10)})   # refused people's children
    finally:
        eng.close()


def test_memory_does_not_grow_with_the_rows_of_an_import_check(export, tmp_path, monkeypatch):
    """Twenty times the rows, about the same peak: people are not held (they were, 340 MB at
    50,000). What does grow is small: one problem a duplicate row, the ID numbers seen. (The
    sheet is read 16 KB at a time here, so its read buffer does not grow with it either.)"""
    from core.transfer import xlsxread

    monkeypatch.setattr(xlsxread, "CHUNK", 16 << 10)
    peaks = []
    for copies in (1, 20):
        path = write(tmp_path / f"x{copies}.xlsx", spoiled(export, copies), inline=True)
        eng = open_engine(tmp_path / f"e{copies}")
        try:
            import_records(eng, "registration", path, dry_run=True)      # forms, plugins loaded
            tracemalloc.start()
            res = import_records(eng, "registration", path, dry_run=True)
            peaks.append(tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()
        finally:
            eng.close()
        assert res.rows == 25 * copies
    # measured: streamed, +0.6 MB (the 475 problems, the ID numbers seen); the 475 more people
    # held as they were read, +1.8 MB
    assert peaks[1] - peaks[0] < 1_100_000, peaks
