"""Every hook carebook calls, declared in one place.

Plugin authors implement these with `@core.hookimpl`. Built-in field types, formats, functions
and exporters come through the very same hooks (see `plugins/`), so a third-party plugin can do
anything a built-in does. Registries pass a `register` callback rather than asking for return
values: the host checks each object as it arrives and records which plugin gave it.

Each hook is documented in docs/plugins.md; a test fails when one is missing there.
"""
from __future__ import annotations

import pluggy

PROJECT = "carebook"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_field_types(register):
    """Add field types to the form language.

    Call ``register(field_type)`` once per type. A field type is an object with ``name`` (str,
    used as ``type:`` in form files), ``widget`` (one of the widget hints in
    ``core.registry.WIDGETS``), ``json_schema(field) -> dict`` and
    ``normalize(value, field) -> value`` (raise ``ValueError`` with a Chinese message for input
    that cannot be cleaned). Optional: ``format`` (a format name), ``options`` (extra keys the
    type accepts in form files, as a JSON Schema ``properties`` dict).
    All implementations are called. Added in 0.1.
    """


@hookspec
def register_formats(register):
    """Add JSON Schema ``format`` checkers.

    Call ``register(name, check, message)`` where ``check(value) -> bool`` and ``message`` is
    the Chinese text shown when a value fails. Formats are only asserted through the engine's
    own ``FormatChecker``. All implementations are called. Added in 0.1.
    """


@hookspec
def register_functions(register):
    """Add functions to the expression language.

    Call ``register(name, function)``; the function receives evaluated arguments (dates as
    ``datetime.date``) and must not have side effects. All implementations are called.
    Added in 0.1.
    """


@hookspec
def register_exporters(register):
    """Add export formats.

    Call ``register(exporter)``: an object with ``name`` (e.g. ``"xlsx"``), ``label`` (Chinese),
    ``extension`` (e.g. ``".xlsx"``), ``supports`` (a set of what it can export: ``"roster"``,
    ``"summary"``, ``"records"``, ``"form"``) and ``export(job) -> list[Path]`` where ``job`` is
    a ``core.transfer.exporting.ExportJob``. All implementations are called. Added in 0.1.
    """


@hookspec
def register_reports(register):
    """Add report kinds beside the form-file ``view`` and ``report`` kinds.

    Call ``register(name, build)`` where ``build(engine, **params) -> core.reporting.reports.Report``.
    All implementations are called. Added in 0.1.
    """


@hookspec
def extend_form(form_id, town):
    """Add fields, choices and rules to a form for the records of one town.

    Return a dict in overlay-file syntax (``sections``: fields to add to named sections,
    ``lists``: choices to add, ``rules``: rules to add) or ``None``. Called with the form id and
    the town code a record belongs to; the additions apply to that town's records only.
    All implementations are called; their additions are merged in plugin order. Added in 0.1.
    """


@hookspec
def validate_record(form_id, data, record_id):
    """Check a record beyond what the form file says.

    Return a list of ``core.problems.Problem`` (empty or ``None`` when all is well).
    All implementations are called. Added in 0.1.
    """


@hookspec
def before_save(form_id, data, record_id):
    """Adjust a record just before it is stored.

    Return a new ``data`` dict to replace it, or ``None`` to leave it. Called after validation;
    implementations run in plugin order and each sees the previous one's result. Added in 0.1.
    """


@hookspec
def after_save(form_id, record):
    """React to a stored record (the save has already returned durably).

    ``record`` is the full stored record dict. Return value ignored. A plugin that raises here
    is reported by name; the save stands. Added in 0.1.
    """


@hookspec
def configure(engine):
    """Called once when an engine opens, before any ``register_*`` hook.

    Plugins that read data files kept beside the forms (e.g. the division list in
    ``forms/data/``) find them through ``engine.forms_dir`` and ``engine.data_dir``. Return
    value ignored. All implementations are called. Added in 0.1.
    """
