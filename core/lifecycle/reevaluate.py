"""Computed fields recomputed under the current forms and today's date, with history.

A stored risk level is what the rules said on the day the record was saved. When an admin
changes a threshold, or a person turns 80, the stored value is stale until someone re-saves the
record. `run` recomputes every computed field (`calculate`, `cases`) of every record — staff
overrides kept, autonumbers and `initial` values untouched — and reports the changes as
"风险等级 中→高：17 人"; with `apply` it writes them, one history entry per changed record,
one atomic write per village file. Rules are evaluated too and their failures counted, since a
changed rule can make stored records wrong without changing any value.

`refresh_for_today` runs it once per calendar day (the first writer to open the ledger that
day), so values that depend on today's date are never shown stale.

Reading and evaluating 50,000 full records takes many seconds, and on most days almost none of
them can have changed. So a run that applied leaves a marker (`<data>/lifecycle/evaluated.json`:
its day and time, a digest of each town's form and the rule failures it found) and the next run
evaluates only what the marker does not cover (`_Plan`): records saved since are evaluated
whole; under a changed form only what the change reaches (`core.lifecycle.fielddeps`), and for
someone whose date probe (`core.lifecycle.dateprobes`, e.g. a birthday) moved since that day
only what holds that probe — their age and what reads it. A dry run decides most of those from
the in-memory list rows (`core.lifecycle.rowonly`), the rest with the values their rows lack,
kept beside the ledger (`core.lifecycle.keptvalues`), and reads what is left; the result is
the same as evaluating every record, and `tests/test_reevaluate_incremental.py`,
`tests/test_reevaluate_fields.py` and `tests/test_reevaluate_kept.py` hold the two equal.

Each record is refreshed in the computed fields of its own town's form, a town overlay's
included (`_TownFields`).
"""
from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import json
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from weakref import WeakKeyDictionary
from pathlib import Path
from typing import Any, Callable

from core.formlang.calcdeps import names_read
from core.lifecycle.fielddeps import Partial, fingerprints
from core.lifecycle.villagereads import village_records
from core.problems import CarebookError

MARKER = Path("lifecycle") / "evaluated.json"


@dataclass
class Result:
    records: int = 0
    changed: int = 0
    changes: Counter = field(default_factory=Counter)        # (form, label, old, new) -> people
    rule_failures: Counter = field(default_factory=Counter)  # (form, rule id, message) -> people
    samples: dict = field(default_factory=dict)              # (form, label, old, new) -> [record ids]
    applied: bool = False
    kept_theirs: int = 0     # records another desk saved while the run read them: left as saved

    def table(self) -> list[str]:
        """'风险等级 中→高：17 人' lines, largest first."""
        def show(v):
            return "（空）" if v in (None, "") else str(v)
        return [f"{label} {show(a)}→{show(b)}：{n} 人" for (_, label, a, b), n in
                sorted(self.changes.items(), key=lambda kv: (-kv[1], str(kv[0])))]


def _computed_forms(engine, only: str | None) -> list:
    """The forms with something to recompute: computed fields of their own, a town overlay
    (which may add some for its towns' records), or computed fields a plugin adds."""
    forms = [engine.form(only)] if only else list(engine.record_forms())
    return [f for f in forms if any(x.computed for x in f.top_fields()) or engine.forms.overlays_for(f.id)
            or _plugin_computes(engine, f.id)]


def _plugin_computes(engine, form_id: str) -> bool:
    """Whether a plugin's `extend_form` gives some town's records of `form_id` a computed field
    (asked for each town of the division list, as `carebook plugins list` asks): the form file
    and the overlays may compute nothing. No plugin implementing the hook: asked of nobody."""
    if not engine.plugin_set.impls("extend_form"):
        return False
    try:
        towns = [t.code for t in engine.divisions.towns()]
    except CarebookError:
        return False
    for town in towns:
        try:
            if refreshed(engine.validator(form_id, town=town).form):
                return True
        except CarebookError:          # a broken plugin: reported by the run and `plugins list`
            continue
    return False


def refreshed(form) -> list:
    """The computed fields a re-evaluation refreshes, in form order. `calculate: today` is the
    day the record was saved (最近更新日期), not a value to refresh."""
    return [f for f in form.top_fields() if f.computed and (f.calculate or "").strip() != "today"]


class _TownFields:
    """Per town, the computed fields its records are refreshed in: the form's own and those a
    town overlay adds (太平镇's 下一个生日的岁数), so a town's own values are recomputed, shown
    in the table and written like the others."""

    def __init__(self, engine, form):
        self.engine, self.form = engine, form
        self.held: dict[str, tuple[list, frozenset]] = {}

    def __call__(self, town) -> tuple[list, frozenset]:
        key = town or ""
        found = self.held.get(key)
        if found is None:
            fields = refreshed(self.engine.validator(self.form.id, town=town).form)
            found = self.held[key] = (fields, frozenset(f.id for f in fields))
        return found


def digest(form) -> str:
    """Hash of everything a form computes with (fields, cases, rules, settings, lists inlined)."""
    found = form.__dict__.get("_reevaluate_digest")
    if found is None:
        found = form.__dict__["_reevaluate_digest"] = hashlib.sha256(_text(form).encode("utf-8")).hexdigest()
    return found


def _text(form) -> str:
    found = form.__dict__.get("_reevaluate_text")
    if found is None:
        found = form.__dict__["_reevaluate_text"] = form.snapshot_text()
    return found


class _Plan:
    """Which records of one form need evaluating, from the list rows alone.

    A record needs no evaluation when the last re-evaluation (the marker: its day, its time, the
    digest of each town's form it ran and the rule failures it found) covered it — saved at or
    before that run, under a form with the same digest — and none of its date probes
    (`core.lifecycle.dateprobes`) moved between that day and today. Its stored values are then
    what an evaluation would give, and its rule failures are the ones the marker kept."""

    def __init__(self, engine, form, mark: dict | None, rules: bool, today):
        self.engine, self.form, self.today = engine, form, today
        self.mark = mark if isinstance(mark, dict) else {}
        self.usable = bool(self.mark) and (not rules or isinstance(self.mark.get("failures"), dict))
        self.at = _when(self.mark.get("at")) if self.usable else None
        try:
            self.before = dt.date.fromisoformat(self.mark.get("date", ""))
        except (TypeError, ValueError):
            self.usable = False
        self.digests: dict = {}
        self.runners: dict = {}
        self.partials: dict = {}
        self.rows_only: dict = {}
        self.old_validators: dict = {}
        self.args: dict | None = None     # the last row's probe arguments and values
        self.probes: dict | None = None   # (`ProbeRunner.moved`)

    def digest_of(self, town) -> str:
        key = town or ""
        if key not in self.digests:
            self.digests[key] = digest(self.engine.validator(self.form.id, town=town).form)
        return self.digests[key]

    def kept(self) -> dict:
        """What the marker keeps of each town's form: its digest, its fields' and rules'
        fingerprints and its text (worked out only for an applied run, which writes them)."""
        parts, texts = {}, {}
        for key in self.digests:
            form = self.engine.validator(self.form.id, town=key or None).form
            parts[key] = fingerprints(form)
            texts[self.digests[key]] = _text(form)
        return {"digests": self.digests, "parts": parts, "texts": texts}

    def row_only(self, town, partial: Partial):
        """`core.lifecycle.rowonly` for this town's change (and this person's moved probes), when
        the marker keeps the form it ran and the overrides; None otherwise."""
        key = id(partial)       # partials are kept (`partial`): an id stays theirs
        if key not in self.rows_only:
            from core.lifecycle.rowonly import RowOnly

            found = None
            text = (self.mark.get("texts") or {}).get((self.mark.get("digests") or {}).get(town or ""))
            overrides = self.mark.get("overrides")
            if isinstance(text, str) and isinstance(overrides, dict) and not partial.rules:
                if text not in self.old_validators:      # towns without an overlay share one form
                    self.old_validators[text] = _old_validator(self.engine, text, self.before)
                found = RowOnly(partial, self.old_validators[text], overrides)
            self.rows_only[key] = found if found is not None and found.usable else None
        return self.rows_only[key]

    def partial(self, town, moved: tuple = (), whole: bool = False) -> Partial | None:
        """What changed since the marker in this town's form (when the marker says, see
        `core.lifecycle.fielddeps`), and what holds the date probes that `moved` for a person;
        None: evaluate the record whole. `whole`: the form is the one the marker ran."""
        moved = frozenset(moved)
        key = (town or "", moved)
        if key not in self.partials:
            # towns whose forms now and at the marker's run are the same share one
            shared = (self.digest_of(town), (self.mark.get("digests") or {}).get(town or ""), whole, moved)
            if shared not in self.partials:
                v = self.engine.validator(self.form.id, town=town)
                old = fingerprints(v.form) if whole else (self.mark.get("parts") or {}).get(town or "")
                found = Partial(v, old, moved) if isinstance(old, dict) else None
                self.partials[shared] = found if found is not None and found.usable else None
            self.partials[key] = self.partials[shared]
        return self.partials[key]

    def _runner(self, town, row: dict):
        """The date probes of this town's form over rows like `row` (the town's first); towns
        whose forms are the same (the same digest) share one, and its memo of birth dates."""
        from core.lifecycle.dateprobes import ProbeRunner, probes

        key = town or ""
        if key not in self.runners:
            shared = (self.digest_of(town), frozenset(row))
            if shared not in self.runners:
                v = self.engine.validator(self.form.id, town=town)
                found = probes(v.form, self.engine.evaluator._globals, set(row))
                self.runners[shared] = None if found is None else ProbeRunner(v, found)
            self.runners[key] = self.runners[shared]
        return self.runners[key]

    def any_changed(self) -> bool:
        """Whether the marker is usable and some town's form is not the one its run used: a
        change the rows may not decide alone (`keptvalues` then wants the values they lack)."""
        return self.usable and any(self.changed_form(town or None) for town in self.mark.get("digests") or {})

    def changed_form(self, town) -> bool:
        """Whether this town's form is not the one the marker's run used."""
        return (self.mark.get("digests") or {}).get(town or "") != self.digest_of(town)

    def saved_before(self, row: dict) -> bool:
        """Whether the record was last saved before the marker's run ended — its own writes
        included: the store's save times (to the nanosecond, `Store.last_save_time`) tell
        them from a save in the same second after it, which `updated` (to the second) cannot;
        without them, a save in the marker's second counts as since."""
        t, until = row.get("_t"), self.mark.get("t")
        if isinstance(t, int) and isinstance(until, int):
            return t <= until
        when = _when(row.get("_u"))
        return when is not None and when < self.at

    def covered(self, row: dict) -> bool | Partial:
        """True: the marker covers the record whole; a `Partial`: it covers all but what a form
        change since reaches; False: evaluate it whole."""
        if not self.usable or self.at is None:
            return False
        if not self.saved_before(row):
            return False
        town = row.get("town")
        whole = (self.mark.get("digests") or {}).get(town or "") == self.digest_of(town)
        part = None if whole else self.partial(town)
        if not whole and part is None:
            return False
        self.args = self.probes = None
        if self.before != self.today:
            runner = self._runner(town, row)
            if runner is None:
                return False
            moved = runner.moved(row, self.before, self.today)
            self.args, self.probes = runner.args, runner.values
            if moved:                  # a birthday: its age and what reads it, as if changed
                return self.partial(town, moved, whole) or False
        return True if whole else part


def _old_validator(engine, text: str, day):
    """A validator of the form the marker's run used (its snapshot) on the day it ran (`day`),
    or None when it no longer loads (a plugin gone): then records are read."""
    from core.formlang.formload import compile_form_text
    from core.records.validation import Validator

    try:
        form = compile_form_text(text, engine.registry)
    except Exception:  # noqa: BLE001 - any failure means "read the records", never a wrong answer
        return None
    return Validator(form, engine.registry, engine.evaluator, today=lambda: day)


def _when(text) -> dt.datetime | None:
    try:
        when = dt.datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo else when.astimezone()


def run(engine, form_id: str | None = None, *, apply: bool = False, operator: str = "",
        rules: bool = True, progress: Callable[[str], None] | None = None, keep: bool = True) -> Result:
    """Re-evaluate (`apply`: and write, with history). `keep`: an applied run keeps the values
    the rows lack from the villages it reads (`_keep_written`); the day's first open leaves that
    to `keep_after_open`, after the staff screen is up."""
    aheads: list = []           # forked copies reading villages for a dry run (`keptahead`)
    try:
        return _run(engine, form_id, apply, operator, rules, progress, keep, aheads)
    finally:
        for ahead in aheads:
            ahead.stop()


def _run(engine, form_id: str | None, apply: bool, operator: str, rules: bool,
         progress: Callable[[str], None] | None, keep: bool, aheads: list) -> Result:
    from core.engine import field_diff, now_iso
    from core.lifecycle import keptahead

    if apply and engine.readonly:
        raise CarebookError("台账以只读方式打开，不能保存重新计算的结果")
    result = Result()
    at = now_iso()
    today = engine.today()
    marks = _marks(engine)
    for form in _computed_forms(engine, form_id):
        computed_in = _TownFields(engine, form)
        plan = _Plan(engine, form, marks.get(form.id), rules, today)
        # a dry run after a form change: the villages whose values are not kept are read by a
        # forked copy while the rows are walked below
        ahead = keptahead.start(engine, form) if not apply and plan.any_changed() else None
        if ahead is not None:
            aheads.append(ahead)
        failures: dict[str, list] = {}
        kept = plan.mark.get("failures") or {}
        overridden: dict[str, list] = {}
        kept_overrides = plan.mark.get("overrides") or {}

        def count(rid, diffs):
            result.changed += 1
            for f, a, b in diffs:
                key = (form.id, f.label, a, b)
                result.changes[key] += 1
                got = result.samples.setdefault(key, [])
                if len(got) < 3 or rid < got[-1]:
                    bisect.insort(got, rid)     # the three first ids: the same whatever
                    del got[3:]                 # order the records were read in

        def settle(rid, row, how, decided):
            """A record covered by the marker (`how` True or a Partial with nothing to do) or
            decided from its row: the kept failures and overrides, and what changes."""
            found = kept.get(rid, ()) if how is True else how.failures({}, kept.get(rid, ()))
            for rule, message in found:
                result.rule_failures[(form.id, rule, message)] += 1
                failures.setdefault(rid, []).append([rule, message])
            if rid in kept_overrides:
                overridden[rid] = kept_overrides[rid]
            shown = computed_in(row.get("town"))[1]
            diffs = [(f, a, b) for f, a, b in decided or () if a != b and f.id in shown]
            if diffs:
                count(rid, diffs)

        def settled(rid, row, how, decided) -> bool:
            """Whether the record is done without reading it: decided from its row (and kept
            values) with nothing to write — an applied run reads and writes what changes."""
            if decided is None or (apply and any(a != b and f.id in computed_in(row.get("town"))[1]
                                                 for f, a, b in decided)):
                return False
            settle(rid, row, how, decided)
            return True

        rows = engine.index(form.id).rows
        needed: dict[str, dict] = {}     # village -> {record id: its Partial, or None: whole}
        retry: dict[str, tuple] = {}     # record id -> what `keptvalues.decided` needs
        for rid, row in rows.items():
            result.records += 1
            how = plan.covered(row)
            decided = row_only = None
            if how is not True and how and not how.nothing and (not apply or plan.changed_form(row.get("town"))):
                # an applied run on a new day without a form change reads its birthday people
                # anyway (their age changes): the rows decide nothing for it
                row_only = plan.row_only(row.get("town"), how)
                decided = row_only.decide(rid, row, plan.args, plan.probes) if row_only is not None else None
            if how is True or (how and how.nothing):
                settle(rid, row, how, decided)
                continue
            if settled(rid, row, how, decided):
                continue
            if decided is not None:      # an applied run writes the change: the record is read
                row_only = None
            part = str(row.get("_p") or row.get(form.partition or "") or "")
            if row_only is not None:     # the row lacks values: those kept beside the ledger may do
                retry[rid] = (part, row, how, row_only, plan.args, plan.probes)
            else:
                needed.setdefault(part, {})[rid] = how or None
        if retry:
            from core.lifecycle.keptvalues import decided as from_kept

            if ahead is not None:
                ahead.wait()

            for rid, decided in from_kept(engine, form, retry, read_missing=not apply):
                part, row, how = retry[rid][:3]
                if not settled(rid, row, how, decided):
                    needed.setdefault(part, {})[rid] = how
        if ahead is not None:
            ahead.stop()                 # not needed (nothing left to decide with kept values)
        kept_spec = _keep_written(engine, form) if apply and keep else None
        validators: dict = {}
        few = result.records / max(1, len(engine.store.partitions(form.id))) / 4 if needed else 0
        for part in sorted(needed):
            items = []
            read_as: dict[str, dict] = {}         # each record changed, as read (the server's check)
            wanted = needed[part]
            # an applied run keeps the values the rows lack from what it reads (`_keep_written`)
            seen: list | None = [] if kept_spec is not None else None
            key = engine.store.files_key(form.id, part) if kept_spec is not None else None
            for rec in village_records(engine, form.id, part, wanted, one_by_one=len(wanted) < few, seen=seen):
                data = rec.get("data") or {}
                meta = rec.get("meta") or {}
                part_of = wanted.get(rec["id"])
                if part_of is not None:          # only what the form change reaches
                    new, reasons = part_of.compute(data, meta.get("overrides"))
                    found = part_of.failures(new, kept.get(rec["id"], ())) if rules else ()
                else:
                    town = data.get("town")
                    plan_v = validators.get(town)
                    if plan_v is None:
                        v = engine.validator(form.id, town=town)
                        plan_v = validators[town] = (v, *names_read(v.form))
                        plan.digest_of(town)
                    v, reads, rule_reads = plan_v
                    new, reasons = v.compute(data, overrides=meta.get("overrides"), only=reads)
                    # a rule marking two fields fails once for the person, not twice
                    found = dict.fromkeys((p.rule, p.message) for p in v._rules(new, rule_reads)) if rules else ()
                diffs = [(f, data.get(f.id), new.get(f.id)) for f in computed_in(data.get("town"))[0]
                         if data.get(f.id) != new.get(f.id)]
                for rule, message in found:
                    result.rule_failures[(form.id, rule, message)] += 1
                    failures.setdefault(rec["id"], []).append([rule, message])
                staff = [k for k, ov in (meta.get("overrides") or {}).items()
                         if isinstance(ov, dict) and str(ov.get("reason") or "").strip()]
                if staff:
                    overridden[rec["id"]] = staff
                if not diffs:
                    continue
                count(rec["id"], diffs)
                if apply:
                    fixed = dict(data)
                    for f, _, b in diffs:
                        if b is None:
                            fixed.pop(f.id, None)
                        else:
                            fixed[f.id] = b
                    out = {**rec, "data": fixed, "updated": at, "operator": operator or engine.operator or "",
                           "meta": {**meta, "reasons": {**(meta.get("reasons") or {}), **reasons}}}
                    entry = {"id": rec["id"], "at": at, "operator": out["operator"], "form": form.id,
                             "version": rec.get("version"), "action": "重新计算",
                             "changes": field_diff(data, fixed), "reasons": [], "overrides": {},
                             "note": f"按当前表单和 {today.isoformat()} 的日期重新计算"}
                    items.append((out, engine._index_row(form, out), entry))
                    read_as[rec["id"]] = rec
            if items:     # its values the rows lack kept as written (`_keep_written`)
                checked = getattr(engine.store, "put_many_unchanged", None)
                if checked is not None:     # the server: another desk may have saved one meanwhile
                    written = checked(form.id, items, read_as)
                    result.kept_theirs += len(items) - len(written)
                    items = [it for it in items if it[0]["id"] in written]
                else:
                    engine.store.put_many(form.id, items)
                idx = engine._indexes.get(form.id)
                if idx is not None:
                    for out, row, _ in items:
                        idx.put(out["id"], row)
            elif kept_spec is not None:
                from core.lifecycle.keptfiles import keep_read

                keep_read(engine.store, form.id, part, kept_spec, seen, key)
            if progress:
                progress(part)
        last = getattr(engine.store, "last_save_time", None)
        marks[form.id] = {"date": today.isoformat(), "at": at, **(plan.kept() if apply else {}),
                          "overrides": overridden, "failures": failures if rules else None,
                          **({"t": last()} if apply and last else {})}
    result.applied = apply
    if apply:
        _mark(engine, today.isoformat(), marks)
    return result


def _keep_written(engine, form) -> tuple | None:
    """Before an applied run writes: every village file the store writes from now on keeps the
    values a later dry run needs and the rows lack (`core.lifecycle.keptfiles`) — the day's run
    on a new day reads most villages for the birthdays anyway, so the admin's first dry run
    after a threshold change finds them kept. The spec kept under, or None (no files)."""
    from core.lifecycle.keptfiles import keep_on_write, spec_items
    from core.lifecycle.keptvalues import kept_spec

    spec = spec_items(kept_spec(engine, form))
    return spec if keep_on_write(engine.store, form.id, spec) else None


def _mark(engine, day: str, marks: dict) -> None:
    """The marker: the day of this run (`refresh_for_today` runs once a day) and, per form, what
    a later run needs to leave this run's records alone (see `_Plan`)."""
    from core.storage.atomic import write_bytes

    path = Path(engine.data_dir) / MARKER
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(path, json.dumps({"date": day, "forms": marks}, ensure_ascii=False).encode("utf-8"))


def _marks(engine) -> dict:
    try:
        found = json.loads((Path(engine.data_dir) / MARKER).read_text(encoding="utf-8")).get("forms")
    except (OSError, ValueError, AttributeError):
        return {}
    return found if isinstance(found, dict) else {}


def last_day(engine) -> str | None:
    try:
        return json.loads((Path(engine.data_dir) / MARKER).read_text(encoding="utf-8")).get("date")
    except (OSError, ValueError, AttributeError):
        return None


KEEP_AFTER = 3.0      # seconds after the day's run before the kept values are brought up to date
KEEP_PAUSE = 0.1      # between two villages read for them: the staff screen shares the store


def due_today(engine) -> bool:
    """Whether `refresh_for_today` recomputes now: a writer's first open of a new day (so the
    UI can say why its first screen takes a few seconds)."""
    return not engine.readonly and last_day(engine) != engine.today().isoformat()


DAY_OPERATOR = "系统：日期变化后重新计算"     # the day's run's history entries name it


def refresh_for_today(engine, operator: str = DAY_OPERATOR) -> Result | None:
    """Recompute once per day (a writer only); None when already done today or read-only.
    Either way the values a later dry run needs and the rows lack are then kept current in the
    background (`keep_after_open`): nothing of that is added to the run staff wait for."""
    if engine.readonly:
        return None
    if not due_today(engine):
        done = None
    else:
        done = run(engine, apply=True, operator=operator, keep=False)
    from core.lifecycle.keptfiles import keep_on_write

    for form in engine.record_forms():       # this session's saves, under the spec last kept
        keep_on_write(engine.store, form.id)  # (here, not on the thread: a save made at once is kept)
    keep_after_open(engine)
    return done


_KEEPING: WeakKeyDictionary[Any, tuple[threading.Thread, threading.Event]] = WeakKeyDictionary()   # engine -> its keeping


def keep_after_open(engine, delay: float = KEEP_AFTER, pause: float = KEEP_PAUSE) -> threading.Thread:
    """Bring every village's kept values up to date (`core.lifecycle.keptfiles.keep_current`) on
    a thread of its own, starting `delay` seconds after the day's open (the TUI's first screen is
    built meanwhile) and reading one village at a time, so the admin's first dry run after a
    threshold change reads no village whose values are current — every village, not only those
    the day's run read. Ends with the ledger's close (a closed store stops it) or when done;
    `wait_kept` makes it start now and waits for it."""
    now = threading.Event()

    def work() -> None:
        from core.forksafe import reap

        now.wait(delay)
        keeper = _ELSEWHERE.pop(engine, None)
        if keeper is not None:      # a copy of the program keeps them (`dayapart`): this
            reap(keeper)            # thread then finds every village current
        try:
            keep_all(engine, between=lambda: now.is_set() or time.sleep(pause), register=True)
        except CarebookError:       # the ledger closed meanwhile (a closed store ends it)
            pass
        except Exception as exc:  # noqa: BLE001 - a cache beside the ledger: logged, never a traceback
            from core.oserrors import describe_error

            logging.getLogger("carebook.keep").warning("后台留值失败（不影响台账，之后的试算会读记录）：%s",
                                                       describe_error(exc))

    thread = threading.Thread(target=work, name="carebook-keep-values", daemon=True)
    _KEEPING[engine] = (thread, now)
    thread.start()
    return thread


def keep_all(engine, between: Callable[[], object] | None = None, register: bool = False) -> None:
    """Every village's kept values of every computed form brought up to date
    (`keptfiles.keep_current`); `register`: and every village the store writes from now on
    (`keptfiles.keep_on_write`)."""
    from core.lifecycle.keptfiles import keep_current, keep_on_write, spec_items
    from core.lifecycle.keptvalues import kept_spec

    for form in _computed_forms(engine, None):
        spec = kept_spec(engine, form)
        if register:
            keep_on_write(engine.store, form.id, spec_items(spec))
        keep_current(engine.store, form.id, spec, between=between)


_ELSEWHERE: WeakKeyDictionary[Any, int] = WeakKeyDictionary()   # engine -> its keeper's pid


def kept_elsewhere(engine, pid: int) -> None:
    """The child process `pid` keeps the values for `engine`'s ledger now: `keep_after_open`
    waits for it to end (and reaps it) before reading any village itself
    (`core.lifecycle.dayapart`)."""
    _ELSEWHERE[engine] = pid


def wait_kept(engine) -> None:
    """Start the background keeping now (no delay, no pauses) and wait until it is done."""
    found = _KEEPING.get(engine)
    if found is None:
        return
    thread, now = found
    now.set()
    thread.join()
