"""`forms migrate` on a server ledger backs up the server's rows first, and they can be restored.

On a folder the migration copies the data folder; on a server the records are not on the desk,
so the server takes a snapshot of the form's rows (every village) into the `carebook_backup`
schema, named in the command's output; `carebook.restore_backup(name)` puts them back. A village
clerk may neither take nor restore such a snapshot, from psql either.
"""
from __future__ import annotations

import re

from binhai_support import TOWN, VILLAGE, VILLAGE2, TOWN2, copy_forms, person
from test_form_lifecycle import MIGRATION, _rename_choice
from core.cli import main
from core.engine import Engine
from core.storage.pgstore import PgStore
from core.storage.pgusers import add_operator

def test_migration_on_a_server_backs_up_the_rows_and_restores_them(pg_server, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CAREBOOK_DESK", str(tmp_path / "desks"))
    db = pg_server.create_db()
    url = pg_server.url(db)
    with Engine.open(url, operator="管理员") as eng:
        ids = [eng.save("registration", person(town=t, village=v, file_no=None, economic_status="一般", age=a)).id
               for t, v, a in ((TOWN, VILLAGE, 66), (TOWN2, VILLAGE2, 71))]
    with PgStore(url) as store:
        before = sorted(store.sql_rows("SELECT id, doc, rev FROM records WHERE tbl = 'registration'"))
        clerk = add_operator(store, "迁移村干部", "village", VILLAGE, password="pw-v").login
    forms = copy_forms(tmp_path)
    _rename_choice(forms, summary=True)
    (forms / "migrations").mkdir()
    (forms / "migrations" / "economy.yaml").write_text(MIGRATION, encoding="utf-8")

    code = main(["forms", "migrate", "--forms", str(forms), "--data", url, "--operator", "区民政局张三"])
    out = capsys.readouterr().out
    assert code == 0 and "已修改 2 条" in out, out
    name = re.search(r"服务器表 carebook_backup\.(\w+)", out).group(1)
    assert f"carebook.restore_backup('{name}')" in out
    # another admin desk (its own desk folder) sees on the server that the migration was applied
    monkeypatch.setenv("CAREBOOK_DESK", str(tmp_path / "second-desk"))
    again = main(["forms", "migrate", "--forms", str(forms), "--data", url, "--operator", "区民政局李四"])
    captured = capsys.readouterr()
    assert again == 0 and "迁移 economy_rename 已于" in captured.err and "没有待执行的迁移" in captured.out
    assert main(["forms", "check", "--forms", str(forms), "--data", url]) == 0, capsys.readouterr()
    with PgStore(url) as store:
        assert {d["data"]["economic_status"] for _, d, _ in
                store.sql_rows("SELECT id, doc, rev FROM records WHERE tbl = 'registration'")} == {"非困难"}
        logged = [e["migration"] for e in store.audit_log() if e.get("action") == "执行迁移"]
        assert [(e["id"], e["operator"], e["changed"]) for e in logged] == [("economy_rename", "区民政局张三", 2)]
        snapshot = sorted(store.sql_rows(f"SELECT id, doc, rev FROM carebook_backup.{name}"))
        assert snapshot == before                                     # both villages, as they were
        assert store.sql_rows("SELECT tbl, rows, reason FROM backups") == [("registration", 2, "迁移 economy_rename")]

    # a village clerk can neither take nor restore a snapshot, nor read one
    for sql in (f"SELECT carebook.restore_backup('{name}')", "SELECT carebook.backup_rows('registration', 'x')",
                f"SELECT count(*) FROM carebook_backup.{name}"):
        done = pg_server.psql(db, sql, user=clerk, password="pw-v")
        assert done.returncode != 0 and ("only the owner or an admin" in done.stderr
                                         or "permission denied" in done.stderr), (sql, done.stderr)

    restored = pg_server.psql(db, f"SELECT carebook.restore_backup('{name}')")      # the owner, as documented
    assert restored.returncode == 0 and restored.stdout.strip() == "2", restored.stderr
    with PgStore(url) as store:
        after = sorted(store.sql_rows("SELECT id, doc, rev FROM records WHERE tbl = 'registration'"))
        assert after == before
        # the migration's history entries stay (insert-only): what was done and undone is on record
        assert [h["action"] for h in store.history("registration", ids[0])][-1] == "迁移"
