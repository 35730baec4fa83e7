"""Declarative data migrations: `forms/migrations/*.yaml`, dry-run, then apply with history.

When a form renames a field or a choice value, the stored records must follow, or the old
values vanish from screens and counts. An admin states the change once, in a file beside the
forms::

    kind: migration
    id: economy_2027
    form: registration
    reason: 经济状况“一般”改称“非困难”
    changes:
      - {map_choices: economic_status, map: {一般: 非困难}}
      - {rename_field: old_id, to: new_id}
      - {move_value: from_field, to: to_field}     # only into an empty field
      - {retire_field: pension_note}               # kept in the record's `retired`, never erased

`plan` reads every record and says per change how many records move (with samples); `apply`
takes a backup of the data folder, then writes each village file once (atomically, through the
store) with one history entry per changed record naming operator, migration and reason. A value
that would overwrite another is never moved: the record is counted as a conflict and left alone.
Applied migrations are listed with the ledger (`core.lifecycle.migrationlog`: the data folder's
`lifecycle/migrations.jsonl`, a server's audit table) and not run twice, from any desk.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from core.formlang.expressions import empty
from core.lifecycle.villagereads import village_records
from core.problems import CarebookError, Problem

OPS = ("rename_field", "map_choices", "move_value", "retire_field")
# Villages committed together: the journal line, the folders' and the journal's fsyncs are made
# once for them (a 50,000-person migration made ~1,000 fsyncs, one commit per village), and no
# more than the store keeps parsed (`Store` caches 8 village files), so none is read twice.
VILLAGES_PER_COMMIT = 6
_OP_KEYS = {"rename_field": {"to"}, "map_choices": {"map"}, "move_value": {"to"}, "retire_field": set()}
FOLDER = "migrations"


@dataclass
class Step:
    op: str
    field: str
    to: str | None = None
    map: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        if self.op == "map_choices":
            pairs = "，".join(f"{a}→{b}" for a, b in self.map.items())
            return f"map_choices {self.field}：{pairs}"
        if self.op == "retire_field":
            return f"retire_field {self.field}（值保留在记录的 retired 中）"
        return f"{self.op} {self.field} → {self.to}"


@dataclass
class Migration:
    id: str
    form: str
    reason: str
    steps: list[Step]
    file: str

    def covers_field(self, path: str) -> Step | None:
        return next((s for s in self.steps if s.op in ("rename_field", "move_value", "retire_field")
                     and s.field == path), None)

    def covers_value(self, path: str, value: str) -> Step | None:
        return next((s for s in self.steps if s.op == "map_choices" and s.field == path and value in s.map), None)


def load(path: Path, display: str | None = None) -> tuple[Migration | None, list[Problem]]:
    """One migration file, checked; problems are located like form-file problems."""
    from core.formlang.yamlload import load_file

    doc = load_file(path, display or str(path))
    if doc.problems or doc.data is None:
        return None, list(doc.problems)
    raw = doc.data
    out: list[Problem] = []
    if not isinstance(raw, dict) or raw.get("kind") != "migration":
        return None, [doc.problem(("kind",), "迁移文件要以 kind: migration 开头 (kind)", rule="kind")]
    for key in ("id", "form", "reason"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            out.append(doc.problem((key,), f"迁移文件缺少 {key}（文字）({key})", rule=key))
    for key in raw:
        if key not in ("kind", "id", "form", "reason", "changes", "title", "description"):
            out.append(doc.problem((key,), f"迁移文件里没有键 “{key}”（可用：id form reason changes）(key)", key=True, rule="key"))
    changes = raw.get("changes")
    if not isinstance(changes, list) or not changes:
        out.append(doc.problem(("changes",), "迁移文件要写 changes：一项或多项改动 (changes)", rule="changes"))
        changes = []
    steps = []
    for i, item in enumerate(changes):
        at = ("changes", i)
        ops = [k for k in item if k in OPS] if isinstance(item, dict) else []
        if len(ops) != 1:
            out.append(doc.problem(at, f"每项改动写一种：{'、'.join(OPS)} (changes)", rule="changes"))
            continue
        op = ops[0]
        extra = set(item) - {op} - _OP_KEYS[op]
        missing = _OP_KEYS[op] - set(item)
        if extra or missing:
            want = "、".join(sorted(_OP_KEYS[op])) or "无"
            out.append(doc.problem(at, f"{op} 还要写：{want}（多了：{'、'.join(sorted(extra)) or '无'}）(changes)", rule="changes"))
            continue
        mapping = item.get("map") or {}
        if op == "map_choices" and (not isinstance(mapping, dict) or not mapping
                                    or not all(isinstance(v, str) for v in mapping.values())):
            out.append(doc.problem(at + ("map",), "map 写成 {旧值: 新值}，值都是文字 (map)", rule="map"))
            continue
        if not isinstance(item[op], str) or (op in ("rename_field", "move_value") and not isinstance(item.get("to"), str)):
            out.append(doc.problem(at, f"{op} 的字段 id 要写成文字 (changes)", rule="changes"))
            continue
        steps.append(Step(op, item[op], item.get("to"), {str(k): v for k, v in mapping.items()}))
    if out:
        return None, out
    return Migration(raw["id"].strip(), raw["form"].strip(), raw["reason"].strip(), steps, doc.file), []


def load_folder(forms_dir: Path) -> tuple[list[Migration], list[Problem]]:
    folder = Path(forms_dir) / FOLDER
    found, problems = [], []
    if not folder.is_dir():
        return [], []
    ids: dict[str, str] = {}
    for path in sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml")):
        mig, probs = load(path, f"{Path(forms_dir).name}/{FOLDER}/{path.name}")
        problems += probs
        if mig is None:
            continue
        if mig.id in ids:
            problems.append(Problem(f"迁移 id “{mig.id}” 已在 {ids[mig.id]} 中使用 (duplicate id)", file=mig.file, line=1, col=1,
                                    rule="duplicate-id"))
            continue
        ids[mig.id] = mig.file
        found.append(mig)
    return found, problems


# ---------------------------------------------------------------------------- applying to one record

def _split(path: str) -> tuple[str, str | None]:
    group, _, child = path.partition(".")
    return group, child or None


def _map_value(value: Any, mapping: dict[str, str]) -> Any:
    if isinstance(value, list):
        out = []
        for v in value:
            v = mapping.get(v, v) if isinstance(v, str) else v
            if v not in out:
                out.append(v)
        return out
    return mapping.get(value, value) if isinstance(value, str) else value


def _move(holder: dict, a: str, b: str) -> str:
    """'moved', 'conflict' or '' (nothing to move)."""
    if a not in holder or empty(holder.get(a)):
        return ""
    if not empty(holder.get(b)) and holder.get(b) != holder.get(a):
        return "conflict"
    holder[b] = holder.pop(a)
    return "moved"


def apply_step(step: Step, record: dict, stamp: dict, old_form=None) -> str:
    """Change `record` (its `data` and `retired`) in place; 'moved', 'conflict' or ''."""
    data = record.setdefault("data", {})
    group, child = _split(step.field)
    if step.op == "map_choices":
        targets = ([row for row in data.get(group) or [] if isinstance(row, dict)] if child else [data])
        key = child or group
        hit = ""
        for row in targets:
            if key in row:
                new = _map_value(row[key], step.map)
                if new != row[key]:
                    row[key] = new
                    hit = "moved"
        return hit
    if step.op in ("rename_field", "move_value"):
        if child:
            to_child = _split(step.to)[1] or step.to
            results = [_move(row, child, to_child) for row in data.get(group) or [] if isinstance(row, dict)]
            return "conflict" if "conflict" in results else ("moved" if "moved" in results else "")
        result = _move(data, group, step.to)
        retired = record.get("retired") or {}
        if not result and step.op == "rename_field" and group in retired and empty(data.get(step.to)):
            data[step.to] = retired.pop(group)["value"]   # a retired value brought back under its new id
            return "moved"
        return result
    if step.op == "retire_field":
        if child:
            raise CarebookError(f"retire_field 只能用于整条记录的字段，不能用于重复组里的 {step.field}")
        if group not in data or empty(data.get(group)):
            return ""
        from core.lifecycle.retired import entry

        record.setdefault("retired", {})[group] = entry(data.pop(group), stamp["at"], stamp["version"], stamp["by"],
                                                        old_form, group)
        return "moved"
    raise CarebookError(f"未知的迁移操作 {step.op}")


# ---------------------------------------------------------------------------- plan and apply

def _old_form(engine, form_id: str, version, cache: dict):
    """The form version a record was saved under (None when it cannot be rebuilt)."""
    if version not in cache:
        try:
            cache[version] = engine.form(form_id, version)
        except CarebookError:
            cache[version] = None
    return cache[version]


def _working_copy(rec: dict, touched: set[str]) -> dict:
    """A copy the steps may change: data, the repeat rows of the `touched` fields and `retired`
    copied, values shared (a deep copy of every record was a third of a 50,000-person
    migration; the records are the store's own, see `village_records`). The steps replace a top-level
    value rather than change it in place, so only repeat rows they edit need copies."""
    data = dict(rec.get("data") or {})
    for k in touched:
        v = data.get(k)
        if isinstance(v, list):
            data[k] = [dict(r) if isinstance(r, dict) else r for r in v]
    out = {**rec, "data": data}
    if rec.get("retired"):
        out["retired"] = dict(rec["retired"])
    return out


@dataclass
class StepResult:
    step: Step
    moved: int = 0
    conflicts: int = 0
    samples: list[str] = field(default_factory=list)
    conflict_samples: list[str] = field(default_factory=list)


@dataclass
class Plan:
    migration: Migration
    results: list[StepResult]
    records: int = 0
    changed: int = 0
    applied: bool = False
    backup: str | None = None


def _label(engine, form, rec: dict) -> str:
    """A sample as staff can find it without reading personal data: file number, else the record id."""
    data = rec.get("data") or {}
    for key in ("file_no",):
        if data.get(key):
            return f"{data[key]}（{rec['id'][:8]}）"
    return rec["id"]


def run(engine, migration: Migration, *, apply: bool = False, operator: str = "",
        progress: Callable[[str], None] | None = None) -> Plan:
    """Plan (and with `apply`, write) one migration over every record of its form.

    Without garbage collection meanwhile: the village files parsed, the records' working
    copies, rows and journal entries are millions of new dicts without cycles (freed as they
    go), and each collection their allocations set off walked all that were alive again.
    Village files parsed by orjson (`sealed.quick_parse`): the parsed villages do not outlive
    the run."""
    from core.records.recordindex import collector_paused
    from core.storage.sealed import quick_parse

    with collector_paused(), quick_parse():
        return _run(engine, migration, apply, operator, progress)


def _run(engine, migration: Migration, apply: bool, operator: str, progress: Callable[[str], None] | None) -> Plan:
    from core.engine import now_iso
    from core.storage.backups import make_backup

    if engine.forms_dir != engine._working_forms_dir:
        raise CarebookError("工作中的表单文件有错误（见 carebook forms check），迁移要按改好的表单执行，未执行")
    form = engine.form(migration.form)
    results = [StepResult(s) for s in migration.steps]
    plan = Plan(migration, results)
    if apply:
        if engine.readonly:
            raise CarebookError("台账以只读方式打开，不能执行迁移")
        server = getattr(engine.store, "backup_rows", None)     # a server ledger keeps its rows' copy
        plan.backup = server(migration.form, f"迁移 {migration.id}") if server else make_backup(engine.data_dir).name
    at = now_iso()
    stamp = {"at": at, "by": f"迁移 {migration.id}", "version": None}
    olds: dict = {}
    rows = engine.index(migration.form).rows
    plan.records = len(rows)
    chosen = _candidates(rows, _row_test(migration, rows))
    touched = {_split(s.field)[0] for s in migration.steps} | {_split(s.to)[0] for s in migration.steps if s.to}
    pending: list[tuple] = []          # changed villages not yet committed: (items, village)
    retires = any(s.op == "retire_field" for s in migration.steps)
    for part in list(engine.store.partitions(migration.form)):
        items = []
        # the candidates only (all records when rows cannot tell), the village file kept for the write
        wanted = None if chosen is None else set(chosen.get(part, ()))
        read = list(village_records(engine, migration.form, part, wanted, keep=True))
        if len(pending) >= VILLAGES_PER_COMMIT:
            # this village read, the ones before are committed: their files are written (by a
            # thread of the store's own, which holds the store while it writes) as this one is
            # worked out
            _write(engine, migration.form, pending, progress)
            pending = []
        for rec in read:
            new = _working_copy(rec, touched)
            stamp["version"] = rec.get("version")
            changed = False
            # the saved version's form is named in a retired value's entry only: rebuilding it
            # (its yaml parsed and compiled) was a twentieth of a 50,000-person choice rename
            old_form = _old_form(engine, migration.form, rec.get("version"), olds) if retires else None
            for res in results:
                outcome = apply_step(res.step, new, dict(stamp), old_form)
                if outcome == "conflict":
                    res.conflicts += 1
                    if len(res.conflict_samples) < 3:
                        res.conflict_samples.append(_label(engine, form, rec))
                elif outcome == "moved":
                    changed = True
                    res.moved += 1
                    if len(res.samples) < 3:
                        res.samples.append(_label(engine, form, rec))
            if not changed:
                continue
            plan.changed += 1
            if apply:
                new.update(updated=at, operator=operator or engine.operator or "", version=form.version)
                changes = _changes(rec["data"], new["data"], touched)
                changes += [{"path": f"retired.{k}", "old": None, "new": v["value"]}
                            for k, v in (new.get("retired") or {}).items() if k not in (rec.get("retired") or {})]
                entry = {"id": new["id"], "at": at, "operator": new["operator"], "form": new["form"],
                         "version": new["version"], "action": "迁移", "changes": changes, "reasons": [],
                         "overrides": {}, "note": f"迁移 {migration.id}：{migration.reason}", "migration": migration.id,
                         "from_version": rec.get("version")}
                items.append((new, _row(engine, form, new, rec, rows.get(rec["id"])), entry))
        if items:
            pending.append((items, part))
    if pending:
        _write(engine, migration.form, pending, progress)
    if apply:
        _log(engine, migration, plan, operator, at)
        plan.applied = True
    return plan


def _changes(old: dict, new: dict, touched: set[str]) -> list[dict]:
    """`field_diff(old, new)` where only the `touched` fields can differ (the steps' fields):
    the other fifty-odd fields of each record are not compared (a tenth of a 50,000-person run)."""
    from core.engine import field_diff

    return field_diff({k: old[k] for k in touched if k in old}, {k: new[k] for k in touched if k in new})


def _row(engine, form, new: dict, old: dict, held: dict | None) -> dict:
    """The list row of a migrated record. Its title (the name) is the same as before in nearly
    every migration, and working its pinyin out again was a tenth of a 50,000-person run: the
    row is made without it and takes the old row's search key."""
    title = form.title_field or "name"
    from core.records.recordindex import SEARCH_KEY

    key = (held or {}).get(SEARCH_KEY)
    same = (new.get("data") or {}).get(title) == (old.get("data") or {}).get(title)
    if not (same and isinstance(key, str) and key.count("\x1f") == 1):
        return engine._index_row(form, new)
    name = new["data"].get(title)
    row = engine._index_row(form, {**new, "data": {**new["data"], title: None}})
    if title in row:
        row[title] = name
    row[SEARCH_KEY] = key
    return row


def _write(engine, form_id: str, villages: list[tuple[list, str]], progress) -> None:
    """One commit (`Store.put_many`: one journal line, fsynced once, then each village file
    rewritten once, atomically) for the changed records of a few villages, and their list rows.
    A crash leaves all of them migrated or none; each village file is whole either way."""
    items = [item for village, _ in villages for item in village]
    engine.store.put_many(form_id, items)
    idx = engine._indexes.get(form_id)
    if idx is not None:
        for new, row, _ in items:
            idx.put(new["id"], row)
    if progress:
        for _, part in villages:
            progress(part)


def _row_test(migration: Migration, rows: dict) -> Callable[[dict], bool]:
    """Which records a migration can change, judged from their list rows: a choice rename
    touches only the people whose row holds an old value, so only their records are copied and
    examined (the village file is read once either way). A step on a field some row does not
    carry (rows leave out a value that is a mapping, or a list outside report fields), on a
    repeat group's field, or a rename (it may bring back a retired value no row shows) makes
    every record a candidate."""
    tests = []
    for step in migration.steps:
        group, child = _split(step.field)
        if child or step.op == "rename_field" or not all(group in row for row in rows.values()):
            return lambda row: True
        if step.op == "map_choices":
            old = set(step.map)
            tests.append(lambda row, g=group, old=old: (row.get(g) in old if not isinstance(row.get(g), list)
                                                        else any(v in old for v in row.get(g))))
        else:
            tests.append(lambda row, g=group: not empty(row.get(g)))
    return lambda row: any(t(row) for t in tests)


def _candidates(rows: dict, test: Callable[[dict], bool]) -> dict[str, list[str]] | None:
    """{village: ids of the records `test` picks}, in the rows' order; None when rows do not
    name their village (then each village is read whole)."""
    out: dict[str, list[str]] = {}
    for rid, row in rows.items():
        p = row.get("_p")
        if not isinstance(p, str):
            return None
        if test(row):
            out.setdefault(p, []).append(rid)
    return out


def _log(engine, migration: Migration, plan: Plan, operator: str, at: str) -> None:
    from core.lifecycle import migrationlog

    migrationlog.record(engine, {
        "id": migration.id, "at": at, "operator": operator or engine.operator or "", "form": migration.form,
        "reason": migration.reason, "file": migration.file, "changed": plan.changed, "backup": plan.backup,
        "steps": [{"step": str(r.step), "moved": r.moved, "conflicts": r.conflicts} for r in plan.results]})
