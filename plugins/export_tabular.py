"""Built-in exporters: CSV (UTF-8 with BOM), JSON and JSON Lines.

CSV is written `utf-8-sig` because Excel on a Chinese Windows reads a BOM-less CSV as GBK and
shows mojibake. Records become one CSV per table (the parent plus one per repeat group, keyed
by the file number), because a flat file cannot hold the children list. JSON and JSONL keep
the stored record shape (codes, not labels) for other programs, written with
`ensure_ascii=False` so the Chinese stays readable; personal values are masked unless full.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import core
from core.textsafety import safe_cell
from core.transfer.exporting import ExportJob, output_file, sibling
from core.transfer.exportform import RecordRows, group_headers, masked_record, parent_headers


def report_header(column) -> str:
    """Flat header for a multi-level column: 性别/男 (CSV has one header row)."""
    return "/".join((*column.groups, column.label))


class _SafeWriter:
    """A csv writer whose every text cell goes through `safe_cell`: a value starting with
    = + - @ must reach Excel as text, never as a formula (CSV injection)."""

    def __init__(self, fh):
        self._w = csv.writer(fh)

    def writerow(self, row) -> None:
        self._w.writerow([safe_cell(v) for v in row])

    def writerows(self, rows) -> None:
        for row in rows:
            self.writerow(row)


def write_report_csv(report, path: Path, mask) -> int:
    cols = report.columns
    n = 0
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        w = _SafeWriter(fh)
        w.writerow([report_header(c) for c in cols])
        for row in report.rows:
            w.writerow([mask(c.pii, row.get(c.key)) if c.pii else row.get(c.key, "") for c in cols])
            n += 1
        if report.total is not None:
            w.writerow([report.total.get(c.key, "合计" if i == 0 else "") for i, c in enumerate(cols)])
    return n


def write_records_csv(info, records, path: Path, mask) -> list[Path]:
    """The parent table at `path`, each repeat group beside it as `<stem>-<group id>.csv`."""
    paths = [path] + [sibling(path, g.id) for g in info.groups]
    files = [open(p, "w", encoding="utf-8-sig", newline="") for p in paths]
    try:
        writers = [_SafeWriter(f) for f in files]
        writers[0].writerow(parent_headers(info))
        for g, w in zip(info.groups, writers[1:]):
            w.writerow(group_headers(g))
        flat = RecordRows(info, mask)                   # `flat_record`, its layout worked out once
        for record in records:
            parent, groups = flat(record)
            writers[0].writerow(parent)
            for g, w in zip(flat.groups, writers[1:]):
                w.writerows(groups[g.id])
    finally:
        for f in files:
            f.close()
    return paths


class CsvExporter:
    name = "csv"
    label = "CSV 文本表格（UTF-8，Excel 可直接打开）"
    extension = ".csv"
    supports = frozenset({"roster", "summary", "records"})

    def export(self, job: ExportJob) -> list[Path]:
        if job.what == "records":
            info = job.form()
            return write_records_csv(info, job.records(), output_file(job.output, self.extension, info.id), job.mask)
        if job.what not in self.supports:
            raise ValueError(f"CSV 导出不支持“{job.what}”")
        report = job.report()
        path = output_file(job.output, self.extension, report.name)
        write_report_csv(report, path, job.mask)
        return [path]


def _dump(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, default=str)


class JsonExporter:
    name = "json"
    label = "JSON 数据（记录数组）"
    extension = ".json"
    supports = frozenset({"records"})
    lines = False

    def export(self, job: ExportJob) -> list[Path]:
        if job.what not in self.supports:
            raise ValueError(f"{self.name.upper()} 导出只支持记录（records）")
        info = job.form()
        path = output_file(job.output, self.extension, info.id)
        with open(path, "w", encoding="utf-8", newline="\n") as fh:
            # Written record by record (not json.dump of a list) so memory stays flat.
            fh.write("" if self.lines else "[\n")
            for i, record in enumerate(job.records()):
                text = _dump(masked_record(info, record, job.mask))
                if self.lines:
                    fh.write(text + "\n")
                else:
                    fh.write(("" if i == 0 else ",\n") + text)
            fh.write("" if self.lines else "\n]\n")
        return [path]


class JsonLinesExporter(JsonExporter):
    name = "jsonl"
    label = "JSON Lines 数据（每行一条记录）"
    extension = ".jsonl"
    lines = True


@core.hookimpl
def register_exporters(register):
    register(CsvExporter())
    register(JsonExporter())
    register(JsonLinesExporter())
