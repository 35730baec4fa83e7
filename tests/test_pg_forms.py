"""Forms published to the server: every desk validates with the same versions (real PostgreSQL).

The owner's desk publishes the form files it runs; a desk whose carebook has an older version
of a form is told to update instead of saving records the others cannot check, and a desk
gets the published versions it lacks, so records saved under them still open.
"""
from __future__ import annotations

import pytest

from binhai_support import TOWN, VILLAGE, copy_forms, edit, person
from core.engine import Engine
from core.storage import StorageError
from core.storage.pgstore import PgStore
from core.storage.pgusers import add_operator


def test_a_desk_with_older_forms_is_told_to_update(pg_server, tmp_path, monkeypatch):
    monkeypatch.setenv("CAREBOOK_DESK", str(tmp_path / "desks"))
    db = pg_server.create_db()
    owner = pg_server.url(db)
    with Engine.open(owner, operator="管理员") as eng:                    # publishes version 1
        old = eng.save("registration", person(town=TOWN, village=VILLAGE, file_no=None)).id
    newer = copy_forms(tmp_path / "admin")
    edit(newer / "registration.yaml", "version: 1\n", "version: 2\n")
    with Engine.open(owner, newer, operator="管理员") as eng:             # the admin updates: version 2
        new = eng.save("registration", person(town=TOWN, village=VILLAGE, file_no=None, name="新版登记")).id
        assert eng.get(new)["version"] == 2
    with PgStore(owner) as store:
        login = add_operator(store, "孙经办", "village", VILLAGE, password="pw").login
    clerk = pg_server.url(db, login, "pw")
    with pytest.raises(StorageError, match="服务器上是第 2 版，本机是第 1 版.*请先更新 carebook"):
        Engine.open(clerk)                                                # the shipped forms: version 1
    updated = copy_forms(tmp_path / "clerk")
    edit(updated / "registration.yaml", "version: 1\n", "version: 2\n")
    with Engine.open(clerk, updated) as eng:                              # after the update
        assert eng.get(old)["version"] == 1
        assert eng.form("registration", 1).version == 1     # version 1 came from the server
        assert eng.validate_stored(old) == []
        with pytest.raises(StorageError, match="没有权限"):                # publishing is the admin's
            with eng.store.session() as conn:
                conn.execute("INSERT INTO forms (form_id, version, suffix, source) VALUES ('x', 1, '.yaml', '')")
