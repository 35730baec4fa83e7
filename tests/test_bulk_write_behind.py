"""A bulk batch's village files are written behind the next batch (issue 13: the demo at 50,000).

`Store.put_many` commits a batch as one fsynced journal line and leaves its village files to a
writer thread, so that the caller prepares the next batch while the disk works. These tests
hold the writer to what a checkpoint always promised: every file's rename is made durable (its
folder fsynced) before the journal that could redo it is emptied; the next batch waits for the
files of the one before; a failing disk is told to the caller, and the journal still holds the
batch, so the next writer finds every record.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from core.storage import Store, atomic, journal
from core.storage.errors import StorageError
from storage_support import TABLE, V1, V2, item


def _batch(tag: str, n: int = 6) -> list[tuple[dict, dict, dict]]:
    return [item(f"{tag}{i}", (V1, V2)[i % 2], f"人{tag}{i}") for i in range(n)]


def test_every_renamed_file_s_folder_is_fsynced_before_the_journal_is_emptied(tmp_path, monkeypatch):
    events: list[tuple[str, str]] = []
    real_replace, real_fsync_dir, real_clear = os.replace, atomic.fsync_dir, journal.Journal.clear

    def replace(src, dst):
        real_replace(src, dst)
        events.append(("renamed", str(Path(dst).parent)))

    def fsync_dir(folder):
        real_fsync_dir(folder)
        events.append(("folder synced", str(folder)))

    def clear(self):
        events.append(("journal emptied", ""))
        real_clear(self)

    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(atomic, "fsync_dir", fsync_dir)
    monkeypatch.setattr(journal.Journal, "clear", clear)
    with Store(tmp_path, backup_every_hours=None) as s:
        s.put_many(TABLE, _batch("a"), new=True)
        s.put_many(TABLE, _batch("b"), new=True)
        s.wait_for_writes()
    cleared = [i for i, (what, _) in enumerate(events) if what == "journal emptied"]
    assert len(cleared) >= 2
    start = 0
    for at in cleared:
        renamed = {folder for what, folder in events[start:at] if what == "renamed"}
        synced_after = {}
        for i, (what, folder) in enumerate(events[start:at], start):
            if what == "renamed":
                synced_after[folder] = False
            elif what == "folder synced" and folder in synced_after:
                synced_after[folder] = True
        assert renamed, events[start:at]
        assert all(synced_after.values()), (synced_after, events[start:at])
        start = at + 1
    # once per folder, not once per file: two villages' data and index files share one fsync
    per_checkpoint = [what for what, _ in events[:cleared[0]]]
    assert per_checkpoint.count("folder synced") < per_checkpoint.count("renamed")


def test_the_next_batch_waits_for_the_files_of_the_one_before(tmp_path, monkeypatch):
    order: list[str] = []
    real = Store._checkpoint
    release = threading.Event()

    def slow_checkpoint(self, keep=True):
        if threading.current_thread().name == "carebook-bulk-writer":
            order.append("files: start")
            release.wait(5)
            real(self, keep)
            order.append("files: done")
        else:
            real(self, keep)

    monkeypatch.setattr(Store, "_checkpoint", slow_checkpoint)
    with Store(tmp_path, backup_every_hours=None) as s:
        s.put_many(TABLE, _batch("a"), new=True)
        order.append("first batch returned")
        threading.Timer(0.3, release.set).start()
        s.put_many(TABLE, _batch("b"), new=True)
        order.append("second batch committed")
        s.wait_for_writes()
        assert s.count(TABLE) == 12
    assert order.index("first batch returned") < order.index("files: done")
    assert order.index("files: done") < order.index("second batch committed")
    assert (tmp_path / "records" / TABLE / f"{V1}.json").exists()
    with Store(tmp_path, readonly=True) as s:
        assert s.count(TABLE) == 12
        assert [h["diff"]["name"][1] for h in s.history(TABLE, "b3")] == ["人b3"]


def test_a_disk_failure_behind_is_told_and_the_batch_stays_in_the_journal(tmp_path, monkeypatch):
    real = atomic.write_bytes

    def failing(path, data, sync_dir=True):
        if threading.current_thread().name == "carebook-bulk-writer":
            raise OSError(28, "No space left on device")
        real(path, data, sync_dir=sync_dir)

    s = Store(tmp_path, backup_every_hours=None)
    monkeypatch.setattr(atomic, "write_bytes", failing)
    s.put_many(TABLE, _batch("a"), new=True)
    with pytest.raises(StorageError, match="写入数据文件失败"):
        s.wait_for_writes()
    assert journal.read(tmp_path / journal.NAME)[0], "the batch must stay in the journal"
    assert s.get(TABLE, "a1")["data"]["name"] == "人a1"      # read through the journal meanwhile
    monkeypatch.setattr(atomic, "write_bytes", real)
    s.close()                                                # the disk is back: written at close
    with Store(tmp_path, backup_every_hours=None) as again:
        assert again.count(TABLE) == 6
        assert not journal.read(tmp_path / journal.NAME)[0]
        assert sorted(r["id"] for r in again.iter_records(TABLE, [V2])) == ["a1", "a3", "a5"]
