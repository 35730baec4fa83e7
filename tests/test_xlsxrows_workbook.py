"""`core.transfer.xlsxrows.Workbook`: a long export's workbook, zipped faster, holds what
xlsxwriter's own workbook holds.

The records export writes its workbook through `Workbook` (sheets that move their rows into
the sheet XML as bytes, deflate level 1). The same rows are written with stock xlsxwriter and
with `Workbook`; every part of the two files must be the same once unzipped, the deflate level
must be the one asked for (the file smaller at 6 than at 1 — a level ignored would not be), and
openpyxl must read the rows back.
"""
from __future__ import annotations

import random
import zipfile

import openpyxl
import xlsxwriter

from core.transfer.xlsxrows import RowWriter, Workbook

WORDS = ["王秀英", "天津市滨海新区新城镇幸福路12号", "独居", "a&b<c>", "第一行\n第二行", " 前有空格", "_x0041_"]


def _rows(n: int) -> list[list]:
    rng = random.Random(5)
    return [[f"1201{i:06d}"] + [rng.choice(WORDS + [None, rng.randint(0, 99)]) for _ in range(8)] for i in range(n)]


def _book(book, path, rows) -> None:
    head = book.add_format({"bold": True})
    cell = book.add_format({"valign": "top"})
    for name in ("登记表", "子女"):
        ws = book.add_worksheet(name)
        ws.write_row(0, 0, ["档案编号", "姓名"], head)
        ws.freeze_panes(1, 1)
        writer = RowWriter(ws, cell)
        for i, row in enumerate(rows, 1):
            writer.write(i, row)
        ws.set_column(0, 0, 14)
        ws.autofilter(0, 0, len(rows), 8)
    book.add_worksheet("空表")          # a streamed sheet with no rows: xlsxwriter's own path
    book.close()


def _parts(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist() if n != "docProps/core.xml"}   # holds the time written


def test_parts_are_what_xlsxwriter_writes_and_the_level_is_the_one_asked_for(tmp_path):
    rows = _rows(3000)
    _book(xlsxwriter.Workbook(str(tmp_path / "stock.xlsx"), {"constant_memory": True}), tmp_path / "stock.xlsx", rows)
    _book(Workbook(str(tmp_path / "fast.xlsx"), {"constant_memory": True}), tmp_path / "fast.xlsx", rows)
    _book(Workbook(str(tmp_path / "six.xlsx"), {"constant_memory": True}, zip_level=6), tmp_path / "six.xlsx", rows)
    stock, fast = _parts(tmp_path / "stock.xlsx"), _parts(tmp_path / "fast.xlsx")
    assert list(stock) == list(fast)
    for name in stock:
        assert fast[name] == stock[name], name
    assert _parts(tmp_path / "six.xlsx") == fast
    sizes = {n: (tmp_path / f"{n}.xlsx").stat().st_size for n in ("stock", "fast", "six")}
    assert sizes["six"] < sizes["fast"] and abs(sizes["six"] - sizes["stock"]) < 200
    # a workbook made after one of these, by stock xlsxwriter, is zipped as before
    _book(xlsxwriter.Workbook(str(tmp_path / "again.xlsx"), {"constant_memory": True}), tmp_path / "again.xlsx", rows)
    assert abs((tmp_path / "again.xlsx").stat().st_size - sizes["stock"]) < 200

    wb = openpyxl.load_workbook(tmp_path / "fast.xlsx", read_only=True)
    back = list(wb["子女"].iter_rows(values_only=True))
    assert back[0][:2] == ("档案编号", "姓名") and len(back) == 3001
    assert back[1][0] == "1201000000" and back[3000][0] == "1201002999"
    assert any("第一行\n第二行" in r for r in back)
    assert list(wb["空表"].iter_rows(values_only=True)) == []
