"""The server goes away: Chinese messages, never a traceback, and nothing typed is lost.

A server of its own (it is stopped and started again here), real PostgreSQL as everywhere else.
"""
from __future__ import annotations

import subprocess
import sys
import time

import pytest

import pg_support
from binhai_support import TOWN, VILLAGE, person
from core.engine import Engine
from core.storage import StorageError, pgstore


@pytest.fixture(scope="module")
def own_server():
    with pg_support.server_for_tests() as server:
        yield server


def test_server_down_mid_form_keeps_the_draft_and_saves_when_it_returns(own_server, tmp_path, monkeypatch):
    monkeypatch.setenv("CAREBOOK_DESK", str(tmp_path / "desks"))
    url = own_server.url(own_server.create_db())
    with Engine.open(url, operator="测试员") as eng:
        pid = eng.save("registration", person(town=TOWN, village=VILLAGE, file_no=None)).id
        rec = eng.get(pid)
        typed = {**rec["data"], "address": "断网时输入的地址"}
        eng.save_draft("registration", pid, typed)              # as the form does while typing
        own_server.stop()
        try:
            with pytest.raises(StorageError, match="无法连接数据库服务器") as down:
                eng.save("registration", typed, pid, base=rec)
            assert "草稿" in str(down.value)
            with pytest.raises(StorageError, match="无法连接数据库服务器"):
                eng.history(pid)
            assert eng.load_draft("registration", pid)["address"] == "断网时输入的地址"
        finally:
            own_server.start()
        # The clerk waits longer than the store's idle check (2 s, shortened here: the check is
        # what is tested, not its length); the server is back and the next save reconnects.
        monkeypatch.setattr(pgstore, "IDLE_CHECK", 0.2)
        time.sleep(0.3)
        eng.save("registration", eng.load_draft("registration", pid), pid, base=rec)
        assert eng.get(pid)["data"]["address"] == "断网时输入的地址"


def test_cli_with_the_server_down_prints_chinese_not_a_traceback(own_server, tmp_path):
    url = own_server.url(own_server.create_db())
    own_server.stop()
    try:
        done = subprocess.run([sys.executable, "-m", "core.cli", "report", "summary", "--data", url],
                              capture_output=True, text=True, timeout=60,
                              env={"CAREBOOK_DESK": str(tmp_path / "desks"), "PATH": "/usr/bin:/bin"})
    finally:
        own_server.start()
    assert done.returncode == 2
    assert "错误：无法连接数据库服务器" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_wrong_password_is_a_chinese_message(own_server, tmp_path, monkeypatch):
    monkeypatch.setenv("CAREBOOK_DESK", str(tmp_path / "desks"))
    db = own_server.create_db()
    with pytest.raises(StorageError, match="无法登录数据库服务器.*登录名或密码不对"):
        Engine.open(own_server.url(db, "nobody", "wrong"))


def test_the_summary_after_a_server_restart_reconnects_both_its_connections(own_server, tmp_path, monkeypatch):
    """The summary counts visits on a second connection (`sql_rows_aside`): after the server
    restarted while the desk was idle, that one is tried and opened again too, as the main
    one is, so the first summary after a break answers instead of failing once."""
    monkeypatch.setenv("CAREBOOK_DESK", str(tmp_path / "desks"))
    url = own_server.url(own_server.create_db())
    with Engine.open(url, operator="测试员") as eng:
        eng.save("registration", person(town=TOWN, village=VILLAGE, file_no=None))
        before = eng.report("summary")
        assert eng.store._side is not None                 # the visits were counted aside
        own_server.stop()
        own_server.start()
        monkeypatch.setattr(pgstore, "IDLE_CHECK", 0.2)
        time.sleep(0.3)
        after = eng.report("summary")
        assert after.rows == before.rows
