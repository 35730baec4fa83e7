"""A `Report` (roster or summary) as a spreadsheet in the annex layout.

Offices print these sheets and send them upward, so the layout follows the paper tables:
merged title, 填报单位/日期 line, multi-level merged headers, column numbers (summary), data,
合计, identity-check notes and the signature line — A4 landscape, fit to width, headers
repeated on each page. xlsxwriter's `constant_memory` mode writes each row as it comes, so a
50,000-row roster streams from the report's row generator without being held in memory;
that mode requires rows in order, which is why everything is written top to bottom.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import xlsxwriter

from core.exporting import safe_name, text_width
from core.reportmodel import Column, Report

MAX_WIDTH = 48        # characters; longer text wraps
MIN_WIDTH = 4


def header_cells(columns: list[Column]) -> tuple[int, list[tuple[int, int, int, int, str]]]:
    """Header depth and the (first_row, first_col, last_row, last_col, text) blocks.

    A group label spans the run of adjacent columns that share it (and all outer groups);
    a column's own label spans downward from below its last group to the header's bottom.
    """
    depth = max((len(c.groups) for c in columns), default=0) + 1
    blocks = []
    for level in range(depth - 1):
        col = 0
        while col < len(columns):
            path = columns[col].groups[: level + 1]
            if len(path) <= level:                 # this column has no group at this level
                col += 1
                continue
            end = col
            while end + 1 < len(columns) and columns[end + 1].groups[: level + 1] == path:
                end += 1
            blocks.append((level, col, level, end, path[-1]))
            col = end + 1
    for i, c in enumerate(columns):
        blocks.append((len(c.groups), i, depth - 1, i, c.label))
    return depth, blocks


class _Formats:
    """The few cell styles the annex tables use (SimSun is what offices print with)."""

    def __init__(self, wb: xlsxwriter.Workbook):
        base = {"font_name": "宋体", "font_size": 10, "valign": "vcenter"}
        boxed = {**base, "border": 1}
        self.title = wb.add_format({**base, "font_size": 16, "bold": True, "align": "center"})
        self.meta = wb.add_format({**base})
        self.meta_right = wb.add_format({**base, "align": "right"})
        self.head = wb.add_format({**boxed, "bold": True, "align": "center", "text_wrap": True, "bg_color": "#E8EEF7"})
        self.number = wb.add_format({**boxed, "align": "center", "font_size": 9, "italic": True})
        self.text = wb.add_format({**boxed})
        self.int = wb.add_format({**boxed, "align": "right", "num_format": "0"})
        self.total = wb.add_format({**boxed, "bold": True, "align": "right", "num_format": "0"})
        self.total_label = wb.add_format({**boxed, "bold": True, "align": "center"})
        self.note = wb.add_format({**base, "font_color": "#C00000", "text_wrap": True})
        self.sign = wb.add_format({**base, "font_size": 11})


def _put(ws, row: int, col: int, value: Any, fmt) -> None:
    if isinstance(value, bool):
        ws.write_string(row, col, "是" if value else "否", fmt)
    elif isinstance(value, (int, float)):
        ws.write_number(row, col, value, fmt)
    elif value is None or value == "":
        ws.write_blank(row, col, None, fmt)
    else:
        ws.write_string(row, col, str(value), fmt)


def _write_rows(ws, row: int, cols: list[Column], rows, mask, widths: list[int], fm: _Formats, progress) -> int:
    """The data rows: the hot loop of a 50,000-row roster, so kept free of per-cell calls
    that are not needed (width is measured only when the text could be wider than the column)."""
    plan = [(i, c.key, c.pii, fm.int if c.kind == "int" else fm.text) for i, c in enumerate(cols)]
    write_string, write_number, write_blank = ws.write_string, ws.write_number, ws.write_blank
    n = 0
    for record in rows:
        for i, key, pii, fmt in plan:
            value = record.get(key)
            if pii:
                value = mask(pii, value)
            if value is None or value == "":
                write_blank(row, i, None, fmt)
            elif isinstance(value, str):
                write_string(row, i, value, fmt)
                if len(value) * 2 > widths[i]:
                    widths[i] = max(widths[i], text_width(value))
            else:
                _put(ws, row, i, value, fmt)
                widths[i] = max(widths[i], text_width(value))
        row += 1
        n += 1
        if progress and n % 1000 == 0:
            progress(n)
    return n


def write_report_xlsx(
    report: Report,
    path: Path,
    mask: Callable[[str | None, Any], Any],
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write `report` to `path`; return the number of data rows written."""
    cols = report.columns
    last = len(cols) - 1
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    fm = _Formats(wb)
    ws = wb.add_worksheet(safe_name(report.title if len(report.title) <= 31 else report.name))
    widths = [max(MIN_WIDTH, c.width or 0, text_width(c.label) + 2) for c in cols]

    ws.set_row(0, 30)
    _merge(ws, 0, 0, last, report.title, fm.title)
    unit = f"填报单位：{report.unit}" if report.unit else "填报单位："
    if report.period:
        unit += f"　　统计期：{report.period}"
    half = max(last // 2, 0)
    _merge(ws, 1, 0, half, unit, fm.meta)
    if last > half:
        _merge(ws, 1, half + 1, last, f"填报日期：{report.date}", fm.meta_right)

    top = 2
    depth, blocks = header_cells(cols)
    _write_header(ws, top, depth, len(cols), blocks, fm.head)
    row = top + depth
    if any(c.number for c in cols):
        for i, c in enumerate(cols):
            ws.write_string(row, i, c.number or "", fm.number)
        row += 1
    header_bottom = row - 1

    n = _write_rows(ws, row, cols, report.rows, mask, widths, fm, progress)
    row += n

    if report.total is not None:
        for i, c in enumerate(cols):
            value = report.total.get(c.key)
            _put(ws, row, i, "合计" if i == 0 and value in (None, "") else value, fm.total_label if i == 0 else fm.total)
        row += 1

    notes = [(f"勾稽关系检查：{p.message}", fm.note) for p in report.checks]
    if report.late and report.due:
        notes.append((f"注意：本期应于 {report.due} 前报送，已逾期。", fm.note))
    notes += [(text, fm.meta) for text in report.notes]      # explanations, not alarms
    for text, fmt in notes:
        _merge(ws, row, 0, last, text, fmt)
        row += 1
    row += 1
    sign = "　　　　　　".join(f"{who}：" for who in (*report.signature, "填报日期"))
    ws.set_row(row, 24)
    _merge(ws, row, 0, last, sign, fm.sign)

    for i, w in enumerate(widths):
        ws.set_column(i, i, min(w, MAX_WIDTH) + 1.5)
    ws.freeze_panes(header_bottom + 1, 0)
    ws.set_landscape()
    ws.set_paper(9)                      # A4
    ws.fit_to_pages(1, 0)                # all columns on one page width, as many pages down
    ws.repeat_rows(top, header_bottom)
    ws.center_horizontally()
    ws.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
    ws.set_footer("&C第 &P 页，共 &N 页")
    wb.close()
    return n


def _write_header(ws, top: int, depth: int, width: int, blocks, fmt) -> None:
    """Header cells row by row, then the merged ranges recorded.

    In constant_memory mode `merge_range` refuses a range that starts above the row being
    written, and it pads its whole area at once (reaching into later rows and flushing the
    current one), so two side-by-side vertical merges cannot both be made with it. The cells
    are therefore written in row order here (text in each block's top-left cell, bordered
    blanks elsewhere) and the ranges are added to the sheet's merge list — the very list
    `merge_range` appends to; tests read the merges back to catch an xlsxwriter change.
    """
    grid: dict[tuple[int, int], str] = {}
    for r0, c0, _r1, _c1, text in blocks:
        grid[(r0, c0)] = text
    for r in range(depth):
        for c in range(width):
            text = grid.get((r, c))
            if text is None:
                ws.write_blank(top + r, c, None, fmt)
            else:
                ws.write_string(top + r, c, text, fmt)
    for r0, c0, r1, c1, _text in blocks:
        if (r0, c0) != (r1, c1):
            ws.merge.append([top + r0, c0, top + r1, c1])


def _block(ws, r0: int, c0: int, r1: int, c1: int, text: str, fmt) -> None:
    """Merge a range, or write one cell when the range is a single cell (xlsxwriter refuses)."""
    if r0 == r1 and c0 == c1:
        ws.write_string(r0, c0, text, fmt)
    else:
        ws.merge_range(r0, c0, r1, c1, text, fmt)


def _merge(ws, row: int, c0: int, c1: int, text: str, fmt) -> None:
    """A line of text across columns c0..c1 of one row."""
    _block(ws, row, c0, row, c1, text, fmt)
