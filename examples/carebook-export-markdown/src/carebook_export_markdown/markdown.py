"""Turning a carebook ``Report`` into a Markdown document.

Markdown tables have one header row, so multi-level headers (``Column.groups``) are joined
with a full-width slash, and the summary's column numbers go in brackets after the label.
Personal values pass through ``job.mask`` — the one masking rule all exporters share — so a
copy of this file sent by e-mail shows 120107********0032, not the whole ID number.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Iterator

from carebook import CarebookError, Column, Job, Mask, Progress, Report, output_file


class MarkdownExporter:
    """The object handed to carebook's ``register`` callback."""

    name = "markdown"
    label = "Markdown 表格"
    extension = ".md"
    supports = frozenset({"roster", "summary"})

    def export(self, job: Job) -> list[Path]:
        if job.what not in self.supports:
            raise CarebookError(f"Markdown 导出只支持花名册和汇总表，不支持 {job.what}")
        report = job.report()
        path = output_file(job.output, self.extension, report.name)
        with path.open("w", encoding="utf-8", newline="\n") as out:
            out.writelines(line + "\n" for line in render(report, job.mask, job.tick))
        return [path]


def render(report: Report, mask: Mask, tick: Progress | None = None) -> Iterator[str]:
    """The document line by line; rows are streamed, so a generator report is read once."""
    yield f"# {report.title}"
    yield ""
    facts = [("填报单位", report.unit), ("统计期", report.period), ("填报日期", report.date),
             ("报送截止", report.due)]
    line = "　".join(f"{k}：{v}" for k, v in facts if v)
    if report.late:
        line += "　（逾期）"
    if line:
        yield line
        yield ""
    cols = report.columns
    yield _row(_header(c) for c in cols)
    yield _row("---:" if c.kind == "int" else "---" for c in cols)
    done = 0
    for row in report.rows:
        yield _row(_cell(mask(c.pii, row.get(c.key))) for c in cols)
        done += 1
        if tick:
            tick(done, report.row_count)
    if report.total is not None:
        yield _total_row(cols, report.total)
    yield ""
    yield f"共 {done} 行。"
    yield from _list("核查提示", [str(p) for p in report.checks])
    yield from _list("备注", report.notes)
    if report.signature:
        yield ""
        yield "　　".join(f"{who}：________" for who in report.signature)


def _header(col: Column) -> str:
    text = "／".join((*col.groups, col.label))
    return _cell(f"{text}（{col.number}）" if col.number else text)


def _total_row(cols: list[Column], total: dict[str, Any]) -> str:
    cells = [_cell(total.get(c.key)) for c in cols]
    if cols and not cells[0]:
        cells[0] = "**合计**"
    return _row(cells)


def _list(title: str, items: list[str]) -> Iterator[str]:
    if items:
        yield ""
        yield f"**{title}**"
        yield ""
        yield from (f"- {_cell(item)}" for item in items)


def _cell(value: Any) -> str:
    """One table cell: lists joined with 、, pipes escaped, line breaks kept as <br>."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple, set)):
        value = "、".join(str(v) for v in value)
    return str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\r\n", "\n").replace("\n", "<br>")


def _row(cells: Iterable[str]) -> str:
    return "| " + " | ".join(cells) + " |"
