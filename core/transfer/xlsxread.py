"""The rows of a read-only openpyxl worksheet, with inline text cells read as plain text.

Why: carebook's own exports (xlsxwriter in `constant_memory` mode) write every text cell as an
inline string, and openpyxl turns each one into a rich-text object (`Text.from_tree`, its
descriptor machinery) only to take its text back out: a third of checking a 50,000-row import.
Here an inline string is read as the text of its `<t>` and of its runs' `<t>` — exactly what
`Text.content` returns (phonetic runs left out) — and every other cell goes through openpyxl
unchanged: numbers, dates by their style, shared strings, booleans, errors.

`rows(ws)` gives what `ws.iter_rows(values_only=True)` gives (missing rows and cells as None,
rows padded to the sheet's width); a workbook openpyxl lays out differently falls back to it.
"""
from __future__ import annotations

from typing import Any, Iterator

from openpyxl.utils import coordinate_to_tuple
from openpyxl.worksheet._reader import INLINE_STRING, WorkSheetParser
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
    with source() as src:
        for idx, row in _Parser(src, shared, **options).parse():
            if max_row is not None and idx > max_row:
                break
            for _ in range(counter, idx):
                counter += 1
                yield empty
            if counter <= idx:
                counter += 1
                yield pad(row, 1, max_col, True)
    if max_row is not None and max_row < idx:
        for _ in range(counter, max_row + 1):
            yield empty
