"""Publish, not just save: staff run the last published good form set, whatever the draft holds.

`<data>/published-forms/` is a complete copy of a forms folder (forms, lists, overlays, data)
that passed every check, written by `carebook forms publish` (refused while the working copy or
its data check has errors) and, the first time a ledger opens a clean folder, automatically.

- `carebook` with neither `--forms` nor `CAREBOOK_FORMS` runs the published copy: an admin's
  half-edited `forms/` never reaches staff until it is published.
- A folder named explicitly (`--forms`, `CAREBOOK_FORMS`, tests, previews) runs as given, but
  never replaces the published copy (only `forms publish` does, after the data check); a load
  with errors (a typo in registration.yaml, a bad divisions.yaml) falls back to the copy and
  says why, so nobody is locked out of visits, roster, summary or due lists. Reload (F5) does
  the same: the last good set stays.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
from pathlib import Path

from core.privatefiles import private_tree
from core.problems import CarebookError, Problem

PUBLISHED = "published-forms"
STAMP = "PUBLISHED.stamp"   # not .json/.yaml: the folder is loaded as form files


def published_dir(data_dir: Path) -> Path:
    return Path(data_dir) / PUBLISHED


def is_complete(folder: Path) -> bool:
    return (folder / STAMP).is_file()


def staff_forms_dir(data_dir: Path, forms_dir: Path | None) -> Path:
    """The folder an engine runs — see the module docstring."""
    if forms_dir is not None:
        return Path(forms_dir)
    if os.environ.get("CAREBOOK_FORMS"):
        return Path(os.environ["CAREBOOK_FORMS"])
    pub = published_dir(data_dir)
    if is_complete(pub):
        return pub
    from core import paths

    return paths.default_forms_dir()


def digest(folder: Path) -> str:
    """One hash over every file of a forms folder (names and bytes), to see whether it changed."""
    h = hashlib.sha256()
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file() and p.name != STAMP):
        h.update(str(path.relative_to(folder)).encode("utf-8") + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def stamp_of(folder: Path) -> dict:
    try:
        return json.loads((Path(folder) / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def copy_folder(src: Path, data_dir: Path, *, operator: str = "", versions: dict | None = None,
                source_digest: str | None = None) -> Path:
    """Replace the published copy by `src` (staged beside it, then renamed; the old one removed)."""
    pub = published_dir(data_dir)
    staging = pub.with_name(f".{PUBLISHED}-new")
    old = pub.with_name(f".{PUBLISHED}-old")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(src, staging, ignore=shutil.ignore_patterns(".*", "__pycache__", "tests"))
    private_tree(staging)          # copytree keeps the source's modes; the data folder is owner-only
    (staging / STAMP).write_text(json.dumps({
        "at": dt.datetime.now().astimezone().isoformat(timespec="seconds"), "operator": operator,
        "source": str(Path(src).resolve()), "digest": source_digest or digest(src), "versions": versions or {},
    }, ensure_ascii=False, indent=1), encoding="utf-8")
    _private(staging)
    shutil.rmtree(old, ignore_errors=True)
    if pub.exists():
        pub.rename(old)
    staging.rename(pub)
    shutil.rmtree(old, ignore_errors=True)
    return pub


def _private(folder: Path) -> None:
    """Owner-only, like everything in the data folder (the copy sits beside personal data)."""
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o700 if path.is_dir() else 0o600)


def file_errors(engine) -> list[Problem]:
    """Errors of the loaded form set and of its divisions file."""
    out = [p for p in engine.forms.problems if p.is_error]
    from core.lifecycle.divisioncheck import division_problems

    out += [p for p in division_problems(engine) if p.is_error]
    return out


def unusable(engine) -> str | None:
    """Why staff cannot work on this ledger at all, or None. A broken division file with no
    published copy to fall back to (a ledger's first open) leaves no town or village to show:
    the UI says so, naming file, line and what is wrong, instead of failing on its first screen."""
    from core.lifecycle.divisioncheck import division_problems

    errors = [p for p in division_problems(engine) if p.is_error]
    if not errors:
        return None
    lines = "\n".join(f"  {p}" for p in errors[:10])
    more = f"\n  ……共 {len(errors)} 处" if len(errors) > 10 else ""
    return (f"区划文件 {errors[0].file} 有 {len(errors)} 处错误，且这本台账还没有发布过可用的表单，"
            f"街镇和村无法显示：\n{lines}{more}\n请改正这个文件后运行 carebook forms check，再重新打开。")


def _versions(engine) -> dict:
    return {fid: f.version for fid, f in engine.forms.forms.items()}


def guard(engine) -> None:
    """After a load: keep the published copy current, or fall back to it when the load is broken."""
    working = engine.forms_dir
    pub = published_dir(engine.data_dir)
    errors = file_errors(engine)
    if not errors:
        if engine.readonly or working == pub:
            return
        if not is_complete(pub):       # a ledger's first clean load: something to fall back to
            copy_folder(working, engine.data_dir, operator=engine.operator, versions=_versions(engine))
        return
    if working == pub or not is_complete(pub):
        return
    _switch(engine, pub)
    st = stamp_of(pub)
    first = errors[0]
    engine.forms.problems[:0] = [Problem(
        f"表单文件有错误，继续使用上次检查通过的表单（{st.get('at', '')[:16]} 发布）。第一处错误：{first}。"
        f"共 {len(errors)} 处，改正后按 F5 重新加载或运行 carebook forms check (fallback)",
        file=first.file, line=first.line, col=first.col, severity="warning", rule="fallback")]


def _switch(engine, folder: Path) -> None:
    """Run `folder`: plugins registered per engine (its division list, division functions) are
    asked again so they read that folder's data, then its forms are loaded."""
    from core.formlang.expressions import Evaluator
    from core.formlang.formload import load_form_dir
    from core.plugins import build_registry

    moved = engine.forms_dir != folder
    engine.forms_dir = folder
    if moved:
        engine.plugin_set.call_each("configure", engine=engine)
        engine.registry = build_registry(engine.plugin_set, engine=engine)
        engine.evaluator = Evaluator(engine.registry.functions)
        engine.snapshots.registry = engine.registry
    engine.forms = load_form_dir(folder, engine.registry)
    engine._validators.clear()


def reload(engine) -> list[Problem]:
    """Read the working folder again; a broken edit keeps the last good set (see `guard`)."""
    _switch(engine, engine._working_forms_dir)
    guard(engine)
    if not engine.readonly:
        engine.snapshots.keep(engine.forms)
    return list(engine.forms.problems)


def baseline(engine, form_id: str):
    """The form as published (else the newest kept version below the working one) for diffs."""
    pub = published_dir(engine.data_dir)
    if is_complete(pub) and pub != engine.forms_dir:
        from core.formlang.formload import load_form_dir

        cache = engine.__dict__.setdefault("_published_set", {})
        if "set" not in cache:
            cache["set"] = load_form_dir(pub, engine.registry)
        form = cache["set"].get(form_id)
        if form is not None:
            return form
    current = engine.forms.get(form_id)
    kept = [v for v in engine.snapshots.versions(form_id) if current is None or v < current.version]
    return engine.snapshots.get(form_id, max(kept)) if kept else None


def publish(engine, operator: str = "") -> tuple[Path | None, list[Problem]]:
    """Check the working copy (files, divisions, data) and publish it; (folder, problems)."""
    from core.lifecycle import datacheck

    if engine.forms_dir == published_dir(engine.data_dir):
        raise CarebookError("发布要指定工作中的表单目录（--forms 或 CAREBOOK_FORMS），不能发布已发布的副本本身")
    problems = file_errors(engine) + datacheck.check(engine)
    if any(p.is_error for p in problems):
        return None, problems
    engine.wait_for_backup()            # published-forms/ is in the day's backup: not swapped mid-copy
    engine.snapshots.keep(engine.forms)
    return copy_folder(engine.forms_dir, engine.data_dir, operator=operator or engine.operator,
                       versions=_versions(engine)), problems
