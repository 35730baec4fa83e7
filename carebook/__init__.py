"""The public API of carebook for plugin authors.

Third-party packages depend on ``carebook`` by name and import only from here (and from
``carebook.testing``): ``@carebook.hookimpl`` marks a hook implementation, and the types a hook
receives or returns are exported below (``carebook.types`` holds the Protocols). Everything
under ``core``, ``plugins`` and ``tui`` is internal and free to change between versions; these
names are not. ``docs/plugins.md`` documents each one, and a test imports every name it uses.
"""
from __future__ import annotations

from carebook.types import (
    WIDGETS,
    Exporter,
    FieldType,
    FormAdditions,
    FormField,
    Host,
    Job,
    Ledger,
    Mask,
    Progress,
    RegisterData,
    RegisterExporter,
    RegisterFieldType,
    RegisterFormat,
    RegisterFunction,
    RegisterReport,
    ReportBuilder,
    StoredRecord,
    Writer,
)
from core.hookspecs import PROJECT, hookimpl
from core.problems import CarebookError, Problem
from core.reporting.reportmodel import Column, Report
from core.transfer.exporting import ExportJob, cn_date, cn_period, mask_value, output_file

__all__ = [
    "PROJECT", "WIDGETS", "CarebookError", "Column", "ExportJob", "Exporter", "FieldType",
    "FormAdditions", "FormField", "Host", "Job", "Ledger", "Mask", "Problem", "Progress",
    "RegisterData", "RegisterExporter", "RegisterFieldType", "RegisterFormat", "RegisterFunction",
    "RegisterReport", "Report", "ReportBuilder", "StoredRecord", "Writer", "cn_date", "cn_period",
    "hookimpl", "mask_value", "output_file",
]
