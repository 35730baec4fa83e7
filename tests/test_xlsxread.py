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


# --- the regular-expression scan (`xlsxread._scan`) and its fall-back to openpyxl -------------

NASTY = ["王秀英", "", " 前有空格", "后有空格 ", "a&b", "<r>x</r>", 'say "hi"', "x>y", "第一行\n第二行",
         "tab\tin", "\x07bell", "_x0041_", "\ufffe", "'=1+1", "🙂", "&amp;已转义", "a" * 3000, "\u3000"]


def _nasty_book(path, *, formula_at: int | None = None, date_at: int | None = None, rows: int = 400,
                texts: list[str] = NASTY) -> None:
    import random

    rng = random.Random(7)
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    when = wb.add_format({"num_format": "yyyy-mm-dd"})
    ws = wb.add_worksheet("登记表")
    ws.write_row(0, 0, ["姓名", "年龄", "地址", "备注", "金额"])
    for r in range(1, rows):
        if r % 37 == 0:
            continue                                     # gaps between rows
        for c in range(rng.randint(1, 9)):
            v = rng.choice([None, rng.choice(texts), rng.randint(-5, 10 ** 12), rng.random() * 1e5, 0, 1e-7])
            if v is None:
                ws.write_blank(r, c, None, when)         # a formatted blank cell: <c r=".." s=".."/>
            elif isinstance(v, str):
                ws.write_string(r, c, v)
            else:
                ws.write_number(r, c, v)
        if r == formula_at:
            ws.write_formula(r, 10, "=1+1", None, 2)
        if r == date_at:
            ws.write_datetime(r, 10, dt.datetime(2026, 3, 4), when)
    wb.close()


def _count_fallbacks(monkeypatch) -> list:
    seen = []
    real = xlsxread._Parser.parse

    def parse(self):
        seen.append(1)
        return real(self)
    monkeypatch.setattr(xlsxread._Parser, "parse", parse)
    return seen


# "<r>x</r>" xlsxwriter writes unescaped, and openpyxl reads it as a rich run: a hand-over
PLAIN = [t for t in NASTY if t != "<r>x</r>"]


def test_the_scan_reads_nasty_texts_and_numbers_as_openpyxl_does(tmp_path, monkeypatch):
    monkeypatch.setattr(xlsxread, "CHUNK", 997)          # rows cut across many chunk ends
    seen = _count_fallbacks(monkeypatch)
    path = tmp_path / "n.xlsx"
    _nasty_book(path, texts=PLAIN)
    (theirs, ours), = _both(path)
    assert len(ours) == 400 and ours == theirs
    assert not seen                                      # read by the scan alone


def test_the_scan_hands_over_to_openpyxl_where_it_cannot_read_a_row(tmp_path, monkeypatch):
    seen = _count_fallbacks(monkeypatch)
    for name, kw in [("f.xlsx", {"formula_at": 150, "texts": PLAIN}), ("d.xlsx", {"date_at": 299, "texts": PLAIN}),
                     ("r.xlsx", {})]:
        path = tmp_path / name
        _nasty_book(path, **kw)
        (theirs, ours), = _both(path)
        assert ours == theirs, name
        assert any(isinstance(v, dt.datetime) for row in ours for v in row) == ("date_at" in kw)
    assert len(seen) == 3                                # each read handed over once


def test_cells_written_another_way_inside_a_row_are_never_skipped(tmp_path, monkeypatch):
    """The scan cuts a row into cells with one `findall`, which passes over what it does not
    match: a cell with its attributes in another order, white space in its tag, an extra
    attribute, a formula or an empty `<c>` between ordinary cells must hand the row over, so
    its value is read, not lost."""
    odd = ['<c s="0" r="B2" t="inlineStr"><is><t>倒序属性</t></is></c>',
           '<c\nr="B2" t="inlineStr"><is><t>标签里换行</t></is></c>',
           '<c r="B2" t="inlineStr" cm="1"><is><t>多一个属性</t></is></c>',
           '<c r="B2"><f>1+1</f><v>2</v></c>',
           '<c>  </c>']
    for n, cell in enumerate(odd):
        path = tmp_path / f"odd{n}.xlsx"
        wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
        ws = wb.add_worksheet("表")
        ws.write_row(0, 0, ["姓名", "备注", "地址"])
        ws.write_row(1, 0, ["王秀英", "占位", "幸福路"])
        ws.write_row(2, 0, ["李四", "下一行", "和平路"])
        wb.close()
        with zipfile.ZipFile(path) as z:
            files = {name: z.read(name) for name in z.namelist()}
        sheet = "xl/worksheets/sheet1.xml"
        xml = files[sheet].decode()
        start = xml.index('<c r="B2"')
        files[sheet] = (xml[:start] + cell + xml[xml.index("</c>", start) + 4:]).encode()
        with zipfile.ZipFile(path, "w") as z:
            for name, data in files.items():
                z.writestr(name, data)
        seen = _count_fallbacks(monkeypatch)
        [(theirs, ours)] = _both(path)
        assert ours == theirs, cell
        assert ours[2] == ("李四", "下一行", "和平路") and ours[1][0] == "王秀英", cell
        assert seen == [1], cell


def test_rows_leaving_out_cells_in_many_patterns_read_as_openpyxl_reads_them(tmp_path, monkeypatch):
    """A roster leaves empty cells out (xlsxwriter writes no cell for them): the scan lays each
    row's cells out by a remembered pattern of columns (`xlsxread._layout`); with room for only
    three patterns the memory is emptied again and again, and every row still reads as
    openpyxl reads it — texts, numbers, formatted blanks, rows wider than the header, a row of
    texts only and a row with every cell."""
    import random

    monkeypatch.setattr(xlsxread, "LAYOUTS", 3)
    xlsxread._LAYOUTS.clear()
    seen = _count_fallbacks(monkeypatch)
    rng = random.Random(13)
    path = tmp_path / "gaps.xlsx"
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    blank = wb.add_format({"bold": True})
    ws = wb.add_worksheet("登记表")
    ws.write_row(0, 0, [f"列{i}" for i in range(30)])
    ws.write_row(1, 0, [f"全{i}" for i in range(30)])                       # every cell
    for r in range(2, 300):
        for c in sorted(rng.sample(range(32), rng.randint(1, 29))):        # some beyond the header's width
            kind = rng.random()
            if kind < 0.7:
                ws.write_string(r, c, rng.choice(PLAIN[:8]))
            elif kind < 0.9:
                ws.write_number(r, c, rng.choice([0, 7, 2.5, 10 ** 12, -3]))
            else:
                ws.write_blank(r, c, None, blank)
    wb.close()
    (theirs, ours), = _both(path)
    assert len(ours) == 300 and ours == theirs
    assert not seen and len(xlsxread._LAYOUTS) <= 3


def test_column_patterns_that_spell_alike_are_told_apart(monkeypatch):
    """Cells at A and F, and one cell at AF, are two patterns (their letters run together the
    same): each row keeps its own layout."""
    xlsxread._LAYOUTS.clear()
    cell = '<c r="{}1" t="inlineStr"><is><t>{}</t></is></c>'.format
    a_f = (cell("A", "甲") + cell("F", "乙")).encode()
    af = cell("AF", "丙").encode()
    for _ in range(2):
        assert xlsxread._row(a_f, set(), 32) == ("甲",) + (None,) * 4 + ("乙",) + (None,) * 26
        assert xlsxread._row(af, set(), 32) == (None,) * 31 + ("丙",)


def test_a_row_wider_than_the_remembered_columns_reads_the_same(tmp_path):
    """The in-order check knows columns A…ZZ only: a row of 800 cells, whole or with a gap, is
    laid out the other way and reads as openpyxl reads it."""
    path = tmp_path / "wide.xlsx"
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    ws = wb.add_worksheet("宽表")
    ws.write_row(0, 0, [f"列{i}" for i in range(800)])
    ws.write_row(1, 0, list(range(800)))
    ws.write_row(2, 0, [f"甲{i}" for i in range(750)])
    ws.write_string(2, 790, "隔开的一格")
    wb.close()
    [(theirs, ours)] = _both(path)
    assert ours == theirs and len(ours[0]) == 800 and ours[2][790] == "隔开的一格"
