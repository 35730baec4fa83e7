"""Backups by hard links, and restore in one command — on real files."""
from __future__ import annotations

import os

from core.cli import main
from core.storage import Store, list_backups, restore_backup
from core.storage.backups import make_backup
from core.storage.verify import verify_ledger
from storage_support import TABLE, V1, V2, data_file, item


def test_unchanged_files_are_linked_to_the_last_backup_changed_ones_copied(tmp_path):
    with Store(tmp_path, backup_every_hours=None) as s:
        s.put_many(TABLE, [item("a", V1, "甲"), item("b", V2, "乙")])
    first = make_backup(tmp_path)
    with Store(tmp_path, backup_every_hours=None) as s:
        s.put(TABLE, *item("c", V1, "丙"))
    second = make_backup(tmp_path)
    rel2, rel1 = data_file(tmp_path, V2).relative_to(tmp_path), data_file(tmp_path).relative_to(tmp_path)
    assert os.stat(first.path / rel2).st_ino == os.stat(second.path / rel2).st_ino      # linked
    assert os.stat(first.path / rel1).st_ino != os.stat(second.path / rel1).st_ino      # copied
    live = {os.stat(f).st_ino for f in (tmp_path / "records").rglob("*") if f.is_file()}
    ours = {os.stat(f).st_ino for f in second.path.rglob("*") if f.is_file()}
    assert not live & ours                                   # never a link to a live file
    assert b"\xe4\xb8\x99" not in (first.path / rel1).read_bytes()   # 丙 is not in the first backup


def test_a_backup_still_restores_after_the_live_file_is_rewritten(tmp_path):
    with Store(tmp_path, backup_every_hours=None) as s:
        s.put_many(TABLE, [item("a", V1, "甲"), item("b", V2, "乙")])
    make_backup(tmp_path)
    backup = make_backup(tmp_path)                          # a second one, mostly links
    with Store(tmp_path, backup_every_hours=None) as s:
        s.put(TABLE, *item("a", V1, "甲改"))                # the live village file is replaced
        s.put(TABLE, *item("b", V2, "乙改"))
    with open(data_file(tmp_path, V2), "r+b") as fh:        # and one even changed in place
        fh.write(b"X")
    restore_backup(tmp_path, backup.name, operator="管理员")
    with Store(tmp_path, backup_every_hours=None) as s:
        assert s.problems == []
        assert {s.get(TABLE, r)["data"]["name"] for r in ("a", "b")} == {"甲", "乙"}
        assert [h["diff"]["name"][1] for h in s.history(TABLE, "a")] == ["甲"]
    assert verify_ledger(tmp_path) == []


def test_snapshots_settings_and_drafts_are_in_backups_and_restored(tmp_path):
    with Store(tmp_path, backup_every_hours=None) as s:
        s.put(TABLE, *item("a", V1))
    (tmp_path / "forms").mkdir()
    (tmp_path / "forms/registration.v3.yaml").write_text("id: registration\n", "utf-8")
    (tmp_path / "settings.json").write_text('{"operator": "李芳"}', "utf-8")
    (tmp_path / "drafts").mkdir()
    (tmp_path / "drafts/registration--new.json").write_text('{"data": {}}', "utf-8")
    backup = make_backup(tmp_path)
    for rel in ("forms/registration.v3.yaml", "settings.json", "drafts/registration--new.json"):
        assert (backup.path / rel).read_bytes() == (tmp_path / rel).read_bytes()
    (tmp_path / "forms/registration.v3.yaml").unlink()        # a lost snapshot
    restore_backup(tmp_path, backup.name)
    assert (tmp_path / "forms/registration.v3.yaml").read_text("utf-8") == "id: registration\n"


def test_a_killed_backups_partial_copy_is_removed_at_the_next_open(tmp_path):
    with Store(tmp_path, backup_every_hours=None) as s:
        s.put(TABLE, *item("a", V1))
    left = tmp_path / "backups/.partial-20260101-000000/records"
    left.mkdir(parents=True)
    (left / "x.json").write_bytes(b"{}")
    with Store(tmp_path, backup_every_hours=24):
        pass
    assert not (tmp_path / "backups/.partial-20260101-000000").exists()
    assert len(list_backups(tmp_path)) == 1


def test_restore_is_one_command_audited_and_keeps_the_audit_log(tmp_path, capsys):
    from core.storage import chain

    with Store(tmp_path, backup_every_hours=None) as s:
        s.put(TABLE, *item("a", V1, "甲"))
    backup = make_backup(tmp_path)
    chain.append_audit(tmp_path, {"action": "导出", "operator": "甲", "full": True})
    with Store(tmp_path, backup_every_hours=None) as s:
        s.put(TABLE, *item("b", V1, "乙"))
    assert main(["backups", "restore", backup.name, "--operator", "管理员", "--data", str(tmp_path)]) == 0
    assert backup.name in capsys.readouterr().out
    audit = chain.read_audit(tmp_path)
    assert [e["action"] for e in audit] == ["导出", "恢复备份"]
    assert audit[-1]["operator"] == "管理员" and audit[-1]["backup"] == backup.name
    with Store(tmp_path, backup_every_hours=None) as s:
        assert sorted(s.index(TABLE)) == ["a"]
    assert (tmp_path / "quarantine").glob("before-restore-*")
    assert main(["verify", "--data", str(tmp_path)]) == 0



def _held_backup(tmp_path, monkeypatch):
    """A ledger of two villages whose next backup waits, once started, until `go` is set."""
    import threading

    from core.storage import backups

    with Store(tmp_path, backup_every_hours=None) as s:
        s.put_many(TABLE, [item("a", V1, "甲"), item("b", V2, "乙")])
    go, started = threading.Event(), threading.Event()
    real = backups._make_backup

    def held(root):
        started.set()
        assert go.wait(10)
        return real(root)
    monkeypatch.setattr(backups, "_make_backup", held)
    return go, started, real


def test_the_daily_backup_is_made_beside_a_command_and_the_first_save_waits_for_it(tmp_path, monkeypatch):
    """Opening the ledger starts the day's backup without waiting for it: reads (an export, a
    report) go on meanwhile. The first save waits until it is done, so the backup is the
    ledger as it was opened, not half a day's changes."""
    import threading

    go, started, _ = _held_backup(tmp_path, monkeypatch)
    s = Store(tmp_path, backup_every_hours=24)
    try:
        assert started.wait(10)
        assert s.get(TABLE, "a")["data"]["name"] == "甲"          # a read does not wait
        assert list_backups(tmp_path) == []
        saved = threading.Event()
        saver = threading.Thread(target=lambda: (s.put(TABLE, *item("c", V1, "丙")), saved.set()))
        saver.start()
        assert not saved.wait(0.5)                                # the save waits for the backup
        go.set()
        saver.join(10)
        assert saved.is_set()
    finally:
        go.set()
        s.close()
    [backup] = list_backups(tmp_path)
    assert b"\xe4\xb8\x99" not in (backup.path / data_file(tmp_path).relative_to(tmp_path)).read_bytes()  # no 丙
    assert "丙" in data_file(tmp_path).read_text("utf-8")


def test_a_backup_asked_for_while_the_days_backup_runs_waits_and_gets_its_own_folder(tmp_path, monkeypatch):
    """A migration's backup (`make_backup`) while the one started at open is still copying:
    one after the other, two complete backups, the second linked to the first."""
    import threading

    from core.storage import backups

    go, started, real = _held_backup(tmp_path, monkeypatch)
    with Store(tmp_path, backup_every_hours=24):
        assert started.wait(10)
        monkeypatch.setattr(backups, "_make_backup", real)
        threading.Timer(0.3, go.set).start()
        second = make_backup(tmp_path)
    first = list_backups(tmp_path)[-1]
    assert [b.name for b in list_backups(tmp_path)] == [second.name, first.name] and second.name != first.name
    rel = data_file(tmp_path, V2).relative_to(tmp_path)
    assert os.stat(first.path / rel).st_ino == os.stat(second.path / rel).st_ino


def test_a_backup_failing_on_its_thread_is_told_as_a_warning_and_the_ledger_still_saves(tmp_path, monkeypatch):
    from core.storage import backups

    with Store(tmp_path, backup_every_hours=None) as s:
        s.put(TABLE, *item("a", V1, "甲"))

    def full(root):
        raise OSError(28, "磁盘已满")
    monkeypatch.setattr(backups, "_make_backup", full)
    with Store(tmp_path, backup_every_hours=24) as s:
        s.put(TABLE, *item("b", V1, "乙"))
    assert [(p.rule, p.severity) for p in s.problems] == [("storage.backup", "warning")]
    assert "自动备份失败（文件操作失败：磁盘已满" in s.problems[0].message     # the errno's reason, in Chinese
    with Store(tmp_path, backup_every_hours=None) as s:
        assert s.get(TABLE, "b")["data"]["name"] == "乙"


def test_the_audit_log_waits_for_the_days_backup_so_the_backup_holds_it_whole(tmp_path, monkeypatch):
    """An export in full writes the audit log, outside any save: while the day's backup is
    still copying, the entry waits for it, so the backup never holds half a line."""
    import threading

    from core.engine import Engine

    go, started, _ = _held_backup(tmp_path, monkeypatch)
    with Engine(tmp_path, operator="李芳") as eng:
        assert started.wait(10)
        logged = threading.Event()
        writer = threading.Thread(target=lambda: (eng._audit({"action": "导出", "what": "records"}), logged.set()))
        writer.start()
        assert not logged.wait(0.5)                               # waits for the backup
        go.set()
        writer.join(10)
        assert logged.is_set()
    assert [e["action"] for e in eng.audit_log()][-1:] == ["导出"]
    [backup] = list_backups(tmp_path)
    assert "导出" not in "".join(p.read_text("utf-8") for p in backup.path.rglob("audit*"))


def test_a_save_still_waits_while_another_thread_waits_for_the_backup(tmp_path, monkeypatch):
    """The staff UI waits for the day's backup on a thread of its own (to say so on screen):
    a save made meanwhile must wait too, not pass because the backup is already waited for."""
    import threading

    go, started, _ = _held_backup(tmp_path, monkeypatch)
    s = Store(tmp_path, backup_every_hours=24)
    try:
        assert started.wait(10) and s.backup_running()
        watcher = threading.Thread(target=s.wait_for_backup)
        watcher.start()
        saved = threading.Event()
        saver = threading.Thread(target=lambda: (s.put(TABLE, *item("c", V1, "丙")), saved.set()))
        saver.start()
        assert not saved.wait(0.5)                                # still waits for the backup
        go.set()
        saver.join(10)
        watcher.join(10)
        assert saved.is_set() and not s.backup_running()
    finally:
        go.set()
        s.close()
    [backup] = list_backups(tmp_path)
    assert b"\xe4\xb8\x99" not in (backup.path / data_file(tmp_path).relative_to(tmp_path)).read_bytes()  # no 丙


def test_a_store_left_open_a_day_backs_up_again_and_a_save_waits_for_it(tmp_path):
    """A program left open for days (office PCs) backs up again (`start_backup`, asked hourly
    by the staff UI) once the newest backup is a day old, none before; the saves made before
    it, still in the journal, are written into the files first, so restoring it keeps them."""
    with Store(tmp_path, backup_every_hours=None) as s:
        s.put(TABLE, *item("a", V1, "甲"))
    with Store(tmp_path) as s:
        s.wait_for_backup()
        (first,) = list_backups(tmp_path)
        s.put(TABLE, *item("b", V1, "乙"))                  # in the journal, not yet in a file
        assert not s.start_backup()                         # the newest is fresh: none made
        os.rename(first.path, first.path.with_name("20200101-000000"))    # as if made long ago
        assert s.start_backup()
        s.put(TABLE, *item("c", V1, "丙"))                  # waits for it: not in the backup
        names = [b.name for b in list_backups(tmp_path)]
        assert len(names) == 2 and names[1] == "20200101-000000"
    newest = list_backups(tmp_path)[0]
    restore_backup(tmp_path, newest.name, operator="管理员")
    with Store(tmp_path, backup_every_hours=None) as s:
        assert s.get(TABLE, "b") is not None and s.get(TABLE, "c") is None
    readonly = Store(tmp_path, readonly=True)
    assert not readonly.start_backup()
