"""Form versions published on a server ledger, so every desk validates with the same forms.

Why: a record saved under version 3 of the registration form can only be checked (and opened)
by a desk that has version 3. On a server the owner's or an admin's desk publishes the form
files it runs (`forms` table, insert-only); every desk at open copies the published versions it
lacks into its local snapshots (so old records still open) and is refused, with a message to
update, when the server's current version of a form is newer than its own.
"""
from __future__ import annotations

from pathlib import Path

from psycopg.errors import InsufficientPrivilege

from core.storage.errors import StorageError

PUBLISHERS = ("owner", "admin")


def sync(engine) -> list[str]:
    """Publish (owner/admin) or check this desk's forms; returns the forms newly published."""
    store = engine.store
    local = {f.id: f for f in engine.forms.forms.values()}
    published: list[str] = []
    with store.session() as conn:
        if store.role in PUBLISHERS and not store.readonly:
            for form in local.values():
                src = Path(form.source) if getattr(form, "source", None) else None
                if src is None or not src.exists():
                    continue
                try:
                    with conn.transaction():        # a savepoint: a refused insert leaves the session usable
                        done = conn.execute("INSERT INTO forms (form_id, version, suffix, source) VALUES (%s, %s, %s, %s) "
                                            "ON CONFLICT DO NOTHING", (form.id, form.version, src.suffix,
                                                                       src.read_text(encoding="utf-8")))
                except InsufficientPrivilege:       # the server says this login may not publish: only read
                    break
                if done.rowcount:
                    published.append(f"{form.id} v{form.version}")
        rows = conn.execute("SELECT form_id, version, suffix, source FROM forms ORDER BY form_id, version").fetchall()
    newest: dict[str, int] = {}
    for form_id, version, suffix, source in rows:
        newest[form_id] = max(newest.get(form_id, 0), version)
        path = Path(engine.snapshots.folder) / form_id / f"v{version}{suffix}"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(source, encoding="utf-8")
    from core.storage import pgunique

    store.problems.extend(pgunique.ensure(engine))      # one ID number once in the whole ledger
    store.unique_indexed = pgunique.indexed(store)
    behind = [(fid, v, local[fid].version if fid in local else None) for fid, v in newest.items()
              if fid not in local or local[fid].version < v]
    if behind:
        said = "；".join(f"表单 “{fid}” 服务器上是第 {v} 版，本机" + (f"是第 {mine} 版" if mine else "没有这个表单")
                        for fid, v, mine in behind)
        raise StorageError(f"{said}。请先更新 carebook（或本机的表单文件夹）再打开这本台账，"
                           "以免保存按旧表单校验的记录")
    return published
