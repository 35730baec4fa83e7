"""The shape every report has, whoever builds it and whoever writes it out.

Report builders (`core/reporting/reports.py`, plugins' `register_reports`) produce a `Report`; the TUI
draws it and exporters write it. Rows may be an iterator so a 50,000-person roster streams
from storage to file without being held in memory.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from core.problems import Problem


@dataclass(frozen=True)
class Column:
    key: str                       # the key in each row dict
    label: str                     # the lowest header cell
    groups: tuple[str, ...] = ()   # upper header levels, outermost first: ("性别",) for 男/女
    width: int | None = None       # in characters, a hint for exporters and the TUI
    pii: str | None = None         # "id" | "phone" | "address" | "name": masked unless full
    number: str | None = None      # the column number printed under the header (summary 1..31)
    kind: str = "text"             # text | int | date


@dataclass
class Report:
    name: str                      # "roster" | "summary" | a plugin's name
    title: str                     # 天津市滨海新区农村留守老年人花名册
    columns: list[Column]
    rows: Iterable[dict[str, Any]]  # may be a generator: iterate once
    total: dict[str, Any] | None = None     # the total row (summary)
    unit: str = ""                 # 填报单位: the town or district
    date: str = ""                 # 填报日期 / report date, ISO
    period: str = ""               # e.g. "2026Q4"
    due: str = ""                  # due date, ISO (summary)
    late: bool = False
    checks: list[Problem] = field(default_factory=list)   # broken identities etc.
    signature: tuple[str, ...] = ("单位负责人", "填表人", "复核人")
    notes: list[str] = field(default_factory=list)
    row_count: int | None = None   # known in advance when rows is a generator
