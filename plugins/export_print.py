"""Built-in exporter: the printable registration form (HTML with A4 print CSS).

Registration rounds still happen on paper: the interviewer takes blank forms from house to
house and staff type them in later, and a filled form is printed for the person's paper file
(一人一档). So the form prints in the form file's section order, choices as □ boxes (■ when
chosen), and every skip rule spelled out in words (`plugins.print_hints`), because on paper
nothing hides a section by itself. HTML rather than PDF: every office has a browser that
prints it, and no PDF library is needed.
"""
from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

import core
from core.exporting import ExportJob, output_file
from core.exportform import FieldInfo, FormInfo, file_no, get, record_data
from plugins.print_hints import Speaker, field_hint, section_hint

CSS = """
@page { size: A4 portrait; margin: 14mm 12mm 16mm 12mm; }
body { font-family: "SimSun", "宋体", "Songti SC", "Noto Serif CJK SC", serif; font-size: 10.5pt;
       color: #000; margin: 0; }
@media screen { body { max-width: 190mm; margin: 8mm auto; } }
h1 { text-align: center; font-size: 16pt; margin: 0 0 4mm; letter-spacing: 1px; }
.meta { display: flex; justify-content: space-between; margin-bottom: 3mm; }
h2 { font-size: 12pt; margin: 5mm 0 1.5mm; break-after: avoid; page-break-after: avoid; }
.skip { border: 1px dashed #000; padding: 1mm 2mm; margin: 0 0 1.5mm; font-size: 9.5pt; }
table { width: 100%; border-collapse: collapse; }
td, th { border: 1px solid #000; padding: 1.6mm 2mm; vertical-align: top; }
th.label { width: 24%; text-align: left; font-weight: normal; background: #f2f2f2; }
tr { break-inside: avoid; page-break-inside: avoid; }
.hint { display: block; font-size: 8.5pt; color: #333; margin-top: 0.6mm; }
.opt { white-space: nowrap; margin-right: 4mm; }
.line { display: inline-block; min-width: 60mm; border-bottom: 1px solid #000; height: 1.2em; }
.digits span { display: inline-block; width: 4.2mm; height: 5mm; border: 1px solid #000;
               margin-right: -1px; text-align: center; }
table.rows th { font-weight: normal; background: #f2f2f2; font-size: 9.5pt; }
table.rows td { height: 7mm; }
.req { font-weight: bold; }
.sign { display: flex; justify-content: space-between; margin-top: 10mm; }
.foot { margin-top: 4mm; font-size: 8.5pt; color: #333; }
"""
BLANK_REPEAT_ROWS = 4


class FormPrinter:
    """Renders one form, blank or filled with one record's (masked) data."""

    def __init__(self, info: FormInfo, data: dict[str, Any] | None, mask):
        self.info, self.data, self.mask = info, data, mask
        self.speaker = Speaker(info.field)

    def html(self, heading: str = "") -> str:
        info = self.info
        parts = [f"<!doctype html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
                 f"<title>{escape(info.title)}</title><style>{CSS}</style></head><body>",
                 f"<h1>{escape(info.title)}</h1>",
                 f"<div class=\"meta\"><span>{escape(heading)}</span>"
                 f"<span>填报日期：　　　年　　月　　日</span></div>"]
        for n, section in enumerate(info.sections, 1):
            parts.append(f"<section id=\"{escape(section.id)}\"><h2>{_cn_number(n)}、{escape(section.title)}</h2>")
            hint = section_hint(self.speaker, section.relevant, section.paper_hint)
            if hint:
                parts.append(f"<p class=\"skip\">{escape(hint)}</p>")
            if section.help:
                parts.append(f"<p class=\"hint\">{escape(section.help)}</p>")
            parts.append(self._fields(section.fields))
            parts.append("</section>")
        parts.append("<div class=\"sign\">" + "".join(
            f"<span>{who}：<span class=\"line\" style=\"min-width:28mm\"></span></span>"
            for who in ("填表人", "复核人", "单位负责人")) + "</div>")
        parts.append(f"<p class=\"foot\">表单 {escape(str(info.id))} 第 {escape(str(info.version))} 版。"
                     "带＊的项目为必填项；□ 处请打“√”。</p></body></html>\n")
        return "\n".join(parts)

    def _fields(self, fields: list[FieldInfo]) -> str:
        rows = []
        for f in fields:
            label = escape(f.label) + ("<span class=\"req\">＊</span>" if f.required is True else "")
            rows.append(f"<tr><th class=\"label\">{label}</th><td>{self._cell(f)}</td></tr>")
        return "<table>" + "\n".join(rows) + "</table>"

    def _cell(self, f: FieldInfo) -> str:
        value = None if self.data is None else self.data.get(f.id)
        body = self._repeat(f, value) if f.is_repeat else self._value(f, value)
        notes = [field_hint(self.speaker, f.relevant, f.paper_hint)]
        if f.computed:
            notes.append("由系统根据已填内容计算，纸面可不填")
        notes.append(f.help)
        return body + "".join(f"<span class=\"hint\">{escape(n)}</span>" for n in notes if n)

    def _value(self, f: FieldInfo, value: Any) -> str:
        filled = self.data is not None
        if f.type == "boolean":
            options = [("true", "是"), ("false", "否")]
            chosen = set() if value is None else {"true" if value else "false"}
            return _boxes(options, chosen)
        if f.choices:
            chosen = set(map(str, value)) if isinstance(value, list) else ({str(value)} if value not in (None, "") else set())
            extra = "（可多选）" if f.type == "multi" else ""
            return _boxes(f.choices, chosen) + extra
        if filled and value not in (None, ""):
            text = f.display(value)
            return escape(str(self.mask(f.pii, text) if f.pii else text))
        if f.type == "cn-resident-id":
            return "<span class=\"digits\">" + "<span></span>" * 18 + "</span>"
        if f.type == "date":
            return "　　　　年　　月　　日"
        return "<span class=\"line\"></span>"

    def _repeat(self, f: FieldInfo, rows: Any) -> str:
        head = "".join(f"<th>{escape(c.label)}</th>" for c in f.children)
        body = []
        if self.data is not None:
            for row in rows or []:
                cells = []
                for c in f.children:
                    text = c.display((row or {}).get(c.id))
                    cells.append(escape(str(self.mask(c.pii, text) if c.pii else text)))
                body.append("<tr>" + "".join(f"<td>{t}</td>" for t in cells) + "</tr>")
        else:
            count = max(f.min_rows, BLANK_REPEAT_ROWS)
            count = min(count, f.max_rows) if f.max_rows else count
            body = ["<tr>" + "<td></td>" * len(f.children) + "</tr>"] * count
        hints = [f"{c.label}：{' '.join(lab for _, lab in c.choices)}" for c in f.children if c.choices]
        note = f"<span class=\"hint\">可选项 —— {escape('；'.join(hints))}</span>" if hints else ""
        return f"<table class=\"rows\"><tr>{head}</tr>{''.join(body)}</table>{note}"


def _boxes(options: list[tuple[str, str]], chosen: set[str]) -> str:
    return "".join(
        f"<span class=\"opt\">{'■' if v in chosen else '□'}&nbsp;{escape(lab)}</span>" for v, lab in options
    )


def _cn_number(n: int) -> str:
    digits = "零一二三四五六七八九"
    if n <= 10:
        return "十" if n == 10 else digits[n]
    return ("" if n < 20 else digits[n // 10]) + "十" + (digits[n % 10] if n % 10 else "")


class PrintExporter:
    name = "print"
    label = "打印登记表（HTML，A4）"
    extension = ".html"
    supports = frozenset({"form"})

    def export(self, job: ExportJob) -> list[Path]:
        if job.what != "form":
            raise ValueError("打印登记表只支持“form”")
        record_id = job.params.get("record_id")
        if not record_id:
            info = job.form()
            path = output_file(job.output, self.extension, f"{info.id}-空白")
            path.write_text(FormPrinter(info, None, job.mask).html("档案编号："), encoding="utf-8")
            return [path]
        record = job.engine.get(record_id)
        if record is None:
            raise ValueError(f"找不到记录 {record_id}")
        info = job.form(get(record, "form"), version=get(record, "version"))
        key = file_no(record)
        path = output_file(job.output, self.extension, key)
        html = FormPrinter(info, record_data(record), job.mask).html(f"档案编号：{key}")
        path.write_text(html, encoding="utf-8")
        return [path]


@core.hookimpl
def register_exporters(register):
    register(PrintExporter())
