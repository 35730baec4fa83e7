"""Built-in exporter: the printable registration form (HTML with A4 print CSS).

Registration rounds still happen on paper: the interviewer takes blank forms from house to
house and staff type them in later, and a filled form is printed for the person's paper file
(一人一档). So the form prints in the form file's section order, choices as □ boxes (■ when
chosen), and every skip rule spelled out in words (`plugins.print_hints`), because on paper
nothing hides a section by itself. HTML rather than PDF: every office has a browser that
prints it, and no PDF library is needed.

Paper order follows the annex: 档案编号 and 填报日期 stand in the line under the title and
填表人 / 复核人 / 单位负责人 are signed at the foot, so those fields are lifted out of the body
(printed twice, the interviewer fills in two dates and a filled form disagrees with itself).
Repeat groups (children) get the full page width: squeezed into the value column an 18-digit
ID number breaks over three lines. On a filled form a conditional section with nothing in it
says that it does not apply, rather than showing blank lines that read as missing data.
"""
from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

import core
from core.transfer.exporting import ExportJob, cn_date, output_file
from core.transfer.exportform import FieldInfo, FormInfo, file_no, get, record_data
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
table.rows th.w-id { width: 36mm; } table.rows th.w-phone { width: 25mm; }
table.rows th.w-text { width: 16mm; }
table.rows th.w-date { width: 22mm; }
th.group { text-align: left; font-weight: normal; background: #f2f2f2; }
.na { font-size: 9.5pt; margin: 0 0 1.5mm; }
.req { font-weight: bold; }
.sign { display: flex; justify-content: space-between; margin-top: 10mm; }
.foot { margin-top: 4mm; font-size: 8.5pt; color: #333; }
"""
BLANK_REPEAT_ROWS = 4
# (field id, label if the form lacks the field): printed in the line under the title …
HEAD_FIELDS = (("file_no", "档案编号"), ("filing_date", "填报日期"))
# … and signed at the foot of the form, as on the annex.
SIGN_FIELDS = (("filler", "填表人"), ("reviewer", "复核人"), ("head", "单位负责人"))
# Child columns that need room on paper, by field type.
WIDE_TYPES = {"cn-resident-id": "w-id", "phone": "w-phone", "date": "w-date", "text": "w-text"}


class FormPrinter:
    """Renders one form, blank or filled with one record's (masked) data."""

    def __init__(self, info: FormInfo, data: dict[str, Any] | None, mask):
        self.info, self.data, self.mask = info, data, mask
        self.speaker = Speaker(info.field)

    def html(self, heading: str = "") -> str:
        """The whole page. `heading` is shown before the 档案编号 line when given (e.g. a
        batch name); the 档案编号 / 填报日期 line itself comes from the form's fields."""
        info = self.info
        lifted = {fid for fid, _ in (*HEAD_FIELDS, *SIGN_FIELDS)}
        parts = [f"<!doctype html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
                 f"<title>{escape(info.title)}</title><style>{CSS}</style></head><body>",
                 f"<h1>{escape(info.title)}</h1>"]
        if heading:
            parts.append(f"<p class=\"hint\">{escape(heading)}</p>")
        parts.append("<div class=\"meta\">" + "".join(
            f"<span>{self._slot(fid, label)}</span>" for fid, label in HEAD_FIELDS) + "</div>")
        for n, section in enumerate(info.sections, 1):
            fields = [f for f in section.fields if f.id not in lifted]
            if not fields:
                continue
            parts.append(f"<section id=\"{escape(section.id)}\"><h2>{_cn_number(n)}、{escape(section.title)}</h2>")
            hint = section_hint(self.speaker, section.relevant, section.paper_hint)
            if hint:
                parts.append(f"<p class=\"skip\">{escape(hint)}</p>")
            if section.help:
                parts.append(f"<p class=\"hint\">{escape(section.help)}</p>")
            if self._not_applicable(section.relevant, fields):
                parts.append("<p class=\"na\">本节不适用，未填写。</p>")
            else:
                parts.append(self._fields(fields))
            parts.append("</section>")
        parts.append("<div class=\"sign\">" + "".join(
            f"<span>{self._slot(fid, label)}</span>" for fid, label in SIGN_FIELDS) + "</div>")
        parts.append(f"<p class=\"foot\">表单 {escape(str(info.id))} 第 {escape(str(info.version))} 版。"
                     "带＊的项目为必填项；□ 处请打“√”。</p></body></html>\n")
        return "\n".join(parts)

    def _slot(self, field_id: str, fallback: str) -> str:
        """`标签：值` for a header or signature field; a line (or 年月日) to write on when
        the form is blank or the value missing."""
        f = self.info.field(field_id)
        label = f.label if f else fallback
        value = None if self.data is None else self.data.get(field_id)
        if value not in (None, ""):
            text = cn_date(value) if f and f.type == "date" else (f.display(value) if f else str(value))
            return f"{escape(label)}：<u>{escape(str(text))}</u>"
        if f and f.type == "date":
            return f"{escape(label)}：　　　　年　　月　　日"
        return f"{escape(label)}：<span class=\"line\" style=\"min-width:32mm\"></span>"

    def _not_applicable(self, relevant: str | None, fields: list[FieldInfo]) -> bool:
        """A filled form's conditional section with no value in any field: validation drops
        the values of a section that does not apply, so empty here means “skipped”."""
        if self.data is None or not relevant:
            return False
        return all(self.data.get(f.id) in (None, "", []) for f in fields)

    def _fields(self, fields: list[FieldInfo]) -> str:
        rows = []
        for f in fields:
            label = escape(f.label) + ("<span class=\"req\">＊</span>" if f.required is True else "")
            if f.is_repeat:      # full width: the group's own columns need the room
                rows.append(f"<tr><th class=\"group\" colspan=\"2\">{label}</th></tr>"
                            f"<tr><td colspan=\"2\">{self._cell(f)}</td></tr>")
            else:
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
        head = "".join(f"<th{_width_class(c)}>{escape(c.label)}</th>" for c in f.children)
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


def _width_class(f: FieldInfo) -> str:
    cls = WIDE_TYPES.get(f.type)
    return f" class=\"{cls}\"" if cls else ""


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
            info = job.form(town=job.params.get("town"))
            path = output_file(job.output, self.extension, f"{info.id}-空白")
            path.write_text(FormPrinter(info, None, job.mask).html(), encoding="utf-8")
            return [path]
        record = job.engine.get(record_id)
        if record is None:
            raise ValueError(f"找不到记录 {record_id}")
        info = job.form(get(record, "form"), version=get(record, "version"),
                        town=record_data(record).get("town"))
        key = file_no(record)
        path = output_file(job.output, self.extension, key)
        html = FormPrinter(info, _with_file_no(record_data(record), key), job.mask).html()
        path.write_text(html, encoding="utf-8")
        return [path]


def _with_file_no(data: dict[str, Any], key: str) -> dict[str, Any]:
    """The record's data with the number the file is saved under shown as its 档案编号, so the
    page and its file name agree even for a record saved before numbering was automatic."""
    return data if data.get("file_no") else {**data, "file_no": key}


@core.hookimpl
def register_exporters(register):
    register(PrintExporter())
