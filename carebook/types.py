"""The shapes a hook receives and returns, as typed Protocols, TypedDicts and aliases.

Plugin authors annotate against these; carebook's own objects satisfy them (the built-in field
types and exporters, ``ExportJob``, ``Engine``), checked by ``tests/test_public_api.py`` and by
mypy in ``.ci/run``. They describe the contract, not the internals behind it.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, AbstractSet, Protocol, TypedDict, runtime_checkable

__all__ = ["WIDGETS"]   # re-exported; the rest are defined here

if TYPE_CHECKING:
    from core.problems import Problem
    from core.reporting.reportmodel import Report

from core.registry import WIDGETS  # the widget hints a field type may name (the UI draws each)

#: ``mask(kind, value)``: a personal value masked unless the export is ``full``.
Mask = Callable[[str | None, Any], Any]
#: ``progress(done, total)``: rows written so far and the total when known.
Progress = Callable[[int, int | None], None]
#: A module-level writer for ``job.write_report``: ``writer(report, path, mask, progress) -> rows``.
Writer = Callable[["Report", Path, Mask, Callable[[int], None]], int]


@runtime_checkable
class Host(Protocol):
    """What the ``register_*`` hooks and ``configure`` get as ``engine``: at least the folders."""

    forms_dir: Path
    data_dir: Path | None


@runtime_checkable
class FormField(Protocol):
    """A field of a loaded form, as ``json_schema`` and ``normalize`` receive it."""

    id: str
    label: str
    type: str
    options: Mapping[str, Any]


@runtime_checkable
class FieldType(Protocol):
    """What ``register_field_types`` registers. Optional extras: ``format`` (a format name)
    and ``options`` (extra form-file keys, as a JSON Schema ``properties`` dict)."""

    name: str
    widget: str

    def json_schema(self, field: Any) -> dict[str, Any]: ...

    def normalize(self, value: Any, field: Any) -> Any: ...


@runtime_checkable
class Job(Protocol):
    """What an exporter's ``export`` receives (``carebook.ExportJob`` is the implementation)."""

    what: str
    output: Path
    full: bool
    params: dict[str, Any]

    def report(self) -> Report: ...

    def records(self) -> Iterator[Any]: ...

    def mask(self, kind: str | None, value: Any) -> Any: ...

    def tick(self, done: int, total: int | None = None) -> None: ...

    def write_report(self, writer: Writer, report: Report, path: Path) -> int: ...


@runtime_checkable
class Exporter(Protocol):
    """What ``register_exporters`` registers."""

    name: str
    label: str
    extension: str
    supports: AbstractSet[str]

    def export(self, job: Any) -> list[Path]: ...


@runtime_checkable
class Ledger(Protocol):
    """The engine as plugins use it (``configure``, report builders, ``job.engine``)."""

    forms_dir: Path
    data_dir: Path

    def iter_records(self, form_id: str, partitions: Iterable[str] | None = None) -> Iterator[dict[str, Any]]: ...

    def count(self, form_id: str, filters: dict[str, Any] | None = None) -> int: ...

    def data(self, name: str) -> Any: ...


#: ``build(engine, **params) -> Report`` for ``register_reports``.
ReportBuilder = Callable[..., "Report"]


class SectionAdditions(TypedDict):
    fields: list[dict[str, Any]]


class FormAdditions(TypedDict, total=False):
    """What ``extend_form`` returns (overlay-file syntax); checked like an overlay file."""

    sections: dict[str, SectionAdditions]
    lists: dict[str, list[Any]]
    rules: list[dict[str, Any]]


class StoredRecord(TypedDict):
    """The record ``after_save`` receives."""

    id: str
    form: str
    version: int
    created: str
    updated: str
    operator: str
    partition: str
    data: dict[str, Any]
    meta: dict[str, Any]


#: The ``register`` callbacks, one per ``register_*`` hook.
RegisterFieldType = Callable[[FieldType], None]
RegisterFormat = Callable[[str, Callable[[Any], bool], str], None]
RegisterFunction = Callable[[str, Callable[..., Any]], None]
RegisterData = Callable[[str, Callable[[], Any]], None]
RegisterExporter = Callable[[Exporter], None]
RegisterReport = Callable[[str, ReportBuilder], None]

#: ``validate_record`` returns a list of problems (or ``None``).
Problems = list["Problem"] | None
