"""Records of one form as a workbook: a parent sheet, a sheet per repeat group, a codebook.

This is the "give me everything in a spreadsheet" export: one row per person with choice
labels (not codes) so staff can read it, children and other repeat rows on their own sheets
keyed by the file number so they can be matched back, and a codebook sheet saying what every
column is and which codes it may hold — the form id and version make the file self-describing
when it turns up on someone's desk a year later.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import xlsxwriter

from core.records.recordindex import collector_paused
from core.transfer.exporting import safe_name, text_width
from core.transfer.exportpipe import write_rows
from core.transfer.xlsxrows import RowWriter, Workbook
from core.transfer.exportform import MULTI_SEP, FieldInfo, FormInfo, RecordRows, column_labels, group_headers, parent_headers

MAX_WIDTH = 40


class _Sheet:
    """One streamed sheet: header row, then rows in order, widths tracked on the way."""

    def __init__(self, wb: xlsxwriter.Workbook, name: str, headers: list[str], head_fmt, cell_fmt):
        self.ws = wb.add_worksheet(name)
        self.fmt = cell_fmt
        self.widths = [text_width(h) + 2 for h in headers]
        self.ws.write_row(0, 0, headers, head_fmt)
        self.ws.freeze_panes(1, 1)
        self.row = 1
        self.rows = RowWriter(self.ws, cell_fmt)

    def add(self, values: list[Any]) -> None:
        """One row. The hot loop of a 50,000-person export: the row goes to the sheet in one
        piece (`core.transfer.xlsxrows`, the XML xlsxwriter would write), each text guarded
        against formulas and measured only when it could widen its column (a text is at most
        twice its length wide) and the column is not at its cap — one pass over the cells."""
        self.rows.write_shown(self.row, values, self.widths, MAX_WIDTH)
        self.row += 1

    def finish(self) -> None:
        for i, w in enumerate(self.widths):
            self.ws.set_column(i, i, min(w, MAX_WIDTH) + 1.5)
        self.ws.autofilter(0, 0, max(self.row - 1, 0), len(self.widths) - 1)
        self.ws.set_landscape()
        self.ws.set_paper(9)
        self.ws.repeat_rows(0)


def _code_row(sheet: str, f: FieldInfo, label: str, towns: str = "") -> list[str]:
    codes = "；".join(v if v == lab else f"{v}={lab}" for v, lab in f.choices)
    if f.type == "multi":
        codes = (codes + "（可多选，以“、”分隔）") if codes else "可多选"
    return [sheet, f.id, label, f.type, codes, "是" if f.pii else "", towns]


def _scope(f: FieldInfo) -> str:
    """Who the column is for: blank for the whole district, else the towns and their codes,
    so a reader knows a blank cell in another town's row means “not asked”, not “not known”."""
    if not f.towns:
        return ""
    return f"仅{f.town_note}（{MULTI_SEP.join(f.towns)}）的记录，其他街镇为空"


def codebook_rows(info: FormInfo, parent: str, children: dict[str, str]) -> list[list[str]]:
    """Sheet, field id, column header, type, codes, personal?, towns (blank: all) — one line per
    exported column."""
    rows = [[parent, "file_no", "档案编号", "text", "档案编号；未填时为记录ID前8位", ""]]
    rows += [_code_row(parent, f, lab, _scope(f)) for f, lab in zip(info.table_fields, column_labels(info))]
    rows += [[parent, "id", "记录ID", "text", "", ""], [parent, "version", "表单版本", "integer", "", ""],
             [parent, "updated", "更新时间", "datetime", "北京时间 YYYY-MM-DD HH:MM:SS", ""]]
    for g in info.groups:
        rows.append([children[g.id], "file_no", "档案编号", "text", f"对应“{parent}”的档案编号", "", _scope(g)])
        rows.append([children[g.id], "row", "序号", "integer", "本人名下第几行", "", _scope(g)])
        rows += [_code_row(children[g.id], c, c.label, _scope(g)) for c in g.children]
    return rows


@dataclass
class Book:
    """What the records workbook holds besides its rows: sheet names, headers, the codebook.
    Plain data, so the writing process (`core.transfer.exportpipe.write_rows`) gets it whole."""
    form: str
    version: Any
    title: str
    full: bool
    parent: str                                  # the parent sheet's name
    headers: list[str]
    children: dict[str, tuple[str, list[str]]]   # group id -> (sheet name, headers)
    codebook: list[list[str]]


def book_of(info: FormInfo, full: bool) -> Book:
    parent = safe_name(info.title if len(info.title) <= 31 else "登记表")
    used = {parent}
    children = {}
    for g in info.groups:
        name = safe_name(g.label)
        while name in used:
            name = safe_name(name[:28] + "_" + str(len(used)))
        used.add(name)
        children[g.id] = (name, group_headers(g))
    codebook = codebook_rows(info, parent, {gid: name for gid, (name, _) in children.items()})
    return Book(info.id, info.version, info.title, full, parent, parent_headers(info), children, codebook)


def write_records_xlsx(
    info: FormInfo,
    records: Iterable[Any],
    path: Path,
    mask: Callable[[str | None, Any], Any],
    *,
    full: bool = False,
    progress: Callable[[int], None] | None = None,
    count: int | None = None,
) -> int:
    """Write the records workbook; return the number of records written. `count`: how many
    records there are, when known (the writing process is then started before the first is read).

    Each record becomes its rows here (`RecordRows`: labels, masking); a long export has
    them written to the file by a second process meanwhile (`write_rows`), so reading the
    village files and writing the sheets run side by side. Garbage collection waits: the
    records and rows hold no cycles, and collections set off by their allocations walked
    every live record again."""
    flat = RecordRows(info, mask)                       # `flat_record`, its layout worked out once
    with collector_paused():
        return write_rows(write_book, book_of(info, full), (flat(record) for record in records), path,
                          progress=progress, count=count)


def write_book(book: Book, rows: Iterable[tuple[list[Any], dict[str, list[list[Any]]]]], path: Path,
               progress: Callable[[int], None] | None = None) -> int:
    """The workbook of `book` with each record's (row, {group id: rows}); the count written."""
    wb = Workbook(str(path), {"constant_memory": True})
    head = wb.add_format({"bold": True, "border": 1, "bg_color": "#E8EEF7", "text_wrap": True, "valign": "vcenter"})
    cell = wb.add_format({"valign": "top"})
    parent = _Sheet(wb, book.parent, book.headers, head, cell)
    children = {gid: _Sheet(wb, name, headers, head, cell) for gid, (name, headers) in book.children.items()}

    n = 0
    for row, groups in rows:
        parent.add(row)
        for gid, lines in groups.items():
            for r in lines:
                children[gid].add(r)
        n += 1
        if progress and n % 1000 == 0:
            progress(n)
    for sheet in [parent, *children.values()]:
        sheet.finish()

    sheet = wb.add_worksheet("字段说明")
    sheet.write_row(0, 0, ["表单", book.form, "版本", str(book.version), "标题", book.title], head)
    sheet.write_row(1, 0, ["导出方式", "完整（含个人信息）" if book.full else "已遮蔽个人信息"])
    sheet.write_row(3, 0, ["工作表", "字段", "标签", "类型", "代码及含义", "个人信息", "适用街镇"], head)
    for i, r in enumerate(book.codebook, 4):
        sheet.write_row(i, 0, r)
    for i, w in enumerate((16, 22, 24, 14, 60, 8, 30)):
        sheet.set_column(i, i, w)
    wb.close()
    return n
