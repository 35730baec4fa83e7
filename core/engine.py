"""The engine facade: the one object the terminal UI, the CLI and plugins talk to.

Everything a user can do to the ledger goes through here, so the rules that keep records
sound — validation under the record's own form version, unique ID numbers, warnings that
need a typed reason, an append-only history, atomic storage — are enforced in one place and
cannot be skipped by a screen or a script.
"""
from __future__ import annotations

import contextlib
import copy
import datetime as dt
import gc
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from core import dates
from core import paths
from core.transfer.exporting import ExportJob
from core.formlang.formsnapshots import FormSnapshots
from core.formlang.formmodel import once_per_form
from core import hookcalls
from core.oserrors import describe_os_error
from core.plugins import DIR_ENV, PluginFailed, PluginInfo, build_registry, load_plugins
from core.privatefiles import private_folder
from core.problems import CarebookError, FormError, Problem, ValidationFailed
from core.records import incomplete, rollup
from core.records.drafts import Drafts
from core.records.recordindex import SEARCH_KEY, RecordIndex, Page, collector_paused
from core.records.shape import refuse_bad_shape, shape_problems
from core.storage import Store, chain, check_output
from core.storage.contract import RecordStore

if TYPE_CHECKING:                    # the facade's types, without importing them at start-up
    from core.formlang.formmodel import Form
    from core.records.validation import Validator
    from core.reporting.reportmodel import Report
    from core.reporting.schedule import DueItem
    from core.transfer.importing import ImportResult

__all__ = ["CarebookError", "Engine", "Page", "Problem", "ValidationFailed"]

NO_PARTITION = "_none"


BULK_BATCH = 5000         # records a bulk save holds before writing (see `Engine.bulk_save`)
BULK_HOOKS = ("validate_record", "before_save")    # per-record hooks a bulk save skips when unimplemented
# What checks a bulk save's records: `Engine.bulk_checked`'s signature (form, datas, operator, on_problem).
BulkChecker = Callable[[str, Iterable[dict], str, Any], Iterator[tuple[dict, "dict | None"]]]


def now_iso() -> str:
    """Local time with offset: offices read these, and they are in UTC+8.

    Worked out once per second (`astimezone` asks for the local zone: a bulk save of 360,000
    records spent seconds there); the same text as `datetime.now()` cut to the second."""
    second = int(time.time())
    if _NOW[0] != second:
        _NOW[:] = [second, dt.datetime.fromtimestamp(second).astimezone().isoformat(timespec="seconds")]
    return _NOW[1]


_NOW: list = [None, ""]


def field_diff(old: dict | None, new: dict, prefix: str = "") -> list[dict]:
    """Field-level changes between two data dicts, repeat rows compared by position."""
    old = old or {}
    out: list[dict] = []
    for key in sorted(set(old) | set(new), key=str):
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        path = f"{prefix}{key}"
        if isinstance(a, list) and isinstance(b, list) and all(isinstance(x, dict) for x in a + b):
            for i in range(max(len(a), len(b))):
                ra = a[i] if i < len(a) else None
                rb = b[i] if i < len(b) else None
                if ra is None or rb is None:
                    out.append({"path": f"{path}.{i}", "old": ra, "new": rb})
                else:
                    out.extend(field_diff(ra, rb, f"{path}.{i}."))
        else:
            out.append({"path": path, "old": a, "new": b})
    return out


@dataclass
class SaveResult:
    record: dict
    problems: list[Problem]      # warnings accepted with a reason
    plugin_errors: list[str] = field(default_factory=list)   # after_save failures: saved, follow-up not done
    followups: list[dict] | None = None    # follow-up records this save created (core.followups)

    @property
    def id(self) -> str:
        return self.record["id"]


class Engine:
    """Open forms, validate and save records, query them, report and export."""

    def __init__(self, data_dir: Path, forms_dir: Path | None = None, *, operator: str | None = None,
                 readonly: bool = False, extra_plugins: list[object] | None = None,
                 today: Callable[[], dt.date] | None = None, plugins_dir: Path | None = None,
                 store: "RecordStore | None" = None):
        from core.formlang.formload import load_form_dir
        from core.formlang.expressions import Evaluator

        self.data_dir = Path(data_dir)
        # Staff run the last published form set unless a folder is named (core.lifecycle.publish).
        self.forms_dir = self._staff_forms_dir(forms_dir)
        self._working_forms_dir = self.forms_dir
        self.readonly = readonly
        # What `today` means in form expressions (ages, "not in the future"); tests and
        # reproducible demo ledgers pin it.
        self.today: Callable[[], dt.date] = today or dates.today
        private_folder(self.data_dir)
        # Local plugins come only from the configured folder (`plugins_dir`, CAREBOOK_PLUGINS_DIR):
        # code in the data folder would run for anyone who can write a ledger file.
        self.plugin_set = load_plugins(local_dir=plugins_dir, extra=extra_plugins)
        self._refuse_data_plugins()
        self.plugin_set.call("configure", action="打开台账", strict=False, engine=self)
        self.registry = build_registry(self.plugin_set, engine=self)
        self.evaluator = Evaluator(self.registry.functions)
        self.store: RecordStore = store if store is not None else Store(self.data_dir, readonly=readonly)
        self.settings = paths.SettingsFile(self.data_dir / "settings.json")
        self.operator = operator or self.settings.get("operator") or ""
        self.forms = load_form_dir(self.forms_dir, self.registry)
        self.snapshots = FormSnapshots(self.data_dir / "forms", self.forms_dir, self.registry)
        if not readonly:
            self.snapshots.keep(self.forms)
        self._indexes: dict[str, RecordIndex] = {}
        self._validators: dict[tuple, Any] = {}
        self._bulk_refs: dict[tuple, dict | None] | None = None   # see `_referenced`
        self._bulk_hooks: dict[str, bool] | None = None   # see `_hook_in_use`
        self._row_fields: dict[str, frozenset[str]] | None = None
        self._guard_forms()

    # ----------------------------------------------------------------- lifecycle
    @classmethod
    def open(cls, data_dir: Path | str, forms_dir: Path | str | None = None, **kw) -> "Engine":
        if paths.is_server(data_dir):
            return cls._open_server(str(data_dir), forms_dir, **kw)
        return cls(Path(data_dir), Path(forms_dir) if forms_dir else None, **kw)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def reload_forms(self) -> list[Problem]:
        """Re-read the form files (the admin edited them) without restarting; a broken edit keeps
        the last good set and says why (`core.lifecycle.publish.reload`)."""
        from core.lifecycle.publish import reload

        self._row_fields = None
        return reload(self)

    @property
    def problems(self) -> list[str]:
        """Start-up messages for the admin corner: plugins, form files, storage."""
        out = list(self.registry.problems)
        out += [str(p) for p in self.forms.problems]
        out += [str(p) for p in self.store.problems]
        return out

    # ----------------------------------------------------------------- forms
    def form(self, form_id: str, version: int | None = None, town: str | None = None) -> Form:
        form = self.forms.get(form_id)
        if form is None:
            raise FormError(f"没有找到表单 “{form_id}”（或它的表单文件有错误，请运行 carebook forms check）")
        if version is not None and version != form.version:
            form = self.snapshots.get(form_id, version)
            if form is None:
                raise FormError(f"表单 “{form_id}” 的第 {version} 版已找不到，无法打开按该版本保存的记录")
        if town:
            form = self._form_for_town(form, town)
        return form

    def record_forms(self) -> list[Form]:
        return [f for f in self.forms.forms.values()]

    def _form_for_town(self, form: Form, town: str) -> Form:
        """Overlay files and plugin additions for `town`; a broken `extend_form` raises
        `PluginFailed` (`core.hookcalls`): a form missing a plugin's fields is never used."""
        additions = hookcalls.town_additions(self.plugin_set, self.forms, form.id, town)
        return self.forms.form_for_town(form, town, additions)

    def validator(self, form_id: str, version: int | None = None, town: str | None = None) -> Validator:
        from core.records.validation import Validator

        form = self.form(form_id, version)
        key = (form_id, form.version, town or "", id(form))
        v = self._validators.get(key)
        if v is None:
            if town:
                form = self._form_for_town(form, town)
            v = self._validators[key] = Validator(form, self.registry, self.evaluator, today=self.today)
        return v

    # ----------------------------------------------------------------- records
    def index(self, form_id: str) -> RecordIndex:
        idx = self._indexes.get(form_id)
        if idx is None:
            with collector_paused():
                rows = self.store.index(form_id)
            idx = self._indexes[form_id] = RecordIndex(rows, private=self._private_keys(form_id))
        return idx

    def index_loaded(self, form_id: str) -> bool:
        """Whether the form's list rows are already in memory (reading them again is waste)."""
        return form_id in self._indexes

    def new_record(self, form_id: str, **context) -> dict:
        """Defaults, `initial` expressions (e.g. today) and computed values, ready for a form screen."""
        form = self.form(form_id)
        v = self._display_validator(form_id, context.get("town"))
        data: dict[str, Any] = {}
        for f in form.top_fields():
            if f.computed:
                continue
            if f.default is not None:
                data[f.id] = copy.deepcopy(f.default)
            if f.initial:
                value = self.evaluator.calculate(f.initial, v.names({**data, **context}))
                if value is not None:
                    data[f.id] = value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else value
        data.update(context)
        data, _ = self.compute(form_id, data)
        return data

    def compute(self, form_id: str, data: dict, overrides: dict | None = None) -> tuple[dict, dict]:
        """Computed fields and `cases` with the reason that fired, for live display."""
        return self._display_validator(form_id, data.get("town")).compute(data, overrides=overrides)

    def check(self, form_id: str, data: dict, record_id: str | None = None, *, version: int | None = None,
              accepted: dict[str, str] | None = None, overrides: dict | None = None) -> tuple[dict, list[Problem]]:
        """(clean data as it would be stored, every problem still standing).

        Problems are errors and the warnings not accepted with a typed reason; plugins'
        `validate_record` checks run on the clean data.
        """
        return self._checked(form_id, data, record_id, version=version, accepted=accepted, overrides=overrides)

    def _checked(self, form_id: str, data: dict, record_id: str | None = None, *, version: int | None = None,
                 accepted: dict[str, str] | None = None, overrides: dict | None = None,
                 reasons: dict[str, str] | None = None, shaped: bool = False) -> tuple[dict, list[Problem]]:
        """`check`, for a save: `reasons` receives the computed fields' case reasons, and
        `shaped` says the caller has already refused a badly shaped record."""
        if not shaped and (shape := shape_problems(self.form(form_id, version), data)):
            return data, shape
        try:
            v = self.validator(form_id, version, town=data.get("town"))
        except PluginFailed as exc:           # fail closed: no check without the plugin's fields
            return dict(data), [hookcalls.as_problem(exc)]
        clean, problems = v.check(
            data,
            unique_lookup=lambda field, value: self.find_unique(form_id, field, value, exclude=record_id),
            accepted_warnings=accepted or {},
            overrides=overrides,
            reasons=reasons,
        )
        problems.extend(self._dangling_refs(v.form, clean))
        if self._hook_in_use("validate_record"):
            problems.extend(hookcalls.record_problems(self.plugin_set, form_id, clean, record_id, accepted or {}))
        return clean, problems

    def _dangling_refs(self, form, data: dict) -> list[Problem]:
        out = []
        for f, target, _ in _ref_fields(form):
            if target and data.get(f.id) and data[f.id] not in self.index(target).rows:
                out.append(Problem(f"{f.label}：所选记录不存在（可能已被删除或来自其他台账） (record-ref)",
                                   f.id, rule="record-ref"))
        return out

    def validate(self, form_id: str, data: dict, record_id: str | None = None, *,
                 version: int | None = None, accepted: dict[str, str] | None = None,
                 overrides: dict | None = None) -> list[Problem]:
        """Every problem with the record: errors, and warnings not accepted with a reason."""
        return self.check(form_id, data, record_id, version=version, accepted=accepted, overrides=overrides)[1]

    def find_unique(self, form_id: str, field: str, value: Any, exclude: str | None = None) -> str | None:
        """The id of another record holding `value` in `field`, if any (duplicate ID numbers)."""
        if value in (None, ""):
            return None
        if hasattr(self.store, "unique_holder"):        # a server: every village's records (issue 11)
            from core.storage.pgunique import find_unique
            return find_unique(self, form_id, field, value, exclude)
        if not self.index_loaded(form_id) and isinstance(value, str):
            held = self._rows_holding(form_id, field, value)
            if held is not None:
                return next((rid for rid in held if rid != exclude), None)
        return self.index(form_id).find(field, value, exclude=exclude)

    def get(self, record_id: str, form_id: str | None = None) -> dict | None:
        for fid in ([form_id] if form_id else list(self.forms.forms)):
            if record_id in self.index(fid).rows:
                return self.store.get(fid, record_id)
        return None

    def save(self, form_id: str, data: dict, record_id: str | None = None, *, operator: str | None = None,
             reasons: dict[str, str] | None = None, overrides: dict[str, dict] | None = None,
             note: str | None = None, base: dict | None = None) -> SaveResult:
        """Validate, then store atomically with a history entry; raises ValidationFailed.

        `reasons` maps a warning's rule id to the reason the operator typed to accept it;
        `overrides` maps a computed field to {"value", "reason"} (e.g. a risk level staff set).
        `base`: the record as the form opened it; a record saved differently by someone else
        since is refused (`EditConflict`), not overwritten. (Compared whole, not by its
        `updated` stamp: two saves within one second share a stamp.)
        """
        if self.readonly:
            raise CarebookError("台账以只读方式打开，不能保存")
        old = self.get(record_id, form_id) if record_id else None
        if record_id and old is None:
            raise CarebookError(f"没有找到要修改的记录 {record_id}")
        if base is not None and old is not None and old != base:
            _refuse_stale(old)
        # An edit saves under the current form version: the history keeps the old one.
        record = self._prepare(form_id, data, old, operator=operator, reasons=reasons, overrides=overrides)
        problems = record.pop("_problems")
        errors = self._write(form_id, record, old, note=note)
        return SaveResult(record, problems, errors, self._followups_after_save(form_id, record))

    def _prepare(self, form_id: str, data: dict, old: dict | None, *, operator, reasons, overrides,
                 shaped: bool = False) -> dict:
        """`shaped`: the caller has already refused a badly shaped record (`refuse_bad_shape`)."""
        form = self.form(form_id)
        operator = operator or self.require_operator("保存记录")
        if not shaped:
            refuse_bad_shape(form, data)
        accepted = dict(reasons or {})
        data = self._copy_from_refs(form, data)
        data = self._autonumber(form, data)
        computed_reasons: dict[str, str] = {}
        data, problems = self._checked(form_id, data, old["id"] if old else None, accepted=accepted,
                                       overrides=overrides, reasons=computed_reasons, shaped=True)
        blocking = incomplete.blocking(form, data, problems)   # a 待补全 file may lack answers
        if blocking:                       # errors, unaccepted warnings, broken plugins
            raise ValidationFailed(blocking)
        if self._hook_in_use("before_save"):
            data = hookcalls.before_save(self.plugin_set, form_id, data, old["id"] if old else None)
        stamp = now_iso()
        meta: dict[str, Any] = {"reasons": computed_reasons}
        if overrides:
            meta["overrides"] = overrides
        if accepted:
            meta["warnings_accepted"] = [{"rule": r, "reason": t} for r, t in accepted.items()]
        part = str(data.get(form.partition) or NO_PARTITION) if form.partition else NO_PARTITION
        retired = self._retired_values(form_id, data, old, stamp)
        return {**({"retired": retired} if retired else {}),
            "id": old["id"] if old else _new_id(),
            "form": form_id,
            "version": form.version,
            "created": old["created"] if old else stamp,
            "updated": stamp,
            "operator": operator or self.operator or "",
            "partition": part,
            "data": data,
            "meta": meta,
            "_problems": problems,
        }

    def _copy_from_refs(self, form, data: dict) -> dict:
        """Fill fields a `record-ref` names in `copy:` from the referenced record (a visit's
        person's town, village and name), so nobody types them twice or gets them wrong."""
        for f, target, mapping in _ref_fields(form):
            ref_id = data.get(f.id)
            if not mapping or not ref_id:
                continue
            ref = self._referenced(ref_id, target, form.id, mapping.values())
            if ref is None:
                continue   # validation reports the dangling reference
            data = {**data, **{mine: ref["data"].get(theirs) for mine, theirs in mapping.items()
                               if ref["data"].get(theirs) is not None}}
        return data

    def _referenced(self, ref_id: str, ref_form: str | None, form_id: str, fields: Iterable[str] = ()) -> dict | None:
        """The record a `record-ref` names; during a bulk save each is read once (a person's
        dozens of demo visits each cloned the person's whole record), and not at all when its
        list row, already in memory, holds every one of `fields` (`_bulk_ref_row`)."""
        memo = self._bulk_refs
        if memo is None or ref_form == form_id:
            return self.get(ref_id, ref_form)
        if fields and (row := self._bulk_ref_row(ref_form, ref_id, fields)) is not None:
            return row
        key = (ref_form, ref_id)
        if key not in memo:
            if len(memo) >= 64:
                memo.clear()
            memo[key] = self.get(ref_id, ref_form)
        return memo[key]

    def _autonumber(self, form, data: dict) -> dict:
        """Fill empty `autonumber` fields: the template's prefix plus the next free sequence number."""
        for f in _autonumber_fields(form):
            if data.get(f.id) not in (None, ""):
                continue
            head = f.autonumber[: f.autonumber.index("{seq")]
            try:
                prefix = head.format(**{k: ("" if v is None else v) for k, v in data.items()})
            except (KeyError, IndexError, ValueError):
                continue   # a part of the prefix is still empty: the required rules will say so
            if "{" in head and not all(data.get(k) for k in _template_names(head)):
                continue
            data = {**data, f.id: f.autonumber.format(**{**data, "seq": self._next_number(form, f.id, prefix, data)})}
        return data

    def _index_row(self, form, record: dict, search: bool = True) -> dict:
        # `_p` as the store keeps it, so rows saved in this session look like rows read at open
        return {**RecordIndex.row_for(form, record, self.row_fields(form.id), search), "_p": record["partition"]}

    def row_fields(self, form_id: str) -> frozenset[str]:
        """Fields the list rows of `form_id` carry for reports and due lists, besides `list_fields`
        (worked out from the report, schedule and view files; see `core.reporting.rowfields`)."""
        if self._row_fields is None:
            from core.reporting.rowfields import declared_row_fields
            self._row_fields = declared_row_fields(self.forms.files, self.evaluator, self.forms)
        return self._row_fields.get(form_id, frozenset())

    def _history_entry(self, record: dict, old: dict | None, note: str | None, diff: bool = True) -> dict:
        """`diff=False`: no field changes listed (a bulk save's new record holds them itself)."""
        return {
            "id": record["id"], "at": record["updated"], "operator": record["operator"],
            "form": record["form"], "version": record["version"],
            "action": "新建" if old is None else "修改",
            "changes": field_diff(old["data"] if old else None, record["data"]) if diff else [],
            "reasons": record["meta"].get("warnings_accepted", []),
            "overrides": record["meta"].get("overrides", {}),
            "note": note or "",
        }

    def _write(self, form_id: str, record: dict, old: dict | None, note: str | None = None) -> list[str]:
        form = self.form(form_id)
        row = self._index_row(form, record)
        # The rollup row goes into the same commit as the record: one round of fsyncs, not two.
        rollup = self._rollup_items(form, [record], {record["id"]: old} if old else {})
        self.store.put(form_id, record, row, self._history_entry(record, old, note), derived=rollup, new=old is None)
        if form_id in self._indexes:          # not loaded yet: it will read this row from disk
            self._indexes[form_id].put(record["id"], row)
        return hookcalls.after_save(self.plugin_set, form_id, record)

    def bulk_save(self, form_id: str, datas: Iterable[dict], operator: str = "",
                  on_problem: Callable[[int, list[Problem]], None] | None = None,
                  progress: Callable[[int], None] | None = None, *, checker: BulkChecker | None = None) -> int:
        """Validate and store many new records with one write per partition file (demo, import).

        Written in batches of about `BULK_BATCH` records, cut where the partition changes
        (input in village order — an export, the demo — writes each village file once). Each
        batch is one commit (`Store.put_many`): its records, their history entries and the
        rollup rows they change are durable together or not at all, with one fsync for the
        batch instead of one per record; a crash loses at most the batch being written, never
        a part of it. Memory is bounded by the batch: nothing of the input is held beyond it.

        `checker`: what validates and prepares the records, with `bulk_checked`'s signature
        and answers (default: this engine's `bulk_checked`); the demo passes a forked copy of
        this engine (`core.transfer.bulkfork`) that checks the next records while this one stores.
        """
        form = self.form(form_id)
        items: list[tuple[dict, dict, dict]] = []
        n, last_part = 0, None
        # Checked elsewhere (`checker`): the form's rows are not put into this engine's index
        # one by one — the store keeps its own copy of every row it commits, and the index is
        # made again from that copy when next asked (`_bulk_rows_from_store`): one copy of
        # 50,000 list rows in memory instead of two.
        from_store = checker is not None and self._bulk_tracked(form)

        def flush() -> None:
            if items:
                derived = self._rollup_items(form, [rec for rec, _, _ in items], {})
                if derived is not None and derived[1]:
                    self.store.put_many(form_id, items, derived=derived, new=True)
                else:
                    self.store.put_many(form_id, items, new=True)
                items.clear()
                # The few cycles a batch leaves (compiled validators' closures) are young:
                # one collection of the youngest generation a batch, where every 50,000 new
                # objects the collector walked them and then again as they grew older. Not
                # where another process checks (`checker`): it collects its own, and here a
                # collection found 0–6 objects a batch in ~35 ms (2.5 s of a 50,000 demo).
                if checker is None:
                    gc.collect(0)

        with self._bulk_session(), self._bulk_rows_from_store(form_id, from_store):
            for rec, row in (checker or self.bulk_checked)(form_id, datas, operator, on_problem):
                if len(items) >= BULK_BATCH and rec["partition"] != last_part:
                    flush()
                last_part = rec["partition"]
                if row is None:
                    row = self._index_row(form, rec)
                # The record itself holds what was imported; repeating every field in the history
                # would double the data folder (measured: 624 MB of history for the 50k demo).
                entry = self._history_entry(rec, None, "批量导入：初始内容见记录本身", diff=False)
                items.append((rec, row, entry))
                n += 1
                if progress and n % 1000 == 0:
                    progress(n)
            flush()
            self._bulk_written()
        return n

    def bulk_checked(self, form_id: str, datas: Iterable[dict], operator: str = "",
                     on_problem: Callable[[int, list[Problem]], None] | None = None,
                     rows: bool = True, shaped: bool = False) -> Iterator[tuple[dict, dict | None]]:
        """Each record of `datas` as a bulk save stores it (validated, id and time stamps), with
        its list row when this engine keeps the form's rows up to date as they come (unique
        and numbering checks must see the records before), else None. A record that does not
        pass goes to `on_problem(i, problems)`, or raises `ValidationFailed` without one.
        `rows=False`: the caller makes the rows (a forked checker's parent); this engine keeps
        for its own checks only what they read of a row (`_check_row`) and answers None.
        `shaped`: every record has passed `refuse_bad_shape` already (in that parent).
        Called within `_bulk_session` (as `bulk_save` does)."""
        form = self.form(form_id)
        # New ids only, so unique and numbering checks are all that need earlier rows in memory.
        track = self._bulk_tracked(form)
        for i, data in enumerate(datas):
            try:
                rec = self._prepare(form_id, data, None, operator=operator, reasons=None, overrides=None,
                                    shaped=shaped)
            except ValidationFailed as exc:
                if on_problem:
                    on_problem(i, exc.problems)
                    continue
                raise
            rec.pop("_problems")
            row = None
            if track:
                row = self._index_row(form, rec) if rows else self._check_row(form, rec)
                self.index(form_id).put(rec["id"], row)   # so unique checks see earlier items
            yield rec, row if rows else None

    # ----------------------------------------------------------------- rollups
    # Per-person latest visit dates and quarterly counts, kept at save time: `core.records.rollup`.

    def _rollup_items(self, form, records: list[dict], olds: dict[str, dict]) -> tuple[str, list] | None:
        return rollup.items(self, form, records, olds)

    def rollup_rows(self, form_id: str) -> dict[str, dict]:
        """{referenced record id: rollup row} for a form with a `rollup` (see `core.records.rollup`).

        Rebuilt once from the form's records when the rollup table is missing (a ledger from
        before rollups, or a damaged file set aside).
        """
        form = self.form(form_id)
        if not rollup.spec_of(form):
            raise CarebookError(f"表单 “{form_id}” 没有声明 rollup")
        with collector_paused():
            rows = self.store.index(rollup.table_of(form_id))
        if not rows and self.store.count(form_id):
            table, items = rollup.rebuild_items(self, form)
            if not self.readonly:
                self.store.put_many(table, items)
            return {item[0]["id"]: {**item[1], "_p": item[0]["partition"]} for item in items}
        return rows

    def latest(self, form_id: str) -> dict[str, dict[str, str]]:
        """{referenced record id: {key value: latest ISO date}} for a form with a `rollup`."""
        return rollup.latest_of(self.rollup_rows(form_id))

    def related(self, record_id: str, form_id: str) -> list[dict]:
        """Records of `form_id` that refer to `record_id` (a person's visits), read from the
        person's own partition only, so a person file opens without loading every visit."""
        target = self.get(record_id)
        if target is None:
            return []
        form = self.form(form_id)
        refs = [f.id for f in form.top_fields()
                if f.type == "record-ref" and f.options.get("form") == target["form"]]
        if refs and set(refs) <= set(form.list_fields):     # the list rows say which: parse only those
            return self.store.select(form_id, target["partition"],
                                     lambda row: any(row.get(r) == record_id for r in refs))
        return [rec for rec in self.iter_records(form_id, [target["partition"]])
                if any(rec["data"].get(r) == record_id for r in refs)]

    def scan_rows(self, form_id: str, fields: Iterable[str], where=None) -> dict[str, dict]:
        """{id: list row with just `fields`} passing `where`, without loading the form's whole
        index for the session (a summary over 300,000 visits; see `Store.scan_rows`)."""
        return self.store.scan_rows(form_id, fields, where)

    def iter_records(self, form_id: str, partitions: Iterable[str] | None = None) -> Iterator[dict]:
        return self.store.iter_records(form_id, partitions)

    def query(self, form_id: str, *, text: str | None = None, filters: dict | None = None,
              sort: str | None = None, desc: bool = False, offset: int = 0, limit: int = 50) -> Page:
        self.forms.require(form_id)      # an unknown form is an error, not an empty list
        if not (text or filters or sort or desc) and not self.index_loaded(form_id):
            page = self._plain_page(form_id, offset, limit)
            if page is not None:
                return page
        return self.index(form_id).query(text=text, filters=filters, sort=sort, desc=desc,
                                         offset=offset, limit=limit)

    def count(self, form_id: str, filters: dict | None = None) -> int:
        return self.index(form_id).count(filters)

    def has_records(self, form_id: str) -> bool:
        """Whether any record of `form_id` is stored — counted in the index files where the
        store can (`Store.row_counts`) rather than by loading the list rows: asked when the
        program opens (is this an empty ledger or demo?), before the day's run is handed to a
        forked copy, and rows loaded then would stay in the staff screen's memory beside the
        ones it loads again after (50 MB at 50,000 people)."""
        counts = getattr(self.store, "row_counts", None) if form_id not in self._indexes else None
        if counts is not None:
            return any(counts(form_id).values())
        return self.count(form_id) > 0

    def history(self, record_id: str, form_id: str | None = None) -> list[dict]:
        for fid in ([form_id] if form_id else list(self.forms.forms)):
            if record_id in self.index(fid).rows:
                return self.store.history(fid, record_id)
        return []

    def outdated(self, form_id: str) -> list[str]:
        """Records saved under an older version of the form (they still open under their own)."""
        current = self.form(form_id).version
        return [rid for rid, row in self.index(form_id).rows.items() if int(row.get("_v") or 0) < current]

    def validate_stored(self, record_id: str) -> list[Problem]:
        """Re-check a stored record under the form version it was saved with."""
        rec = self.get(record_id)
        if rec is None:
            raise CarebookError(f"没有找到记录 {record_id}")
        return self.validate(rec["form"], rec["data"], record_id, version=rec["version"],
                             accepted={w["rule"]: w["reason"] for w in rec.get("meta", {}).get("warnings_accepted", [])})

    # ----------------------------------------------------------------- drafts (core.records.drafts)
    def save_draft(self, form_id: str, record_id: str | None, data: dict) -> None:
        """Keep what staff typed so a crash or a closed window loses at most one field."""
        Drafts(self.data_dir).save(form_id, record_id, data, now_iso())

    def load_draft(self, form_id: str, record_id: str | None) -> dict | None:
        return Drafts(self.data_dir).load(form_id, record_id)

    def drop_draft(self, form_id: str, record_id: str | None) -> None:
        Drafts(self.data_dir).drop(form_id, record_id)

    # ----------------------------------------------------------------- reports, visits, export
    def visits_due(self, as_of: dt.date | None = None, town: str | None = None,
                   village: str | None = None) -> list[DueItem]:
        from core.reporting.schedule import visits_due

        return visits_due(self, as_of=as_of, town=town, village=village)

    def report(self, name: str, **params: Any) -> Report:
        from core.reporting import reports

        if name in self.registry.reports:
            return hookcalls.plugin_report(self.registry, name, self.registry.reports[name](self, **params))
        if name == "roster":
            return reports.build_roster(self, **params)
        if name == "summary":
            return reports.build_summary(self, **params)
        raise CarebookError(f"没有名为 “{name}” 的报表")

    def import_records(self, form_id: str, paths, *, dry_run: bool = False, skip_bad: bool = False,
                       operator: str | None = None, mapping=None, fixed: dict[str, str] | None = None,
                       strict: bool = False) -> ImportResult:
        """Records from an XLSX/CSV ledger (`core.transfer.importing`): checked row by row, saved only
        when every row is sound (or `skip_bad`); rows lacking only answers are saved as 待补全
        unless `strict`; `mapping` is a reviewed column mapping; returns an `ImportResult`."""
        from core.transfer.importing import import_records

        if self.readonly and not dry_run:
            raise CarebookError("台账以只读方式打开，不能导入")
        if not dry_run:
            self.operator = operator or self.require_operator("导入记录")
        return import_records(self, form_id, paths, operator=operator or self.operator or "",
                              dry_run=dry_run, skip_bad=skip_bad, mapping=mapping, fixed=fixed, strict=strict)

    def exporters(self) -> list[Any]:
        return sorted(self.registry.exporters.values(), key=lambda e: e.name)

    def export(self, what: str, fmt: str, output: Path | str, *, full: bool = False,
               progress: Callable[[int, int | None], None] | None = None, **params: Any) -> list[Path]:
        exp = self.registry.exporters.get(fmt)
        if exp is None:
            names = "、".join(sorted(self.registry.exporters)) or "无"
            raise CarebookError(f"没有名为 “{fmt}” 的导出格式（已安装：{names}）")
        if what not in getattr(exp, "supports", {what}):
            raise CarebookError(f"导出格式 “{fmt}” 不支持导出 {what}")
        check_output(self.data_dir, output)
        if full:     # written, with the operator, before any personal data leaves
            self.audit_full_read(what, action="完整导出（开始写文件）", format=fmt, output=str(output), params=params)
        job = ExportJob(what=what, output=Path(output), engine=self, full=full, params=params, progress=progress)
        try:
            written = hookcalls.exported_paths(self.registry, fmt, exp.export(job))
        except CarebookError:
            raise
        except OSError as exc:     # the output folder is read-only, full, not a folder ...
            raise CarebookError(f"导出失败：{describe_os_error(exc)}") from exc
        except Exception as exc:  # noqa: BLE001 - an exporter plugin's failure is named, not a traceback
            raise CarebookError(f"导出失败（插件 {self.registry.provided_by.get('exporter:' + fmt, fmt)}）："
                                f"{type(exc).__name__}: {exc}") from exc
        self._audit({"action": "导出", "what": what, "format": fmt, "full": full,
                     "output": [str(p) for p in written], "params": {k: str(v) for k, v in params.items()}})
        return written

    def _audit(self, entry: dict) -> None:
        """Actions that concern the whole ledger (exports in full) go to an append-only log."""
        if self.readonly:
            return
        entry = {"at": now_iso(), "operator": self.operator, **entry}
        self.wait_for_backup()          # the log is in the day's backup: not appended mid-copy
        if hasattr(self.store, "append_audit"):        # a server ledger keeps it on the server
            return self.store.append_audit(entry)
        chain.append_audit(self.data_dir, entry)

    def wait_for_backup(self) -> None:
        """Before writing into the data folder other than through a save (the audit log, a
        publish): the day's backup, made beside the command (`Store`), is done first, so it
        holds each file whole, as the ledger was opened."""
        wait = getattr(self.store, "wait_for_backup", None)
        if wait is not None:
            wait()

    def audit_log(self) -> list[dict]:
        if hasattr(self.store, "audit_log"):
            return self.store.audit_log()
        return chain.read_audit(self.data_dir)

    def plugins(self) -> list[PluginInfo]:
        return list(self.plugin_set.infos.values())

    # ----------------------------------------------------------------- follow-ups (issue 16)
    # What a visit finds, tracked to the end; the logic is core.followups, these only delegate.
    def _followups_after_save(self, form_id: str, record: dict) -> list[dict]:
        """Follow-ups the saved record's form declares (`followups:`) and it calls for. The
        record is already stored: a rule that fails is a message for the admin, not a refusal."""
        from core.followups import create_for

        created, problems = create_for(self, form_id, record, record.get("operator") or "")
        self.registry.problems.extend(problems)
        return created

    def followups(self, **filters):
        """Follow-ups with their state on a day (`core.followups.items`: as_of, town, village,
        level, person, kinds, open_only, overdue)."""
        from core.followups import items

        return items(self, **filters)

    def followup_level(self) -> str:
        """村委会 / 街镇 whose follow-ups are this operator's (account role, else the setting)."""
        from core.followups import operator_level

        return operator_level(self)

    def followup_emergencies(self, town: str | None = None):
        from core.followups import emergencies

        return emergencies(self, town=town)

    def followup_close(self, followup_id: str, result: str, *, operator: str | None = None, on=None) -> dict:
        from core.followups import close

        return close(self, followup_id, result, operator=operator, on=on)

    def followup_advance(self, followup_id: str, text: str, *, operator: str | None = None, on=None) -> dict:
        from core.followups import advance

        return advance(self, followup_id, text, operator=operator, on=on)

    def followup_contact(self, followup_id: str, row: int, outcome: str, **kw) -> dict:
        from core.followups import contact

        return contact(self, followup_id, row, outcome, **kw)

    def followup_accept_risk(self, followup_id: str, *, operator: str | None = None, on=None) -> dict:
        from core.followups import accept_risk

        return accept_risk(self, followup_id, operator=operator, on=on)

    def followup_refuse_risk(self, followup_id: str, reason: str, *, operator: str | None = None, on=None) -> dict:
        from core.followups import refuse_risk

        return refuse_risk(self, followup_id, reason, operator=operator, on=on)

    def followups_sync(self, form_id: str = "visit") -> tuple[int, list[str]]:
        from core.followups import sync

        return sync(self, form_id, self.operator or "")

    # ----------------------------------------------------------------- storage (issue 14: numbering)
    def _next_number(self, form, field_id: str, prefix: str, data: dict) -> int:
        """The next sequence number after `prefix` from the village's stored counter (`Store.
        next_number`); the list rows are scanned only to seed a village that has none yet."""
        def seed() -> int:
            held = None if self.index_loaded(form.id) else self._rows_holding(form.id, field_id, prefix, prefix=True)
            rows = (held if held is not None else self.index(form.id).rows).values()
            taken = [str(row.get(field_id) or "") for row in rows]
            return max((int(t[len(prefix):]) for t in taken if t.startswith(prefix) and t[len(prefix):].isdigit()),
                       default=0)

        def taken(n: int) -> bool:
            value = form.field(field_id).autonumber.format(**{**data, "seq": n})
            return self.find_unique(form.id, field_id, value) is not None

        counter = getattr(self.store, "next_number", None)
        if counter is None:     # a backend without stored counters (PostgreSQL): count the list rows
            n = seed() + 1
            while taken(n):
                n += 1
            return n
        part = str(data.get(form.partition) or NO_PARTITION) if form.partition else NO_PARTITION
        return int(counter(form.id, part, f"{field_id}:{prefix}", seed=seed, taken=taken))

    def verify_rollups(self) -> list[str]:
        """Findings for `carebook verify`: stored rollup rows that differ from the records."""
        return [msg for form in self.record_forms() if rollup.spec_of(form) for msg in rollup.differences(self, form)]
    # ----------------------------------------------------------------- privacy (issue 14)
    # Masking at every level of a record and its history, searches that cannot spell out a
    # masked number, and an operator named in the audit log before data leaves in full.

    def _private_keys(self, form_id: str) -> tuple[str, ...]:
        """List-row keys holding ID or phone numbers: searched only as whole numbers or last
        four digits after a name (`RecordIndex._number_hits`)."""
        from core.transfer.exportform import pii_kind

        form = self.forms.get(form_id)
        return tuple(f.id for f in form.fields_flat() if pii_kind(f) in ("id", "phone")) if form else ()

    def require_operator(self, what: str) -> str:
        """The operator's name, or a Chinese refusal saying how to give one."""
        name = self.operator.strip() if isinstance(self.operator, str) else ""
        if not name:
            raise CarebookError(f"{what}需要写明操作员：请加 --operator 姓名（或在界面中填写操作员）")
        return name

    def audit_full_read(self, what: str, *, action: str = "完整查看", params: dict | None = None,
                        **details) -> None:
        """Log a read or export of personal data in full; raises (and nothing is shown) when no
        operator is known or the log cannot be written."""
        self.require_operator("查看或导出完整的个人信息")
        if self.readonly:
            raise CarebookError("台账以只读方式打开，无法记录完整查看，未显示完整的个人信息")
        self._audit({"action": action, "what": what, "full": True, **details,
                     "params": {k: str(v) for k, v in (params or {}).items() if v not in (None, "")}})

    def masked(self, record: dict) -> dict:
        """`record` with every personal value masked, repeat groups included."""
        from core.records.masking import mask_data

        form = self._form_or_current(record["form"], record.get("version"))
        return {**record, "data": mask_data(form.top_fields(), record.get("data") or {})}

    def masked_history(self, record_id: str) -> list[dict]:
        """`history(record_id)` with the old and new value of every change masked."""
        from core.records.masking import mask_history

        from core.lifecycle.retired import former_fields

        entries = self.history(record_id)
        older: dict = {}
        for form_id in {str(h.get("form") or "") for h in entries}:
            older[form_id] = former_fields(self, form_id, self.get(record_id)) if form_id in self.forms.forms else {}
        return [mask_history(self._form_or_current(str(h.get("form") or ""), h.get("version")), [h],
                             older.get(str(h.get("form") or "")))[0] for h in entries]

    def _form_or_current(self, form_id: str, version: Any):
        try:
            return self.form(form_id, int(version) if version is not None else None)
        except (CarebookError, TypeError, ValueError):
            return self.form(form_id)
    # ----------------------------------------------------------------- office sheets (issue 15)
    def import_mapping(self, form_id: str, paths, *, fixed: dict[str, str] | None = None, mapping=None):
        """The column mapping an import of `paths` would use (`core.transfer.importmap.ColumnMap`),
        for the admin to review and save before importing."""
        from core.transfer.importing import propose_mapping

        return propose_mapping(self, form_id, paths, fixed=fixed, mapping=mapping)

    def incomplete(self, form_id: str, ids: Iterable[str] | None = None) -> list[dict]:
        """Records still 待补全 (all, or those of `ids`), each with what it lacks
        (`core.records.incomplete`)."""
        return incomplete.incomplete_records(self, form_id, ids)

    # ----------------------------------------------------------------- plugin contract (issue 12)
    @property
    def divisions(self) -> Any:
        """The town/village list of the engine's forms folder (re-read when the admin edits it);
        registered by a plugin (`register_data`) for this engine alone."""
        return self.data("divisions")

    def data(self, name: str) -> Any:
        """A data set a plugin registered for this engine (`register_data`), as it is now."""
        get = self.registry.data.get(name)
        if get is None:
            raise CarebookError(f"没有插件提供数据 “{name}”（运行 carebook plugins list 查看插件）")
        return get()

    def plugin_problems(self) -> list[str]:
        """Everything wrong with the plugins, for `plugins list` and the admin corner: loading,
        registering, misspelled hooks, and `extend_form` answers for every form and town."""
        try:
            towns = [t.code for t in self.divisions.towns()]
        except CarebookError:
            towns = []                  # the division file's problems are reported on their own
        return list(self.registry.problems) + hookcalls.check_extensions(self.plugin_set, self.forms, towns)

    def _display_validator(self, form_id: str, town: str | None) -> Validator:
        """The town's validator for showing computed values; without a broken plugin's
        additions so the form still opens — `check` (and so every save) reports the plugin."""
        try:
            return self.validator(form_id, town=town)
        except PluginFailed:
            return self.validator(form_id)

    # The UI's ways in (issue 12): `tui/` reaches the engine only through this facade and the
    # public `carebook` package (tests/test_tui_boundary.py), so these small doors live here.
    @staticmethod
    def demo_folder() -> Path:
        """The per-user demo ledger's folder (`CAREBOOK_DEMO_DATA` or the user data folder)."""
        return paths.demo_data_dir()

    @property
    def is_demo(self) -> bool:
        """True for a demo ledger (its folder carries the marker every screen reads)."""
        return paths.is_demo(self.data_dir)

    def fill_demo(self, persons: int = 300, **kw: Any) -> dict[str, int]:
        """Fill this ledger with made-up people and their visits and mark it a demo ledger."""
        from core.transfer import demo

        counts = demo.generate(self, persons=persons, **kw)
        paths.mark_demo(self.data_dir)
        return counts

    def _refuse_data_plugins(self) -> None:
        """Say so when a ledger still has a `plugins/` folder: it is not read any more."""
        folder = self.data_dir / "plugins"
        if folder.is_dir() and any(folder.glob("*.py")):
            self.plugin_set.problems.append(
                f"台账目录中的插件文件夹 {folder} 不会被加载（任何能写入台账的人都能放入代码）；"
                f"请把插件放到由环境变量 {DIR_ENV} 指定的文件夹")


    # ----------------------------------------------------------------- server ledgers (issue 11)
    @classmethod
    def _open_server(cls, url: str, forms_dir: Path | str | None, **kw) -> "Engine":
        """A ledger on PostgreSQL: records on the server, drafts and settings on this desk;
        an operator login's own name goes into history (the server stamps it too)."""
        from core.storage.pgstore import PgStore

        store = PgStore(url, readonly=kw.get("readonly", False))
        if store.role != "owner" or not kw.get("operator"):
            kw["operator"] = store.operator_name
        from core.storage import pgforms

        try:
            engine = cls(paths.desk_dir(url), Path(forms_dir) if forms_dir else None, store=store, **kw)
        except BaseException:
            store.close()
            raise
        try:
            pgforms.sync(engine)           # every desk on the same form versions
        except BaseException:
            engine.close()
            raise
        return engine

    def fetch_changes(self) -> dict[str, dict[str, dict]]:
        """{form: {id: list row}} other desks saved since the lists were loaded (a server
        ledger; a folder has one writer, so nothing). Safe in a worker thread: it only reads."""
        changes = getattr(self.store, "changes", None)
        return {} if changes is None else {fid: changes(fid) for fid in list(self._indexes)}

    def apply_changes(self, found: dict[str, dict[str, dict]]) -> bool:
        """Put fetched rows into the loaded lists (on the thread that reads them); True when
        any differed, so counts and due lists are redrawn."""
        changed = False
        for fid, rows in found.items():
            idx = self._indexes.get(fid)
            for rid, row in rows.items():
                if idx is not None and idx.rows.get(rid) != row:
                    idx.put(rid, row)
                    changed = True
        return changed


    # ----------------------------------------------------------------- form lifecycle (issue 10)
    # Thin entries into core.lifecycle: published/last-good form sets, values of deleted fields.

    def _staff_forms_dir(self, forms_dir: Path | None) -> Path:
        from core.lifecycle.publish import staff_forms_dir

        return staff_forms_dir(self.data_dir, Path(forms_dir) if forms_dir else None)

    def _guard_forms(self) -> None:
        from core.lifecycle.publish import guard

        guard(self)

    def _retired_values(self, form_id: str, data: dict, old: dict | None, at: str) -> dict:
        """Values of fields the form no longer has, carried over from `old` (never erased)."""
        if old is None:               # a new record carries nothing (asked 360,000 times by a demo)
            return {}
        from core.lifecycle.retired import carry

        try:
            old_form = self.form(form_id, old["version"]) if old else None
        except CarebookError:
            old_form = None
        return carry(self.validator(form_id, town=data.get("town")).form, old, data, at, old_form)

    def check_against_data(self) -> list[Problem]:
        """The forms as loaded against the stored records: values still in use that the forms
        no longer have, changes without a version bump (`core.lifecycle.datacheck`)."""
        from core.lifecycle.datacheck import check

        return check(self)

    def unusable(self) -> str | None:
        """Why this ledger cannot be worked on at all (a broken division file and nothing
        published to fall back to), in Chinese; None when it can (`core.lifecycle.publish`)."""
        from core.lifecycle.publish import unusable

        return unusable(self)

    def refresh_due(self) -> bool:
        """Whether `refresh_for_today` has a day's recompute to make now (`core.lifecycle.reevaluate`)."""
        from core.lifecycle.reevaluate import due_today

        return due_today(self)

    def recompute_day_apart(self, reopen: Callable[[], "Engine"]) -> "Engine":
        """The day's recompute made by a forked copy where it may be, so its memory never joins
        the staff screen's (`core.lifecycle.dayapart`): this engine (nothing due, or no fork),
        or a new one from `reopen()` with this one closed. Call `refresh_for_today` on the
        engine returned either way."""
        from core.lifecycle.dayapart import recompute_apart

        return recompute_apart(self, reopen)

    def refresh_for_today(self):
        """Computed values that depend on the date (age, 高龄, risk) recomputed with history on
        the first writer open of a new day; None when already done (`core.lifecycle.reevaluate`)."""
        from core.lifecycle.reevaluate import refresh_for_today

        return refresh_for_today(self)

    # ----------------------------------------------------------------- one record, any ledger size (issue 13)
    def _rows_holding(self, form_id: str, field: str, value: str, *, prefix: bool = False) -> dict | None:
        """The list rows holding `value` in `field` (or starting with it) when the store can find
        them without loading the form's rows (`Store.rows_holding`); None when it cannot. A save
        from the command line then costs the same at 50,000 people as at 1,000."""
        find = getattr(self.store, "rows_holding", None)
        return None if find is None else find(form_id, field, value, prefix=prefix)

    def _plain_page(self, form_id: str, offset: int, limit: int) -> Page | None:
        """A page of the list in its plain order (village, then name) and the total, reading
        only the villages the page falls in (`Store.row_counts`, `Store.partition_rows`): the
        rows and order `RecordIndex.query` gives, for `carebook records list` at any ledger
        size. None when the store cannot count without loading."""
        counts = getattr(self.store, "row_counts", None)         # the folder store's, not the contract's
        partition_rows = getattr(self.store, "partition_rows", None)
        if counts is None or partition_rows is None:
            return None
        per_village = counts(form_id)
        rows: list[dict] = []
        seen = 0
        for p, n in per_village.items():
            if seen + n > offset and len(rows) < limit:
                part = partition_rows(form_id, p)
                order = sorted(part, key=lambda rid: part[rid].get(SEARCH_KEY, ""))
                start = max(0, offset - seen)
                rows += [{"id": rid, **part[rid]} for rid in order[start:start + limit - len(rows)]]
            seen += n
        return Page(rows, seen, offset, limit)

    # ----------------------------------------------------------------- report columns (issue 13: summary, due lists)
    def columns(self, form_id: str, fields: Iterable[str]) -> dict[str, list] | None:
        """{field: one value per record} from the report column cache beside the ledger
        (`core.reporting.columncache`), without reading the form's list rows; None when the
        cache cannot answer (then read `index(form_id).rows`)."""
        from core.reporting import columncache

        got = columncache.columns(self, form_id, fields)
        return None if got is None else got.cols

    # ----------------------------------------------------------------- bulk saves (issue 13: demo at 50,000 people)
    def _bulk_ref_row(self, ref_form: str | None, ref_id: str, fields: Iterable[str]) -> dict | None:
        """`{"data": list row}` of a referenced record when its form's list rows are loaded and
        the row holds every one of `fields` (a visit copies the person's name, file number,
        town and village, all list fields): what `_copy_from_refs` reads, without reading and
        copying the person's whole record. A row leaves out lists and groups, so a field
        holding one is missing and the record is read instead."""
        if not ref_form or ref_form not in self._indexes:
            return None
        row = self._indexes[ref_form].rows.get(ref_id)
        if row is None or not all(k in row for k in fields):
            return None
        return {"data": row}

    def _bulk_tracked(self, form) -> bool:
        """Whether a bulk save keeps `form`'s list rows in memory record by record: when they
        are loaded, or a unique or numbered field must see the records saved before."""
        return form.id in self._indexes or any(f.unique or f.autonumber for f in form.top_fields())

    def _check_row(self, form, record: dict) -> dict:
        """What checking another record reads of this one's list row, for an engine that only
        checks (a forked checker's copy, `core.transfer.bulkfork`): the unique and numbered
        fields (duplicates, numbering), the fields forms copy from this one (a visit's name,
        file number, town and village) and the partition — a sixth of a registration's row
        (~70 MB less at 50,000 people). The whole row (without its pinyin) while a plugin's
        per-record hook runs: a plugin may read any field of the rows."""
        if self._hook_in_use("validate_record") or self._hook_in_use("before_save"):
            return self._index_row(form, record, search=False)

        def fields() -> tuple[str, ...]:
            keep = {f.id for f in form.top_fields() if f.unique or f.autonumber}
            for other in self.record_forms():
                for _, target, mapping in _ref_fields(other):
                    if target == form.id and mapping:
                        keep.update(mapping.values())
            return tuple(sorted(keep))

        data = record["data"]
        return {k: data.get(k) for k in once_per_form(form, "_check_row_fields", fields)} | {"_p": record["partition"]}

    @contextlib.contextmanager
    def _bulk_rows_from_store(self, form_id: str, wanted: bool) -> Iterator[None]:
        """While `wanted`: the store's rows of `form_id` held in memory from the start (so it
        keeps every row it commits), and this engine's index of the form let go at the end
        (also after a failure: it would lack what was committed), to be made from them again."""
        if not wanted:
            yield
            return
        self.index(form_id)
        try:
            yield
        finally:
            self._indexes.pop(form_id, None)

    @contextlib.contextmanager
    def _bulk_session(self) -> Iterator[None]:
        """What a bulk save holds while it runs: referenced records read once (not per record),
        the plugin hooks nobody implements skipped, and no automatic garbage collection —
        records are trees of dicts without cycles, and the collections their allocations set
        off walked a 50,000-person heap thousands of times (8 % of a 1,000-person demo, 7 %
        more at 50,000); `bulk_save` collects once a batch instead."""
        held = self._bulk_refs
        self._bulk_refs = {}
        try:
            with self.checking_in_bulk(), collector_paused():
                yield
        finally:
            self._bulk_refs = held

    def _bulk_written(self) -> None:
        """Wait until the store has written the last batch into its files (a `Store` writes
        each batch's files behind the next batch's preparation: `Store.put_many`)."""
        wait = getattr(self.store, "wait_for_writes", None)
        if wait is not None:
            wait()

    def _hook_in_use(self, name: str) -> bool:
        """Whether a save must call the plugins' `name` hook: always, except during a bulk
        save when no plugin implements it (asked once per bulk save: calling no implementation
        cost a 50,000-person demo some five seconds)."""
        held = self._bulk_hooks
        return True if held is None else held.get(name, True)

    # ----------------------------------------------------------------- the day's backup in the staff UI (issue 13, ui)
    def backup_running(self) -> bool:
        """Whether the day's backup, made beside the command since the ledger opened, is still
        being made: a save now waits for it (`wait_for_backup`), so the UI says why."""
        running = getattr(self.store, "backup_running", None)
        return bool(running is not None and running())

    def start_backup(self) -> bool:
        """A backup again, beside the program, for one left open for days, when the newest is
        a day old (`Store.start_backup`); whether one was started (never for a store without
        backups of its own, e.g. the server)."""
        start = getattr(self.store, "start_backup", None)
        return bool(start is not None and start())

    def backup_problems(self) -> list[str]:
        """Why the day's backup failed (also among `problems`), for the UI to show when known."""
        return [p.message for p in getattr(self.store, "problems", ()) if p.rule == "storage.backup"]

    # ----------------------------------------------------------------- checks in a row (issue 13, the import check)
    def checking_in_bulk(self) -> Any:
        """A block of many `check` calls (an import check: 50,000): the per-record hooks no
        plugin implements are not called, as in `bulk_save` (asking pluggy for none was 2 % of
        an import check). `core.records.bulkcheck.hooks_once`."""
        from core.records.bulkcheck import hooks_once

        return hooks_once(self, BULK_HOOKS)


def _refuse_stale(current: dict) -> None:
    from core.storage.contract import EditConflict

    raise EditConflict(f"这条记录在您打开之后已被 {current.get('operator') or '他人'} 于 "
                       f"{str(current.get('updated') or '不详').replace('T', ' ')[:19]} 修改，您的修改未保存"
                       "（输入的内容仍在表单和草稿中）。请返回重新打开后再改。")


# Names the terminal UI uses beside `Engine`. `tui/` imports only `core.engine` and `carebook`
# (tests/test_tui_boundary.py), so the few helpers it shares with the engine are handed out
# here — each module imported when the name is first asked for, keeping start-up light.
UI_NAMES = {
    "pii_kind": "core.transfer.exportform",        # how a field is masked: one rule everywhere
    "clerk_problem": "core.records.wording",       # a problem in a clerk's words
    "plain": "core.records.wording",
    "pinyin_initials": "core.records.recordindex",  # the search key of a name
    "children_of": "core.followups.tracking",
    "LEVEL_SETTING": "core.followups.tracking",     # the ledger setting naming the operator's level
    "ROLE_LEVELS": "core.followups.tracking",
    "mapping_path": "core.transfer.importing",     # an office sheet's saved column mapping
    "parse_fixed": "core.transfer.importmap",
    "check_output": "core.storage.outputs",        # where an export may not go (the data folder)
    "describe_error": "core.oserrors",             # any error in Chinese words, for a notice
}


def __getattr__(name: str) -> Any:
    module = UI_NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'core.engine' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


def _new_id() -> str:
    """`str(uuid.uuid4())`, spelled out without building a `UUID` (half the time, 360,000 times
    in a 50,000-person demo): 16 random bytes with the version (4) and variant bits set. The
    bytes come from `os.urandom` as uuid4's do, 256 ids' worth a call (a system call here cost
    as much as the rest of the id); a forked process starts with none of its parent's."""
    if not _RANDOM_IDS:
        block = os.urandom(16 * 256)
        _RANDOM_IDS.extend(block[i:i + 16] for i in range(0, len(block), 16))
    raw = bytearray(_RANDOM_IDS.pop())
    raw[6] = raw[6] & 0x0F | 0x40
    raw[8] = raw[8] & 0x3F | 0x80
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_RANDOM_IDS: list[bytes] = []
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_RANDOM_IDS.clear)


def _autonumber_fields(form) -> list[Any]:
    """The form's `autonumber` fields, worked out once per form (as `_ref_fields`)."""
    return once_per_form(form, "_autonumber_fields", lambda: [f for f in form.top_fields() if f.autonumber])


def _ref_fields(form) -> list[tuple[Any, str | None, dict | None]]:
    """(field, form it refers to, its `copy` mapping) of the form's `record-ref` fields, worked
    out once per form: every save walked all the form's fields twice for them
    (`_copy_from_refs`, `_dangling_refs`), 360,000 saves in a 50,000-person demo."""
    return once_per_form(form, "_ref_fields", lambda: [
        (f, f.options.get("form"), f.options.get("copy") or None) for f in form.top_fields()
        if f.type == "record-ref"])


def _template_names(template: str) -> list[str]:
    """The field ids a `{village}-...` template refers to."""
    import string

    return [name for _, name, _, _ in string.Formatter().parse(template) if name]
