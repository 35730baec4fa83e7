"""Rows of a streamed xlsxwriter sheet written straight to its row file: the same XML, less work.

Why: in `constant_memory` mode xlsxwriter keeps one row as cell objects, then writes each cell
through four or five calls (dimension checks, an attribute list escaped item by item, two or
three regular expressions per text). For a 50,000-person records export that was over half of
the time. Here a row of texts and numbers in one cell format is written as one string: the
row's cell references come from a table of column letters, and a text goes into the XML as it
is when nothing in it needs xlsxwriter's treatment (XML specials, control characters and their
`_xHHHH_` escapes, leading or trailing white space, non-characters, more than 16,383
characters). Any other text, and any sheet set up in a way this does not copy (row heights,
comments, Excel 2010 extensions), goes through xlsxwriter's own code, so the file is byte for
byte what xlsxwriter writes (`tests/test_xlsxrows.py` compares the two over nasty texts).
"""
from __future__ import annotations

import io
import math
import os
import re
import shutil
import threading
import zipfile
from typing import Any

import xlsxwriter
import xlsxwriter.workbook
from xlsxwriter.utility import xl_col_to_name
from xlsxwriter.worksheet import CellStringTuple, Worksheet, _utf16_len, _utf16_truncate

from core.textsafety import FORMULA_START, safe_cell
from core.transfer.exporting import text_width

# A text that xlsxwriter would change or mark: XML specials and line breaks (escaped), control
# characters and `_xHHHH_` look-alikes (escaped), non-characters, white space at either end
# (`xml:space="preserve"`).
BLANK = object()       # a cell with a format and no value (`Worksheet.write_blank`)
SMALL_INT = 10 ** 15   # an int below this is written as its digits, as `{:.16G}` writes it

_NEEDS_CARE = re.compile(r'["&<>\n\x00-\x08\x0b-\x1f\ufffe\uffff]|_x[0-9a-fA-F]{4}_|^\s|\s$')


def _plain(text: str) -> bool:
    """Whether `_NEEDS_CARE` finds nothing in `text`: first asked of str's own methods (in C),
    which clear a name, an address or a number in a third of the regular expression's time;
    what they cannot clear (a tab, a character outside the printable ones, `_x`) is left to it.
    The control characters and U+FFFE/U+FFFF are not printable, and `\\s` is `str.isspace`."""
    if (text.isprintable() and '"' not in text and "&" not in text and "<" not in text and ">" not in text
            and "_x" not in text and not text[:1].isspace() and not text[-1:].isspace()):
        return True
    return _NEEDS_CARE.search(text) is None


def supported(ws: Worksheet) -> bool:
    """Whether rows of `ws` can be written here and come out as xlsxwriter writes them."""
    return bool(ws.constant_memory and ws.excel_version != 2010 and not ws.comments
                and ws.default_row_height == ws.original_row_height and ws.fh is ws.row_data_fh)


class RowWriter:
    """Writes whole rows of `ws` (texts and numbers, every cell in `cell_format`) in order.

    Rows must come after any row written through xlsxwriter's own calls (the header), each
    row once, in increasing order — as a streamed export does."""

    def __init__(self, ws: Worksheet, cell_format: Any):
        if not supported(ws) or cell_format is None:
            raise ValueError("sheet not in streamed mode, or set up in a way RowWriter does not copy")
        self.ws, self.fmt = ws, cell_format
        self.cols: list[str] = []
        self.half_max = ws.xls_strmax // 2
        self.memos: list[dict[str, str]] = []       # see `write_shown`
        self.memo_xf: Any = None

    def _col(self, col: int) -> str:
        while len(self.cols) <= col:
            self.cols.append(xl_col_to_name(len(self.cols)))
        return self.cols[col]

    def write(self, row: int, values: list[Any], formats: list[Any] | None = None,
              height: float | None = None) -> None:
        """Row `row` (0-based) with `values[i]` in column i: a text (written as given: the
        caller has made it safe to open), a number (not a bool), `BLANK` (a formatted empty
        cell) or None (nothing). `formats[i]`: column i's cell format (default: the writer's);
        `height`: the row's height (`Worksheet.set_row`), for which xlsxwriter writes the row."""
        ws = self.ws
        if height is not None or row >= ws.xls_rowmax or row in ws.row_info:
            self._slow(row, values, formats)
            if height is not None:
                ws.set_row(row, height)
            return
        if row > ws.previous_row:
            ws._write_single_row(row)           # the pending xlsxwriter row (the header), if any
        xfs = self._xfs(formats, len(values))
        r = str(row + 1)
        parts: list[str] = []
        append = parts.append
        first = last = None
        cols = self.cols
        if len(cols) < len(values):
            self._col(min(len(values), ws.xls_colmax) - 1)
        half_max = self.half_max
        if formats is None and len(values) <= ws.xls_colmax:
            # every cell in the writer's format: the common row, a text written as it is (the
            # test of `_plain` inline), anything else as below
            xf = xfs[0] if xfs else None
            head = f'" s="{xf}" t="inlineStr"><is><t>'
            for col, v in enumerate(values):
                if v is None:
                    continue
                if (v.__class__ is str and v and len(v) <= half_max and v.isprintable() and '"' not in v
                        and "&" not in v and "<" not in v and ">" not in v and "_x" not in v
                        and not v[0].isspace() and not v[-1].isspace()):
                    append(f'<c r="{cols[col]}{r}{head}{v}</t></is></c>')
                else:
                    append(self._cell(row, col, r, v, xf, self.fmt))
                if first is None:
                    first = col
                last = col
            values = ()
        for col, v in enumerate(values):
            if v is None:
                continue
            if col >= ws.xls_colmax:
                break
            xf = xfs[col]
            if xf is None:                        # no format: a blank is not written at all
                if v is BLANK:
                    continue
                raise ValueError("RowWriter writes formatted cells only")
            append(self._cell(row, col, r, v, xf, formats[col] if formats else self.fmt))
            if first is None:
                first = col
            last = col
        if first is None or last is None:
            return                                # nothing written: xlsxwriter writes no row either
        ws.fh.write(f'<row r="{r}">{"".join(parts)}</row>')
        self._dimensions(row, first, last)

    def write_shown(self, row: int, values: list[Any], widths: list[float], max_width: float) -> None:
        """Row `row` of values as an exporter shows them, in the writer's format: a text gets
        Excel's formula guard (`safe_cell`), a blank (None, "") is left out, a number stays a
        number, anything else is written as its guarded text; and `widths[i]` grows to the
        widest value of column i (`text_width`) while it is below `max_width`. The same cells
        `write(row, [safe_cell(v) ...])` writes, in one pass instead of two (a 50,000-person
        export writes four million cells).

        What a text becomes — its cell's XML after the cell reference — is remembered per column
        (`MEMO` texts each), its width counted when it is first met: most cells of an export are
        a few hundred choice labels, villages and dates, each worked out once instead of four
        million times. So `widths` must be the same list on every call for this sheet."""
        ws = self.ws
        if row >= ws.xls_rowmax or row in ws.row_info or len(values) > ws.xls_colmax:
            self.write(row, [self._shown(i, v, widths, max_width) for i, v in enumerate(values)])
            return
        if row > ws.previous_row:
            ws._write_single_row(row)
        if len(self.cols) < len(values):
            self._col(len(values) - 1)
        xf = self.fmt._get_xf_index()
        if xf != self.memo_xf:                    # the format's index is fixed once the file is
            self.memos, self.memo_xf = [], xf     # under way; remembered XML carries it
        memos = self.memos
        while len(memos) < len(values):
            memos.append({})
        r = str(row + 1)
        cols, half_max, memo_max = self.cols, self.half_max, self.MEMO
        head = f'" s="{xf}" t="inlineStr"><is><t>'
        parts: list[str] = []
        append = parts.append
        first = last = None
        for col, v in enumerate(values):
            if v.__class__ is str:
                if not v:
                    continue
                memo = memos[col]
                tail = memo.get(v)
                if tail is not None:
                    append(f'<c r="{cols[col]}{r}{tail}')
                    if first is None:
                        first = col
                    last = col
                    continue
                # not met before (a name, an ID number: a quarter of the cells): measured,
                # guarded, and written as it is when str methods find nothing to escape
                if len(v) * 2 > widths[col] and widths[col] < max_width:
                    width = len(v) if v.isascii() else text_width(v)
                    if width > widths[col]:
                        widths[col] = width
                t = "'" + v if v[0] in FORMULA_START else v
                if (len(t) <= half_max and t.isprintable() and '"' not in t and "&" not in t and "<" not in t
                        and ">" not in t and "_x" not in t and not t[0].isspace() and not t[-1].isspace()):
                    tail = f'{head}{t}</t></is></c>'
                    if len(memo) < memo_max:
                        memo[v] = tail
                    append(f'<c r="{cols[col]}{r}{tail}')
                else:
                    append(self._cell(row, col, r, t, xf, self.fmt))
            elif v.__class__ is int and -SMALL_INT < v < SMALL_INT:     # not a bool: its class is bool
                digits = str(v)
                if len(digits) > widths[col]:
                    widths[col] = len(digits)
                append(f'<c r="{cols[col]}{r}" s="{xf}"><v>{digits}</v></c>')
            else:
                v = self._shown(col, v, widths, max_width)
                if v is None:
                    continue
                append(self._cell(row, col, r, v, xf, self.fmt))
            if first is None:
                first = col
            last = col
        if first is None or last is None:
            return
        ws.fh.write(f'<row r="{r}">{"".join(parts)}</row>')
        self._dimensions(row, first, last)

    MEMO = 1000                               # texts remembered per column (a few MB at most)

    @staticmethod
    def _shown(i: int, v: Any, widths: list[float], max_width: float) -> Any:
        """One value as `write_shown` writes it (the cell, None for a blank), its width noted."""
        if v is None or v == "":
            return None
        if isinstance(v, str):
            if len(v) * 2 > widths[i] and widths[i] < max_width:
                widths[i] = max(widths[i], text_width(v))
            return safe_cell(v)
        widths[i] = max(widths[i], text_width(v))
        return v if isinstance(v, (int, float)) and not isinstance(v, bool) else safe_cell(str(v))

    def _cell(self, row: int, col: int, r: str, v: Any, xf: Any, fmt: Any) -> str:
        """One cell's XML in format `fmt` (index `xf`): a text (xlsxwriter's own writer when it
        needs care), `BLANK`, or a number."""
        ref = self.cols[col] + r
        if v is BLANK:
            return f'<c r="{ref}" s="{xf}"/>'
        if isinstance(v, str):
            if len(v) > self.half_max or not _plain(v):
                return self._careful_text(row, col, v, fmt)
            return f'<c r="{ref}" s="{xf}" t="inlineStr"><is><t>{v}</t></is></c>'
        if math.isnan(v) or math.isinf(v):
            raise TypeError("NAN/INF not supported in write_number() without 'nan_inf_to_errors' Workbook() option")
        return f'<c r="{ref}" s="{xf}"><v>{v:.16G}</v></c>'

    def _xfs(self, formats: list[Any] | None, n: int) -> list[Any]:
        if formats is None:
            return [self.fmt._get_xf_index()] * n
        return [None if f is None else f._get_xf_index() for f in formats]

    def _careful_text(self, row: int, col: int, text: str, fmt: Any) -> str:
        """One text cell's XML from xlsxwriter's own cell writer (truncation, escapes, preserve)."""
        ws = self.ws
        if len(text) > ws.xls_strmax // 2 and _utf16_len(text) > ws.xls_strmax:
            text = _utf16_truncate(text, ws.xls_strmax)
        held, ws.fh = ws.fh, io.StringIO()
        try:
            ws._write_cell(row, col, CellStringTuple(text, fmt))
            return ws.fh.getvalue()
        finally:
            ws.fh = held

    def _dimensions(self, row: int, first: int, last: int) -> None:
        ws = self.ws
        if ws.dim_rowmin is None or row < ws.dim_rowmin:
            ws.dim_rowmin = row
        if ws.dim_rowmax is None or row > ws.dim_rowmax:
            ws.dim_rowmax = row
        if ws.dim_colmin is None or first < ws.dim_colmin:
            ws.dim_colmin = first
        if ws.dim_colmax is None or last > ws.dim_colmax:
            ws.dim_colmax = last
        ws.previous_row = row

    def _slow(self, row: int, values: list[Any], formats: list[Any] | None) -> None:
        """xlsxwriter's own calls, for what the fast path does not copy."""
        for col, v in enumerate(values):
            if v is not None:
                write_cell(self.ws, row, col, v, formats[col] if formats else self.fmt)


def write_cell(ws: Worksheet, row: int, col: int, value: Any, fmt: Any) -> None:
    """One cell through xlsxwriter's own calls: `BLANK`, a text or a number."""
    if value is BLANK:
        ws._write_blank(row, col, None, fmt)
    elif isinstance(value, str):
        ws._write_string(row, col, value, fmt)
    else:
        ws._write_number(row, col, value, fmt)


# --- the workbook around the rows ------------------------------------------------------------

ZIP_LEVEL = 1          # deflate level of a long export: see `Workbook`
_zip_level = threading.local()


class StreamedSheet(Worksheet):
    """A streamed sheet whose rows go into the sheet's XML as bytes when the workbook closes.

    xlsxwriter reads its row file back as text and writes it out again: for a 50,000-person
    export that decodes and encodes 250 MB. The bytes are the same either way (UTF-8 in, UTF-8
    out), so they are copied as bytes. A sheet kept in memory (`in_memory`) is left to
    xlsxwriter."""

    def _write_optimized_sheet_data(self) -> None:
        out = getattr(self.fh, "buffer", None)
        if self.dim_rowmin is None or out is None or self.row_data_fh is None:
            super()._write_optimized_sheet_data()
            return
        self._xml_start_tag("sheetData")
        self.fh.flush()
        self.row_data_fh.close()
        with open(self.row_data_filename, "rb") as rows:
            shutil.copyfileobj(rows, out, 1 << 20)
        os.unlink(self.row_data_filename)
        self._xml_end_tag("sheetData")


class _LevelledZip(zipfile.ZipFile):
    """`zipfile.ZipFile` at the deflate level a `Workbook` on this thread asked for (none: the
    default). xlsxwriter makes its zip file with no level and no way to pass one."""

    def __init__(self, *args: Any, **kwargs: Any):
        level = getattr(_zip_level, "value", None)
        if level is not None:
            kwargs.setdefault("compresslevel", level)
        super().__init__(*args, **kwargs)


class Workbook(xlsxwriter.Workbook):
    """xlsxwriter's workbook for a long export: sheets are `StreamedSheet`s, and the zip is
    deflated at `ZIP_LEVEL` (1) instead of zlib's default 6. Why: at 6, compressing the
    250 MB of sheet XML of a 50,000-person records export took about 1.8 s of CPU; at 1, 0.7 s,
    for a file about 30 % larger (32 MB instead of 25 MB) that Excel and LibreOffice open the
    same way (deflate is deflate; the level only says how hard to look for repeats)."""

    worksheet_class = StreamedSheet

    def __init__(self, filename: Any, options: dict | None = None, zip_level: int | None = ZIP_LEVEL):
        super().__init__(filename, options)
        self.zip_level = zip_level

    def _store_workbook(self) -> None:
        if xlsxwriter.workbook.ZipFile is not _LevelledZip:
            xlsxwriter.workbook.ZipFile = _LevelledZip      # as `ZipFile` while no level is asked for
        _zip_level.value = self.zip_level
        try:
            super()._store_workbook()
        finally:
            _zip_level.value = None
