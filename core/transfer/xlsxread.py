"""The rows of a read-only openpyxl worksheet, with inline text cells read as plain text.

Why: carebook's own exports (xlsxwriter in `constant_memory` mode) write every text cell as an
inline string, and openpyxl turns each one into a rich-text object (`Text.from_tree`, its
descriptor machinery) only to take its text back out: a third of checking a 50,000-row import.
Here an inline string is read as the text of its `<t>` and of its runs' `<t>` — exactly what
`Text.content` returns (phonetic runs left out) — and every other cell goes through openpyxl
unchanged: numbers, dates by their style, shared strings, booleans, errors.

`rows(ws)` gives what `ws.iter_rows(values_only=True)` gives (missing rows and cells as None,
rows padded to the sheet's width); a workbook openpyxl lays out differently falls back to it.

Faster still, for the sheets carebook itself writes: their XML is regular (xlsxwriter writes
`<c r="B2" s="1" t="inlineStr"><is><t>text</t></is></c>` and `<c r="C2" s="1"><v>12</v></c>`),
so rows are cut from the XML with regular expressions, a megabyte at a time, without building
an element per cell (`_scan`): the import check of 50,000 rows spent half its time in the XML
parser. Anything else in a row — shared strings, formulas, booleans, rich runs, a number in a
date style, an entity other than the five XML ones, a carriage return — makes the scan give up,
and openpyxl's parser reads the sheet again from the first row not yet given.
"""
from __future__ import annotations

import re
from operator import itemgetter
from typing import Any, Iterator

from openpyxl.utils import column_index_from_string, coordinate_to_tuple, get_column_letter
from openpyxl.worksheet._reader import INLINE_STRING, WorkSheetParser, _cast_number
from openpyxl.xml.constants import SHEET_MAIN_NS

_T = "{%s}t" % SHEET_MAIN_NS
_R = "{%s}r" % SHEET_MAIN_NS


def plain_text(inline: Any) -> str:
    """The text of an `<is>` element: its own `<t>`, then each run's `<t>`."""
    parts = []
    own = inline.find(_T)
    if own is not None and own.text is not None:
        parts.append(own.text)
    for run in inline.iterfind(_R):
        t = run.find(_T)
        if t is not None and t.text is not None:
            parts.append(t.text)
    return "".join(parts)


class _Parser(WorkSheetParser):
    def parse_cell(self, element):
        if element.get("t") != "inlineStr" or self.rich_text or not self.data_only:
            return super().parse_cell(element)
        coordinate = element.get("r")
        style_id = element.get("s", 0)
        if style_id:
            style_id = int(style_id)
        if coordinate:
            row, column = coordinate_to_tuple(coordinate)
            self.col_counter = column
        else:
            self.col_counter += 1
            row, column = self.row_counter, self.col_counter
        value, data_type = None, "inlineStr"
        inline = element.find(INLINE_STRING)
        if inline is not None:
            value, data_type = plain_text(inline), "s"
        return {"row": row, "column": column, "value": value, "data_type": data_type, "style_id": style_id}


def rows(ws: Any) -> Iterator[tuple]:
    """`ws.iter_rows(values_only=True)` of a read-only worksheet, faster on inline strings."""
    try:
        parent = ws.parent
        source = ws._get_source
        shared, pad = ws._shared_strings, ws._get_row
        options = dict(data_only=parent.data_only, epoch=parent.epoch, date_formats=parent._date_formats,
                       timedelta_formats=parent._timedelta_formats)
        if ws._current_row == 0:            # openpyxl's iter_rows: a sheet that was never read
            return
    except AttributeError:
        yield from ws.iter_rows(values_only=True)
        return
    max_col, max_row = ws.max_column, ws.max_row
    empty = (None,) * max_col if max_col is not None else ()
    counter, idx = 1, 1
    for idx, row in _indexed_rows(source, shared, pad, options, max_col):
        if max_row is not None and idx > max_row:
            break
        for _ in range(counter, idx):
            counter += 1
            yield empty
        if counter <= idx:
            counter += 1
            yield row
    if max_row is not None and max_row < idx:
        for _ in range(counter, max_row + 1):
            yield empty


def _indexed_rows(source: Any, shared: Any, pad: Any, options: dict, max_col: int | None) -> Iterator[tuple[int, tuple]]:
    """(row index, padded row) in file order: by `_scan` while it can, then by openpyxl's
    parser from the first row the scan did not give."""
    given = 0
    try:
        if not options["data_only"]:
            raise _Unsupported
        with source() as src:
            for idx, row in _scan(src, options["date_formats"], max_col):
                given = max(given, idx)
                yield idx, row
    except _Unsupported:
        with source() as src:
            for idx, row in _Parser(src, shared, **options).parse():
                if idx > given:
                    yield idx, pad(row, 1, max_col, True)


class _Unsupported(Exception):
    """The sheet holds something `_scan` does not read exactly as openpyxl does."""


_SHEET_DATA = re.compile(rb"<sheetData(/?)>")
_ROW = re.compile(rb'<row r="(\d+)"[^>/]*(/?)>')
_ROW_END = b"</row>"
# letters, style, type, `<is>` (when there), its text, `<v>` (when there), its number: the
# opening tags are groups of their own so that `findall`, which gives '' for a group that did
# not take part, still tells an empty text from no text
_CELL = re.compile(rb'<c r="([A-Z]{1,3})\d+"(?: s="(\d+)")?(?: t="(inlineStr|n)")?'
                   rb'(?:/>|>(?:(<is><t(?: xml:space="preserve")?>)([^<]*)</t></is>|(<v>)([^<]*)</v>)</c>)')
_ENTITY = re.compile(rb"&(amp|lt|gt|quot|apos);")
_ENTITIES = {b"amp": b"&", b"lt": b"<", b"gt": b">", b"quot": b'"', b"apos": b"'"}
_COLUMNS: dict[str, int] = {}
CHUNK = 1 << 20


def _text(raw: bytes) -> str:
    if b"&" in raw:
        plain = _ENTITY.sub(lambda m: _ENTITIES[m.group(1)], raw)
        if b"&" in _ENTITY.sub(b"", raw):
            raise _Unsupported            # a character reference: leave it to the XML parser
        raw = plain
    if b"\r" in raw:
        raise _Unsupported                # the XML parser turns CR and CR LF into LF
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _Unsupported from None       # not UTF-8: the XML parser knows the declared encoding


# The cells of a row decoded at once, each as carebook writes it and nothing else: an inline
# string (`t="inlineStr"`, text or empty), or a number (no type or `t="n"`, `<v>` or empty).
# Groups: letters, style, the inline text (None: not an inline string), the number (None: not
# a number). A cell written any other way — an inline string with `<v>`, a number with `<is>`,
# which `_CELL`'s reading refuses, a formula, a shared string — is not matched and stays in the
# text between matches.
_CELL_TEXT = re.compile(r'<c r="([A-Z]{1,3})\d++"(?: s="(\d++)")?+'
                        r'(?: t="inlineStr"(?:/>|><is><t(?: xml:space="preserve")?+>([^<]*+)</t></is></c>)'
                        r'|(?: t="n")?+(?:/>|><v>([^<]*+)</v></c>))')
_STRIDE = 5                                           # what `split` gives per cell: the text before it, 4 groups
# A, B, … ZZ: a row with no cell left out. Not all 16,384 (10 ms at import): a wider row is
# laid out by `_layout`, as a row with a gap is.
_IN_ORDER = [get_column_letter(i) for i in range(1, 703)]


def _row(body: bytes, date_styles: Any, max_col: int | None) -> tuple:
    """One row's XML as openpyxl's padded row (`_get_row(row, 1, max_col, values_only=True)`),
    or `_Unsupported`.

    One `split` (in C) cuts the cells out of a row decoded once; its pieces are taken apart by
    slicing, not cell by cell: a Python loop over the cells was a third of reading a row. Every
    cell begins `<c` (a text cannot hold `<`) and every match is one whole cell, so no `<c` left
    between the matches means each cell was read; a cell written any other way (a formula, a
    shared string, rich runs, another attribute) is not matched, and openpyxl reads the row.
    A row with `&` or CR has its texts read one by one (`_text`)."""
    if b"&" in body or b"\r" in body:
        return _row_escaped(body, date_styles, max_col)
    try:
        pieces = _CELL_TEXT.split(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise _Unsupported from None       # not UTF-8: the XML parser knows the declared encoding
    between = pieces[0::_STRIDE]
    if len(between) > 1 and "<c" in "".join(between):
        raise _Unsupported                    # a cell this does not read
    letters, styles, texts, numbers = (pieces[i::_STRIDE] for i in range(1, _STRIDE))
    n = len(letters)
    if not n:
        if "<c" in pieces[0]:
            raise _Unsupported
        return (None,) * max_col if max_col else ()
    if numbers.count(None) == n:              # inline strings only: the texts are the values
        values = texts
    else:
        if date_styles and any(style and number and int(style) in date_styles for style, number in zip(styles, numbers)):
            raise _Unsupported                # a date by its style: openpyxl converts it
        values = [text if number is None else _cast_number(number) if number else None
                  for text, number in zip(texts, numbers)]
    width = max_col or _COLUMNS.get(letters[-1]) or _column(letters[-1])
    if letters == _IN_ORDER[:n]:              # A, B, C, … with none left out
        return tuple(values[:width]) + (None,) * (width - n) if n < width else tuple(values[:width])
    values.append(None)
    return _layout(letters, width)(values)


def _layout(letters: list[str], width: int) -> Any:
    """`values (+ None) -> padded row` for cells at these columns: an `itemgetter` taking each
    column's value, or the None at the end for a column with no cell (a later cell of the same
    column wins, as it does in openpyxl). A roster's rows leave out a few empty cells each, in
    a few hundred patterns: each is worked out once (up to `LAYOUTS` of them)."""
    key = (width, " ".join(letters))
    getter = _LAYOUTS.get(key)
    if getter is None:
        at = [len(letters)] * width
        for i, x in enumerate(letters):
            column = _COLUMNS.get(x) or _column(x)
            if column <= width:
                at[column - 1] = i
        getter = itemgetter(*at) if width > 1 else (lambda values, _i=at[0]: (values[_i],))
        if len(_LAYOUTS) >= LAYOUTS:
            _LAYOUTS.clear()
        _LAYOUTS[key] = getter
    return getter


LAYOUTS = 4096
_LAYOUTS: dict[tuple[int, str], Any] = {}


def _row_escaped(body: bytes, date_styles: Any, max_col: int | None) -> tuple:
    """`_row` of a row holding `&` or CR: each text decoded alone (`_text`)."""
    found = [(letters.decode(), style.decode(), kind.decode(), inline, _text(text) if inline else "", v, number.decode())
             for letters, style, kind, inline, text, v, number in _CELL.findall(body)]
    if len(found) != body.count(b"<c"):
        raise _Unsupported
    if not found:
        return (None,) * max_col if max_col else ()
    columns = _COLUMNS
    last = found[-1][0]
    width = max_col or columns.get(last) or _column(last)
    out: list[Any] = [None] * width
    for letters, style, kind, inline, text, v, number in found:
        column = columns.get(letters) or _column(letters)
        if kind == "inlineStr":
            if v:
                raise _Unsupported
            value: Any = text if inline else None
        elif inline:
            raise _Unsupported                # an inline string without its type
        elif number:
            if style and int(style) in date_styles:
                raise _Unsupported            # a date by its style: openpyxl converts it
            value = _cast_number(number)
        else:
            continue
        if column <= width:
            out[column - 1] = value
    return tuple(out)


def _column(letters: str) -> int:
    column = _COLUMNS[letters] = column_index_from_string(letters)
    return column


def _scan(src: Any, date_styles: Any, max_col: int | None) -> Iterator[tuple[int, tuple]]:
    """(row index, padded row) of a sheet's XML read in chunks; `_Unsupported` when it is not the
    regular XML this reads (nothing of an unsupported row has been given by then)."""
    buf = b""
    while (at := _SHEET_DATA.search(buf)) is None:
        more = src.read(CHUNK)
        if not more:
            raise _Unsupported                # no <sheetData> as written here (another encoding, a prefix)
        buf = buf[-16:] + more
    if at.group(1):
        return                                # <sheetData/>
    buf, pos, eof = buf[at.end():], 0, False
    while True:
        m = _ROW.match(buf, pos)
        if m is not None:
            if m.group(2):                    # <row r="5" .../>: a row with no cells
                yield int(m.group(1)), (None,) * max_col if max_col else ()
                pos = m.end()
                continue
            close = buf.find(_ROW_END, m.end())
            if close >= 0:
                yield int(m.group(1)), _row(buf[m.end():close], date_styles, max_col)
                pos = close + len(_ROW_END)
                continue
        elif buf.startswith(b"</sheetData>", pos):
            return
        elif len(buf) - pos >= 64 or eof:
            raise _Unsupported                # something else between rows
        if eof:
            raise _Unsupported                # the file ends inside a row
        more = src.read(CHUNK)
        eof = not more
        buf, pos = buf[pos:] + more, 0
