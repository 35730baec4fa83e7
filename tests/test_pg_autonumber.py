"""File numbers on the server: PostgreSQL keeps no numbering counters, so the engine counts the
village's list rows (found when mypy checked the facade against the storage contract: the
server store has no `next_number`, and a save without a file number was an internal error)."""
from __future__ import annotations

from binhai_support import VILLAGE, person
from core.engine import Engine


def test_registration_without_a_file_number_is_numbered_on_the_server(pg_server, tmp_path, monkeypatch):
    monkeypatch.setenv("CAREBOOK_DESK", str(tmp_path / "desks"))
    with Engine.open(pg_server.url(pg_server.create_db()), operator="管理员") as eng:
        first = eng.save("registration", person(file_no=None))
        second = eng.save("registration", person(file_no=None))
    assert first.record["data"]["file_no"] == f"{VILLAGE}-0001"
    assert second.record["data"]["file_no"] == f"{VILLAGE}-0002"
