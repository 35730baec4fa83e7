"""Built-in exporter: Excel workbooks (.xlsx).

Rosters and summaries go out in the annex layout (`plugins.xlsx_report`), records as a
parent/child/codebook workbook (`plugins.xlsx_records`). Registered through the same hook a
third-party exporter uses.
"""
from __future__ import annotations

from pathlib import Path

import core
from core.transfer.exporting import ExportJob, output_file

# The writers (and xlsxwriter, ~50 ms to import) load on the first export, not at start-up:
# every plugin module is imported when the app opens, and staff wait for that.


class XlsxExporter:
    name = "xlsx"
    label = "Excel 表格（.xlsx）"
    extension = ".xlsx"
    supports = frozenset({"roster", "summary", "records"})

    def export(self, job: ExportJob) -> list[Path]:
        if job.what not in self.supports:
            raise ValueError(f"Excel 导出不支持“{job.what}”")
        from plugins.xlsx_records import write_records_xlsx
        from plugins.xlsx_report import write_report_xlsx

        if job.what == "records":
            info = job.form()
            path = output_file(job.output, self.extension, info.id)
            write_records_xlsx(info, job.records(shared=True), path, job.mask, full=job.full,   # read, never kept
                               progress=lambda n: job.tick(n), count=job.record_count())
            return [path]
        report = job.report()
        path = output_file(job.output, self.extension, report.name)
        job.write_report(write_report_xlsx, report, path)
        return [path]


@core.hookimpl
def register_exporters(register):
    register(XlsxExporter())
