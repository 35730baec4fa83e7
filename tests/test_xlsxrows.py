"""`core.transfer.xlsxrows.RowWriter` writes the bytes xlsxwriter writes, for any text.

The records export writes its rows through RowWriter instead of xlsxwriter's cell calls; a
file that differs in one byte could read back differently in Excel or WPS. So the same rows —
plain Chinese text, numbers of every size, and texts with every character xlsxwriter treats
specially (XML specials, control characters, `_xHHHH_` look-alikes, white space at the ends,
non-characters, over-long text) — are written both ways and every part of the two workbooks
is compared, then read back with openpyxl.
"""
from __future__ import annotations

import random
import zipfile

import openpyxl
import pytest
import xlsxwriter

from core.transfer.xlsxrows import RowWriter, supported

NASTY = ["王秀英", "", " 前有空格", "后有空格 ", "a&b", "<r>x</r>", 'say "hi"', "x>y", "第一行\n第二行", "tab\tin",
         "\x07bell", "_x0041_", "_x00e9_text", "\ufffe", "\uffff", "'=1+1", "🙂 emoji", "a" * 40000,
         "王" * 16383, "王" * 16384, "\u3000全角空格", "\r", "_x12G4_"]
NUMBERS = [0, 1, -7, 2.5, 1e-7, 123456789012345678, 10 ** 20, 15300.0, 3.141592653589793, -0.0]


def _rows(seed: int, n: int) -> list[list]:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        width = rng.randint(1, 12)
        rows.append([rng.choice([None, rng.choice(NASTY), rng.choice(NUMBERS), f"{rng.random():.6f}"])
                     for _ in range(width)])
    return rows


def _book(path, rows, fast: bool) -> None:
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    head = wb.add_format({"bold": True})
    cell = wb.add_format({"valign": "top"})
    ws = wb.add_worksheet("表")
    ws.write_row(0, 0, ["序号", "姓名", "地址"], head)
    ws.freeze_panes(1, 1)
    writer = RowWriter(ws, cell) if fast else None
    for i, row in enumerate(rows, 1):
        if fast:
            writer.write(i, row)
        else:
            for col, v in enumerate(row):
                if v is None:
                    continue
                if isinstance(v, str):
                    ws._write_string(i, col, v, cell)
                else:
                    ws._write_number(i, col, v, cell)
    ws.autofilter(0, 0, max(len(rows), 0), 11)
    wb.close()


def _parts(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist() if n != "docProps/core.xml"}   # holds the time written


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rows_are_byte_for_byte_what_xlsxwriter_writes(tmp_path, seed):
    rows = _rows(seed, 300) + [[None, None], [], [None, "末行"]]
    _book(tmp_path / "slow.xlsx", rows, fast=False)
    _book(tmp_path / "fast.xlsx", rows, fast=True)
    slow, fast = _parts(tmp_path / "slow.xlsx"), _parts(tmp_path / "fast.xlsx")
    assert slow.keys() == fast.keys()
    for name in slow:
        assert fast[name] == slow[name], name
    ws = openpyxl.load_workbook(tmp_path / "fast.xlsx", read_only=True).active
    back = list(ws.iter_rows(values_only=True))
    assert back[0][:3] == ("序号", "姓名", "地址")
    assert any("王秀英" in r for r in back if r)


def test_an_unusual_sheet_is_refused_rather_than_written_differently(tmp_path):
    wb = xlsxwriter.Workbook(str(tmp_path / "x.xlsx"), {"constant_memory": False})
    ws = wb.add_worksheet()
    assert not supported(ws)
    with pytest.raises(ValueError):
        RowWriter(ws, wb.add_format())
    wb.close()


def test_not_a_number_is_refused_as_xlsxwriter_refuses_it(tmp_path):
    wb = xlsxwriter.Workbook(str(tmp_path / "x.xlsx"), {"constant_memory": True})
    ws = wb.add_worksheet()
    with pytest.raises(TypeError):
        RowWriter(ws, wb.add_format()).write(1, [float("nan")])
    wb.close()


def test_formats_per_column_blanks_and_row_heights_as_xlsxwriter_writes_them(tmp_path):
    """The roster's rows: a format per column, formatted blank cells, and a height on rows
    whose text wraps (set after the row's cells, as the roster writer does)."""
    from core.transfer.xlsxrows import BLANK

    rows = _rows(4, 300)
    for i, row in enumerate(rows):
        row[:] = [BLANK if v is None and i % 3 else v for v in row]

    def book(path, fast: bool) -> None:
        wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
        fmts = [wb.add_format({"border": 1, "text_wrap": True}), wb.add_format({"num_format": "0", "align": "right"}),
                wb.add_format({"italic": True})]
        ws = wb.add_worksheet("花名册")
        ws.merge_range(0, 0, 0, 5, "滨海新区农村留守老年人花名册", fmts[2])
        ws.write_row(1, 0, ["序号", "姓名"], fmts[0])
        writer = RowWriter(ws, fmts[0]) if fast else None
        for i, row in enumerate(rows, 2):
            formats = [fmts[c % 3] for c in range(len(row))]
            height = 40 if i % 7 == 0 else None
            if fast:
                writer.write(i, row, formats, height=height)
                continue
            for col, v in enumerate(row):
                if v is BLANK:
                    ws.write_blank(i, col, None, formats[col])
                elif isinstance(v, str):
                    ws.write_string(i, col, v, formats[col])
                elif v is not None:
                    ws.write_number(i, col, v, formats[col])
            if height:
                ws.set_row(i, height)
        ws.write_string(len(rows) + 3, 0, "合计", fmts[0])
        wb.close()

    book(tmp_path / "slow.xlsx", fast=False)
    book(tmp_path / "fast.xlsx", fast=True)
    slow, fast = _parts(tmp_path / "slow.xlsx"), _parts(tmp_path / "fast.xlsx")
    assert b"customHeight" in slow["xl/worksheets/sheet1.xml"]
    for name in slow:
        assert fast[name] == slow[name], name


SHOWN = NASTY + ["=1+1", "+86 138", "-3", "@x", "\t=1", "2026-12-06", "120107196109043106", "天津市滨海新区北塘街道东村282号",
                 True, False, 18900, 2.5, ""]


@pytest.mark.parametrize("seed", [4, 5])
def test_shown_values_are_the_guarded_cells_xlsxwriter_writes_and_widths_grow_as_measured(tmp_path, seed):
    """`write_shown` (a records export's rows in one pass): the cells are `safe_cell` of each
    shown value written by xlsxwriter itself, a bool as its text, "" and None left out; each
    column's width grows to `text_width` of its widest value (texts looked at only when they
    could widen a column below the cap) — as the two passes it replaced computed them."""
    from core.textsafety import safe_cell
    from core.transfer.exporting import text_width

    rng = random.Random(seed)
    rows = [[rng.choice([None, rng.choice(SHOWN), rng.choice(NUMBERS)]) for _ in range(rng.randint(0, 12))]
            for _ in range(300)]
    expected = [4.0] * 12
    for row in rows:
        for i, v in enumerate(row):
            if v is None or v == "":
                continue
            if not isinstance(v, str):
                expected[i] = max(expected[i], text_width(v))
            elif len(v) * 2 > expected[i] and expected[i] < 40:
                expected[i] = max(expected[i], text_width(v))
    cells = [[None if v is None or v == "" else safe_cell(v if isinstance(v, (str, int, float)) and not isinstance(v, bool)
                                                         else str(v)) for v in row] for row in rows]
    _book(tmp_path / "slow.xlsx", cells, fast=False)
    wb = xlsxwriter.Workbook(str(tmp_path / "shown.xlsx"), {"constant_memory": True})
    ws = wb.add_worksheet("表")
    ws.write_row(0, 0, ["序号", "姓名", "地址"], wb.add_format({"bold": True}))
    ws.freeze_panes(1, 1)
    writer, widths = RowWriter(ws, wb.add_format({"valign": "top"})), [4.0] * 12
    for i, row in enumerate(rows, 1):
        writer.write_shown(i, row, widths, 40)
    ws.autofilter(0, 0, len(rows), 11)
    wb.close()
    slow, shown = _parts(tmp_path / "slow.xlsx"), _parts(tmp_path / "shown.xlsx")
    assert slow.keys() == shown.keys()
    for name in slow:
        assert shown[name] == slow[name], name
    assert widths == expected
