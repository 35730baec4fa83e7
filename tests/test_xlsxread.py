"""`core.transfer.xlsxread.rows` gives exactly what openpyxl's `iter_rows(values_only=True)` gives.

It reads inline strings (every text cell of carebook's own exports) without openpyxl's rich-text
objects; these tests read real workbooks both ways: one xlsxwriter wrote in constant_memory
mode (inline strings, numbers, blanks, a formula-looking text, gaps between rows), one openpyxl
wrote (shared strings, dates, booleans, missing cells), and a hand-made inline string with
rich runs and a phonetic run.
"""
from __future__ import annotations

import datetime as dt
import zipfile

import openpyxl
import xlsxwriter

from core.transfer import xlsxread


def _both(path):
    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        return [(list(ws.iter_rows(values_only=True)), list(xlsxread.rows(ws))) for ws in wb.worksheets]
    finally:
        wb.close()


def test_an_xlsxwriter_workbook_reads_the_same(tmp_path):
    path = tmp_path / "a.xlsx"
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    ws = wb.add_worksheet("登记表")
    ws.write_row(0, 0, ["姓名", "年龄", "地址", "备注"])
    ws.write_row(1, 0, ["王秀英", 71, "天津市滨海新区 1号", "'=SUM(A1)"])
    ws.write_string(2, 0, "  前后有空格  ")
    ws.write_number(2, 3, 3.5)
    ws.write_string(5, 2, "隔了两行 & <标记> \"引号\"")
    ws.write_string(6, 1, "换行\n第二行")
    wb.add_worksheet("空表")
    wb.close()
    sheets = _both(path)
    assert sheets[0][0][1][0] == "王秀英" and len(sheets[0][0]) == 7
    for theirs, ours in sheets:
        assert ours == theirs


def test_an_openpyxl_workbook_reads_the_same(tmp_path):
    path = tmp_path / "b.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["档案编号", "建档日期", "是否", "金额"])
    ws.append(["120116157201-0001", dt.date(2026, 3, 4), True, 12000.5])
    ws["C5"] = "后面的行"
    ws["F5"] = dt.datetime(2026, 1, 2, 3, 4)
    wb.save(path)
    for theirs, ours in _both(path):
        assert ours == theirs
        assert isinstance(ours[1][1], dt.datetime)


def test_rich_and_phonetic_inline_runs(tmp_path):
    path = tmp_path / "a.xlsx"
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    wb.add_worksheet("表").write_string(0, 0, "占位")
    wb.close()
    rich = ('<c r="A1" t="inlineStr"><is><t>前</t><r><t>中</t></r><r><rPr><b/></rPr><t xml:space="preserve"> 后</t></r>'
            '<rPh sb="0" eb="1"><t>ふりがな</t></rPh></is></c><c r="B1" t="inlineStr"><is><t></t></is></c>'
            '<c r="C1" t="inlineStr"/>')
    with zipfile.ZipFile(path) as z:
        files = {n: z.read(n) for n in z.namelist()}
    sheet = "xl/worksheets/sheet1.xml"
    xml = files[sheet].decode()
    start = xml.index('<c r="A1"')
    end = xml.index("</c>", start) + 4
    files[sheet] = (xml[:start] + rich + xml[end:]).encode()
    with zipfile.ZipFile(path, "w") as z:
        for n, data in files.items():
            z.writestr(n, data)
    [(theirs, ours)] = _both(path)
    assert ours == theirs
    assert ours[0][0] == "前中 后"
