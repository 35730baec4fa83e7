"""A `Report` (roster or summary) as a spreadsheet in the annex layout.

Offices print these sheets and send them upward, so the layout follows the paper tables:
merged title, 填报单位/日期 line, multi-level merged headers, column numbers (summary, with
甲/乙 over the label columns as statistical tables do), data, 合计 (the total row, or the head
count of a roster), identity-check notes and the signature line — A4 landscape, fit to one
page wide, headers repeated on each page.

Fitting one page wide only helps if the columns are narrow enough to stay legible once
scaled: a roster whose 赡养人去向 column grows to 50 characters prints at 40 % and nobody can
read it. So header labels wrap onto two lines, data text wraps once a column reaches
`WRAP_AT` characters (the row grows taller instead of the sheet wider), and a column's
`width` hint only applies when there is no data to measure. xlsxwriter's `constant_memory` mode writes each row as it comes, so a
50,000-row roster streams from the report's row generator without being held in memory;
that mode requires rows in order, which is why everything is written top to bottom.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import xlsxwriter

from core.textsafety import FORMULA_START, safe_cell
from core.transfer.exporting import cn_date, cn_period, safe_name, text_width
from core.transfer.xlsxrows import BLANK, RowWriter, write_cell
from core.reporting.reportmodel import Column, Report

WRAP_AT = 20          # characters: a column grows with its data up to this, then text wraps
MIN_WIDTH = 4
HEAD_LINES = 2        # header labels may take two lines (the header rows are made that tall)
HEAD_ROW_HEIGHT = 27  # points: two lines of 10 pt 宋体
LINE_HEIGHT = 13.5    # points per line of wrapped 10 pt data text
PAD = 1               # characters of air added to every column
LABEL_NUMBERS = "甲乙丙丁戊己庚辛"   # column numbers of label columns in statistical tables


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
        self.text = wb.add_format({**boxed, "text_wrap": True})
        self.int = wb.add_format({**boxed, "align": "right", "num_format": "0"})
        self.total = wb.add_format({**boxed, "bold": True, "align": "right", "num_format": "0"})
        self.total_label = wb.add_format({**boxed, "bold": True, "align": "center"})
        self.note = wb.add_format({**base, "font_color": "#C00000", "text_wrap": True})
        self.sign = wb.add_format({**base, "font_size": 11})


def _cell(value: Any) -> Any:
    """The cell `value` is written as (`_put`, or a `RowWriter` row): 是/否 for a bool, a number,
    `BLANK` for nothing, else text made safe to open."""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, (int, float)):
        return value
    if value is None or value == "":
        return BLANK
    return safe_cell(str(value))


def _put(ws, row: int, col: int, value: Any, fmt) -> None:
    write_cell(ws, row, col, _cell(value), fmt)


def header_width(label: str) -> int:
    """Width a header label needs when it may wrap onto `HEAD_LINES` lines, plus one for the
    bold face and the cell's inner margin. Chinese breaks between any two characters, a run
    of ASCII only at spaces, so the longest ASCII run is a floor."""
    runs = [len(run) for run in "".join(ch if ch.isascii() and not ch.isspace() else " " for ch in label).split()]
    return max(MIN_WIDTH, -(-text_width(label) // HEAD_LINES) + 1, max(runs, default=0))


def column_widths(cols: list[Column], measured: list[int]) -> list[int]:
    """Final widths in characters: the header's two-line need, and the data as measured
    (capped at `wrap_width`, where the text wraps); a column with no data at all keeps its
    hint so an empty roster still looks like the form."""
    out = []
    for c, seen in zip(cols, measured):
        cap = wrap_width(c)
        data = min(seen, cap) if seen else min(c.width or 0, cap)
        out.append(max(header_width(c.label), data))
    return out


def wrap_width(c: Column) -> int:
    """Where a column stops growing and its text wraps: `WRAP_AT`, or the column's own width
    hint if that is larger (an address column asks for room)."""
    return max(WRAP_AT, c.width or 0)


def wrapped_lines(text: str, width: int) -> int:
    """Lines `text` takes in a column `width` characters wide. Neither Excel's file format
    nor LibreOffice's import re-measures rows on opening, so a wrapped cell gets its row
    height written here. `width` is the column as set (with `PAD`); 宋体 at 10 pt prints a
    Chinese character a little narrower than two width units, so the count errs tall."""
    return -(-text_width(text) // width)


def _write_rows(ws, row: int, cols: list[Column], rows, mask, widths: list[int], fm: _Formats, progress) -> int:
    """The data rows: the hot loop of a 50,000-row roster, so kept free of per-cell calls
    that are not needed (width is measured only while the column is narrower than its cap
    and the text could be wider than what was seen so far; wrapping is looked at only when
    the text could be wider than the cap).

    A text longer than its column's cap fixes that column's final width at the cap (or the
    header's need, which is wider still), so the lines it wraps onto — and the row height —
    are known when the row is written, before later rows are seen. xlsxwriter's
    constant_memory mode needs exactly that: `set_row` before the row is left behind."""
    plan = [(i, c.key, c.pii, fm.int if c.kind == "int" else fm.text, wrap_width(c),
             max(wrap_width(c), header_width(c.label)) + PAD) for i, c in enumerate(cols)]
    formats = [fmt for _, _, _, fmt, _, _ in plan]
    writer = RowWriter(ws, fm.text)          # each row in one piece, the XML xlsxwriter writes
    n = 0
    for record in rows:
        lines = 1
        cells: list[Any] = []
        for i, key, pii, fmt, cap, final in plan:
            value = record.get(key)
            if pii:
                value = mask(pii, value)
            if value is None or value == "":
                cells.append(BLANK)
            elif isinstance(value, str):
                cells.append("'" + value if value[0] in FORMULA_START else value)
                if len(value) * 2 > widths[i] and widths[i] < cap:
                    widths[i] = max(widths[i], text_width(value))
                if len(value) * 2 > cap:
                    lines = max(lines, wrapped_lines(value, final))
            else:
                cells.append(_cell(value))
                widths[i] = max(widths[i], text_width(value))
        writer.write(row, cells, formats, height=LINE_HEIGHT * lines + 2 if lines > 1 else None)
        row += 1
        n += 1
        if progress and n % 1000 == 0:
            progress(n)
    return n


def number_row(cols: list[Column]) -> list[str]:
    """The column-number row: each column's own number, and 甲, 乙, … for the label columns
    that have none (统计表 convention, so every cell of the row says which column it is)."""
    labels = iter(LABEL_NUMBERS)
    return [c.number or next(labels, "") for c in cols]


def meta_line(report: Report) -> tuple[str, str]:
    """The line under the title: 填报单位 and 统计期 on the left, 填报日期 on the right,
    in the 2026年11月30日 / 2026年第四季度 spelling of paper forms."""
    unit = f"填报单位（盖章）：{report.unit}"
    if report.period:
        unit += f"　　统计期：{cn_period(report.period)}"
    return unit, f"填报日期：{cn_date(report.date)}"


def signature_line(report: Report) -> str:
    """Signatures to be written by hand, then the filler's phone: the date is already printed
    in the line under the title, and a second, blank 填报日期 invites two different dates."""
    return "　　　　　　".join(f"{who}：" for who in (*report.signature, "联系电话"))


def count_line(report: Report, n: int) -> str:
    """The 合计 of a report without a total row (a roster): how many people it lists."""
    return f"合计：{n} 人" if report.name == "roster" else f"合计：{n} 行"


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
    measured = [0] * len(cols)

    ws.set_row(0, 30)
    _merge(ws, 0, 0, last, report.title, fm.title)
    unit, date = meta_line(report)
    half = max(last // 2, 0)
    _merge(ws, 1, 0, half, unit, fm.meta)
    if last > half:
        _merge(ws, 1, half + 1, last, date, fm.meta_right)

    top = 2
    depth, blocks = header_cells(cols)
    _write_header(ws, top, depth, len(cols), blocks, fm.head)
    row = top + depth
    if any(c.number for c in cols):
        for i, text in enumerate(number_row(cols)):
            ws.write_string(row, i, text, fm.number)
        row += 1
    header_bottom = row - 1

    n = _write_rows(ws, row, cols, report.rows, mask, measured, fm, progress)
    row += n

    if report.total is not None:
        for i, c in enumerate(cols):
            value = report.total.get(c.key)
            _put(ws, row, i, "合计" if i == 0 and value in (None, "") else value, fm.total_label if i == 0 else fm.total)
        row += 1
    elif n:
        _merge(ws, row, 0, last, count_line(report, n), fm.total_label)
        row += 1

    notes = [(f"勾稽关系检查：{p.message}", fm.note) for p in report.checks]
    if report.late and report.due:
        notes.append((f"注意：本期应于 {cn_date(report.due)} 前报送，已逾期。", fm.note))
    notes += [(text, fm.meta) for text in report.notes]      # explanations, not alarms
    for text, fmt in notes:
        _merge(ws, row, 0, last, text, fmt)
        row += 1
    row += 1
    ws.set_row(row, 24)
    _merge(ws, row, 0, last, signature_line(report), fm.sign)

    for i, w in enumerate(column_widths(cols, measured)):
        ws.set_column(i, i, w + PAD)
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
        ws.set_row(top + r, HEAD_ROW_HEIGHT)      # room for the two-line labels `header_width` assumes
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
