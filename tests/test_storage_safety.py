"""Storage under trouble, on real files: a second writer, damaged files, cut-off history,
backups. Every damaged file must be set aside (never overwritten) with a Chinese message."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from core.storage import Store, StorageError, StoreLocked, list_backups, restore_backup

TABLE = "registration"
V1, V2 = "120116157201", "120116157202"


def item(rid: str, village: str, name: str = "赵六") -> tuple[dict, dict, dict]:
    return ({"id": rid, "partition": village, "data": {"name": name}}, {"name": name},
            {"who": "王五", "why": f"登记{name}"})


def fill(root, **kw) -> None:
    with Store(root, **kw) as s:
        s.put(TABLE, *item("a", V1, "甲"))
        s.put(TABLE, *item("b", V2, "乙"))


HOLDER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from core.storage import Store
    with Store(Path(sys.argv[1])) as s:
        s.put("registration", {"id": "held", "partition": "120116157201", "data": {"name": "持锁"}},
              {"name": "持锁"}, {"who": "子进程"})
        print("ready", flush=True)
        sys.stdin.read()
""")


def test_second_writer_refused_across_processes_readonly_works(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        with pytest.raises(StoreLocked) as err:
            Store(tmp_path)
        assert str(tmp_path) in str(err.value) and "另一个" in str(err.value)
        with pytest.raises(StoreLocked):
            restore_backup(tmp_path, "20260101-000000")
        with Store(tmp_path, readonly=True) as ro:
            assert ro.get(TABLE, "held")["data"]["name"] == "持锁"
            with pytest.raises(StorageError, match="只读"):
                ro.put(TABLE, *item("x", V1))
    finally:
        child.stdin.close()
        assert child.wait(timeout=10) == 0
    with Store(tmp_path) as s:  # the lock died with its holder
        assert s.count(TABLE) == 1


def test_damaged_data_file_is_set_aside_never_overwritten(tmp_path):
    fill(tmp_path, backup_every_hours=None)
    with Store(tmp_path, backup_every_hours=0):  # takes a backup of the good files
        pass
    good_backup = list_backups(tmp_path)[0].name
    data = tmp_path / f"records/{TABLE}/{V1}.json"
    quarantined = tmp_path / f"quarantine/records/{TABLE}"
    for round_no, garbage in enumerate([b'{"_default": {"1": {"id": "a", "na', "\xff\xfe乱码".encode("utf-8", "replace")]):
        data.write_bytes(garbage)
        with Store(tmp_path, backup_every_hours=None) as s:
            assert s.get(TABLE, "b")["data"]["name"] == "乙"  # the rest opens
            assert s.get(TABLE, "a") is None
            assert s.count(TABLE) == 1
            [problem] = s.problems
            assert problem.is_error and "quarantine" in problem.message and good_backup in problem.message
            assert "恢复方法" in problem.message and f"records/{TABLE}/{V1}.json" in problem.message
            s.put(TABLE, *item("c", V1, "丙"))  # the village is usable again, the new file is fresh
        aside = sorted(quarantined.glob(f"{V1}.json.*"))
        assert len(aside) == round_no + 1
        assert garbage in [f.read_bytes() for f in aside]
    with Store(tmp_path, backup_every_hours=None) as s:
        assert s.problems == [] and s.get(TABLE, "c")["data"]["name"] == "丙"


def test_damaged_data_file_found_lazily_and_reported_by_readonly(tmp_path):
    fill(tmp_path, backup_every_hours=None)
    data = tmp_path / f"records/{TABLE}/{V1}.json"
    with Store(tmp_path, readonly=True) as ro:
        ro.index(TABLE)  # index is current: the data file is not read yet
        data.write_bytes(b"[1, 2")
        assert ro.get(TABLE, "a") is None
        assert "没有找到" in ro.problems[0].message
    assert data.read_bytes() == b"[1, 2"  # a reader moves nothing


@pytest.mark.parametrize("damage", [b"{not json", None])
def test_bad_or_missing_index_is_rebuilt(tmp_path, damage):
    fill(tmp_path, backup_every_hours=None)
    index = tmp_path / f"records/{TABLE}/{V1}.index.json"
    if damage is None:
        index.unlink()
    else:
        index.write_bytes(damage)
    with Store(tmp_path, backup_every_hours=None) as s:
        assert s.index(TABLE)["a"]["name"] == "甲"
        if damage is None:
            assert s.problems == []
        else:
            [problem] = s.problems
            assert problem.severity == "warning" and "重建" in problem.message
            assert list((tmp_path / f"quarantine/records/{TABLE}").glob(f"{V1}.index.json.*"))[0].read_bytes() == damage
    assert "a" in json.loads(index.read_text("utf-8"))["rows"]


def test_stale_index_after_crash_between_writes_is_rebuilt(tmp_path):
    fill(tmp_path, backup_every_hours=None)
    index = tmp_path / f"records/{TABLE}/{V1}.index.json"
    old_index = index.read_bytes()
    with Store(tmp_path, backup_every_hours=None) as s:
        s.put(TABLE, *item("a2", V1, "新"))
    index.write_bytes(old_index)  # as if killed after the data file was replaced
    with Store(tmp_path, backup_every_hours=None) as s:
        assert s.index(TABLE)["a2"]["name"] == "新" and s.problems == []


def test_half_written_history_line_is_skipped(tmp_path):
    fill(tmp_path, backup_every_hours=None)
    hist = tmp_path / f"history/{TABLE}/{V1}.jsonl"
    with hist.open("ab") as fh:
        fh.write('{"_id":"a","_t":1,"who":"半'.encode("utf-8")[:-1])  # cut inside a character
    with Store(tmp_path, backup_every_hours=None) as s:
        assert [h["why"] for h in s.history(TABLE, "a")] == ["登记甲"]
        s.put(TABLE, *item("a", V1, "甲二"))
        assert [h["why"] for h in s.history(TABLE, "a")] == ["登记甲", "登记甲二"]


def test_backups_rotate_and_restore(tmp_path):
    for i in range(5):
        with Store(tmp_path, backup_every_hours=0, keep_backups=3) as s:
            s.put(TABLE, *item(f"r{i}", V1))
    kept = list_backups(tmp_path)
    assert len(kept) == 3 and [b.name for b in kept] == sorted((b.name for b in kept), reverse=True)
    with Store(tmp_path, keep_backups=3):  # newest backup is fresh: no new one
        pass
    assert [b.name for b in list_backups(tmp_path)] == [b.name for b in kept]
    oldest = kept[-1]  # taken at the third open: r0 and r1 saved
    aside = restore_backup(tmp_path, oldest.name)
    with Store(tmp_path, backup_every_hours=None) as s:
        assert sorted(s.index(TABLE)) == ["r0", "r1"]
        assert len(s.history(TABLE, "r1")) == 1
    assert (aside / f"records/{TABLE}/{V1}.json").exists()  # what was replaced is kept
    with pytest.raises(StorageError, match="找不到备份"):
        restore_backup(tmp_path, "../records")
