"""Every hook carebook calls, declared in one place.

Plugin authors implement these with `@carebook.hookimpl`. Built-in field types, formats, functions
and exporters come through the very same hooks (see `plugins/`), so a third-party plugin can do
anything a built-in does. Registries pass a `register` callback rather than asking for return
values: the host checks each object as it arrives and records which plugin gave it.

Every hook is called in pluggy's own order (``core.plugins.PluginSet.call``): ``tryfirst``
implementations, then the latest registration first — local plugins folder, installed packages,
built-ins — then ``trylast``. Where two plugins give the same name, the first called keeps it,
so a later registration overrides an earlier one. ``extend_form``, ``validate_record``,
``before_save`` and ``after_save`` fail closed: an error there stops the save.

Each hook is documented in docs/plugins.md; a test fails when one is missing there or its
signature differs.
"""
from __future__ import annotations

from typing import Any, Callable

import pluggy

PROJECT = "carebook"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

Register = Callable[..., None]


@hookspec
def register_field_types(register: Register, engine: Any) -> None:
    """Add field types to the form language.

    Call ``register(field_type)`` once per type. A field type is an object with ``name`` (str,
    used as ``type:`` in form files), ``widget`` (one of the widget hints in
    ``core.registry.WIDGETS``), ``json_schema(field) -> dict`` and
    ``normalize(value, field) -> value`` (raise ``ValueError`` with a Chinese message for input
    that cannot be cleaned). Optional: ``format`` (a format name), ``options`` (extra keys the
    type accepts in form files, as a JSON Schema ``properties`` dict).
    All implementations are called; a later registration replaces a type of the same name.
    ``engine`` is the engine the registry is built for (``forms_dir``, ``data_dir``); read
    your own files through it, never through module globals, so two engines on two forms
    folders never share data. ``carebook forms check`` passes a stand-in with ``forms_dir``
    only; a registry built without any engine passes ``None``.
    Added in 0.1 (``engine`` in 0.2).
    """


@hookspec
def register_formats(register: Register, engine: Any) -> None:
    """Add JSON Schema ``format`` checkers.

    Call ``register(name, check, message)`` where ``check(value) -> bool`` and ``message`` is
    the Chinese text shown when a value fails. Formats are only asserted through the engine's
    own ``FormatChecker``. All implementations are called; a later registration replaces a
    format of the same name.
    ``engine`` is the engine the registry is built for (``forms_dir``, ``data_dir``); read
    your own files through it, never through module globals, so two engines on two forms
    folders never share data. ``carebook forms check`` passes a stand-in with ``forms_dir``
    only; a registry built without any engine passes ``None``.
    Added in 0.1 (``engine`` in 0.2).
    """


@hookspec
def register_functions(register: Register, engine: Any) -> None:
    """Add functions to the expression language.

    Call ``register(name, function)``; the function receives evaluated arguments (dates as
    ``datetime.date``) and must not have side effects. All implementations are called; a later
    registration replaces a function of the same name.
    ``engine`` is the engine the registry is built for (``forms_dir``, ``data_dir``); read
    your own files through it, never through module globals, so two engines on two forms
    folders never share data. ``carebook forms check`` passes a stand-in with ``forms_dir``
    only; a registry built without any engine passes ``None``.
    Added in 0.1 (``engine`` in 0.2).
    """


@hookspec
def register_data(register: Register, engine: Any) -> None:
    """Add named data sets kept in files beside the forms (the division list).

    Call ``register(name, get)`` where ``get()`` returns the data as it is now (re-read when
    its file changed) or raises ``CarebookError`` with a located Chinese message. The engine
    hands it out as ``engine.data(name)``; ``engine.divisions`` is ``engine.data("divisions")``.
    ``engine`` is the engine the registry is built for (``forms_dir``, ``data_dir``); read
    your own files through it, never through module globals, so two engines on two forms
    folders never share data. ``carebook forms check`` passes a stand-in with ``forms_dir``
    only; a registry built without any engine passes ``None``.
    Added in 0.2.
    """


@hookspec
def register_exporters(register: Register) -> None:
    """Add export formats.

    Call ``register(exporter)``: an object with ``name`` (e.g. ``"xlsx"``), ``label`` (Chinese),
    ``extension`` (e.g. ``".xlsx"``), ``supports`` (a set of what it can export: ``"roster"``,
    ``"summary"``, ``"records"``, ``"form"``) and ``export(job) -> list[Path]`` where ``job`` is
    a ``carebook.ExportJob``. All implementations are called; a later registration replaces an
    exporter of the same name. Added in 0.1.
    """


@hookspec
def register_reports(register: Register) -> None:
    """Add report kinds beside the form-file ``view`` and ``report`` kinds.

    Call ``register(name, build)`` where ``build(engine, **params) -> carebook.Report``.
    All implementations are called; a later registration replaces a report of the same name.
    Added in 0.1.
    """


@hookspec
def extend_form(form_id: str, town: str | None) -> dict[str, Any] | None:
    """Add fields, choices and rules to a form for the records of one town.

    Return a dict in overlay-file syntax (``sections``: fields to add to named sections,
    ``lists``: choices to add, ``rules``: rules to add) or ``None``. Called with the form id and
    the town code a record belongs to; the additions apply to that town's records only.
    All implementations are called; their additions are merged in call order and checked like
    an overlay file (unknown section, field type or expression). A raise, a value that is not
    a dict, or additions that do not check stop the save of that town's records (fail
    closed). ``carebook forms check`` asks for every form and town. Added in 0.1.
    """


@hookspec
def validate_record(form_id: str, data: dict[str, Any], record_id: str | None) -> list[Any] | None:
    """Check a record beyond what the form file says.

    Return a list of ``carebook.Problem`` (empty or ``None`` when all is well).
    All implementations are called. A raise or another return type is an error that blocks
    the save, naming the plugin (fail closed). Added in 0.1.
    """


@hookspec
def before_save(form_id: str, data: dict[str, Any], record_id: str | None) -> dict[str, Any] | None:
    """Adjust a record just before it is stored.

    Return a new ``data`` dict to replace it, or ``None`` to leave it. Called after validation;
    implementations run in call order and each sees the previous one's result. A raise or
    another return type stops the save, naming the plugin. Added in 0.1.
    """


@hookspec
def after_save(form_id: str, record: dict[str, Any]) -> None:
    """React to a stored record (the save has already returned durably).

    ``record`` is the full stored record dict. Return value ignored. A plugin that raises here
    is reported by name with the saved record's id (``SaveResult.plugin_errors``; the CLI exits
    non-zero); the record stays saved, and a bulk save stops there. Added in 0.1.
    """


@hookspec
def configure(engine: Any) -> None:
    """Called once when an engine opens, before any ``register_*`` hook.

    Plugins that read data files kept beside the forms (e.g. the division list in
    ``forms/data/``) find them through ``engine.forms_dir`` and ``engine.data_dir``. Return
    value ignored. All implementations are called; an error is reported by plugin name and
    the engine still opens. Added in 0.1.
    """
