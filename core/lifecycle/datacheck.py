"""`forms check` against the data: a form edit that would lose, hide or stale a stored value.

Checked for every form of the working copy:

- a field id the stored records hold that the form no longer has (removed or renamed);
- a choice value the stored records hold that the form no longer lists (with counts);
- a changed field, choice, rule or setting under an unchanged `version` (records saved under
  "version 1" would later open under the old version 1 and lose the new values).

Each is an error that names the migration that would fix it (`forms/migrations/`), or a
warning when a migration file not yet applied already covers it.
"""
from __future__ import annotations

from core.lifecycle import formdiff, migrationlog, migrations, usage
from core.problems import Problem

MIGRATE_HINT = "写一个迁移文件放在 forms/migrations/ 下，再运行 carebook forms migrate"


def _locate(engine, form_id: str, field_id: str | None, key: str | None = None) -> tuple[str | None, int, int]:
    doc = engine.forms.form_docs.get(form_id)
    form = engine.forms.get(form_id)
    if doc is None:
        return None, 0, 0
    f = form.field(field_id) if (form and field_id) else None
    path = (f.source + ((key,) if key else ())) if f is not None and f.source else ("version",)
    line, col = doc.where(path)
    return doc.file, line, col


def _problem(engine, form_id: str, field_id: str | None, message: str, severity: str = "error",
             rule: str = "data", key: str | None = None) -> Problem:
    file, line, col = _locate(engine, form_id, field_id, key)
    return Problem(message, field_id or "", file, line or None, col or None, severity, rule)


def _samples(use: usage.Usage, key: tuple) -> str:
    ids = use.samples.get(key) or []
    return f"（如记录 {'、'.join(i[:8] for i in ids)}）" if ids else ""


def check(engine, pending: list[migrations.Migration] | None = None) -> list[Problem]:
    """Problems of the engine's (working) forms against its stored records and kept versions."""
    if pending is None:
        found, _ = migrations.load_folder(engine.forms_dir)
        done = migrationlog.applied(engine)
        pending = [m for m in found if m.id not in done]
    out: list[Problem] = []
    for form_id, form in sorted(engine.forms.forms.items()):
        out += _version_problems(engine, form)
        out += _usage_problems(engine, form, [m for m in pending if m.form == form_id])
    return out


def _version_problems(engine, form) -> list[Problem]:
    kept = engine.snapshots.versions(form.id)
    out = []
    if kept and form.version < max(kept):
        out.append(_problem(engine, form.id, None, f"表单 {form.id} 的 version 是 {form.version}，但台账里已有按第 "
                                                   f"{max(kept)} 版保存的记录；version 只能增加 (version)", rule="version"))
        return out
    same = engine.snapshots.get(form.id, form.version) if form.version in kept else None
    if same is None:
        return out
    changes = formdiff.needs_bump(formdiff.diff_forms(same, form))
    if changes:
        shown = "；".join(str(c) for c in changes[:4]) + ("……" if len(changes) > 4 else "")
        out.append(_problem(engine, form.id, None,
                            f"表单 {form.id} 与台账中保存的第 {form.version} 版不同（{shown}），但 version 没有加 1："
                            f"请把 version 改为 {form.version + 1}，否则按第 {form.version} 版保存的记录会按旧内容打开，"
                            f"新内容不显示 (version)", rule="version"))
    return out


def _renames(engine, form) -> dict:
    """Likely renames from the published (or newest kept) version to the working one."""
    from core.lifecycle.publish import baseline

    old = baseline(engine, form.id)
    if old is None:
        return {"choices": {}, "fields": {}}
    changes = formdiff.diff_forms(old, form)
    added = [c.where for c in changes if c.kind == "field-added"]
    removed = [c.where for c in changes if c.kind == "field-removed"]
    fields = {removed[0]: added[0]} if len(added) == 1 and len(removed) == 1 else {}
    return {"choices": formdiff.renamed_choices(changes), "fields": fields}


def _usage_problems(engine, form, pending: list[migrations.Migration]) -> list[Problem]:
    use = usage.scan(engine, form.id)
    if not use.records:
        return []
    guesses = _renames(engine, form)
    out = []
    for path, n in sorted(use.unknown.items()):
        cover = next(((m, s) for m in pending if (s := m.covers_field(path))), None)
        if cover:
            out.append(_problem(engine, form.id, None, f"字段 {path} 已不在表单 {form.id} 中，{n} 条记录有它的值；"
                                                       f"待执行的迁移 {cover[0].id}（{cover[1]}）会处理，请运行 carebook forms migrate",
                                severity="warning", rule="data-pending"))
            continue
        new = guesses["fields"].get(path)
        fix = (f"{{rename_field: {path}, to: {new}}}" if new else f"{{rename_field: {path}, to: 新字段id}}")
        out.append(_problem(engine, form.id, None,
                            f"字段 {path} 已从表单 {form.id} 删除或改名，但 {n} 条记录仍有它的值{_samples(use, (path,))}；"
                            f"保存这些记录不会丢掉它，但界面和报表看不到。改名请用迁移 {fix}，"
                            f"不再使用请用 {{retire_field: {path}}}（值保留在记录中）。{MIGRATE_HINT} (data)"))
    for path, values in sorted(use.bad_choices.items()):
        fid = path.split(".")[-1]
        for value, n in values.most_common():
            cover = next(((m, s) for m in pending if (s := m.covers_value(path, value))), None)
            if cover:
                out.append(_problem(engine, form.id, fid, f"{path} 的选项 “{value}” 已不在表单中，{n} 条记录在用；"
                                                          f"待执行的迁移 {cover[0].id} 会改为 “{cover[1].map[value]}”，"
                                                          f"请运行 carebook forms migrate", severity="warning",
                                    rule="data-pending", key="choices"))
                continue
            to = guesses["choices"].get(fid, {}).get(value, "新值")
            out.append(_problem(engine, form.id, fid,
                                f"{path} 的选项 “{value}” 已删除或改名，但 {n} 条记录在用{_samples(use, (path, value))}；"
                                f"这些记录会显示为空、汇总表对不上。请用迁移 {{map_choices: {path}, map: {{{value}: {to}}}}}，"
                                f"或保留这个选项。{MIGRATE_HINT} (data)", key="choices"))
    return out
