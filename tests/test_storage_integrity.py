"""Damage is always told, and history proves itself — on real files.

A changed digit under the same size and mtime, an edited or cut history line, a cut-off audit
line, a deleted `.lock`, an export aimed into the data folder, a journal left by a crash.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from core.cli import main
from core.storage import Store, StorageError, StoreLocked, chain, check_output
from core.storage.verify import verify_ledger
from storage_support import TABLE, V1, V2, data_file, item


def change_in_place(path, old: bytes, new: bytes) -> None:
    """Damage that keeps size, mtime and inode (a bit flip, an editor that restores the time)."""
    st = os.stat(path)
    raw = path.read_bytes()
    assert len(old) == len(new) and raw.count(old) >= 1
    with open(path, "r+b") as fh:
        fh.write(raw.replace(old, new, 1))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def fill(root) -> None:
    with Store(root, backup_every_hours=None) as s:
        s.put_many(TABLE, [item("a", V1, "甲", age=71), item("b", V1, "乙", age=72), item("c", V2, "丙", age=73)])


def test_a_digit_changed_in_a_data_file_is_found_on_read_and_by_verify(tmp_path):
    fill(tmp_path)
    with Store(tmp_path, backup_every_hours=0):      # a backup holding the good copy
        pass
    change_in_place(data_file(tmp_path), b'"age":71', b'"age":78')
    assert any(f"records/{TABLE}/{V1}.json" in f and "校验和" in f for f in verify_ledger(tmp_path))
    with Store(tmp_path, backup_every_hours=None) as s:
        assert s.index(TABLE)["a"]["name"] == "甲"       # the index alone cannot tell
        assert s.get(TABLE, "a") is None                 # reading the file does
        [problem] = s.problems
        assert "校验和" in problem.message and "backups/" in problem.message and "quarantine" in problem.message
        assert s.get(TABLE, "c")["data"]["age"] == 73
    [aside] = (tmp_path / f"quarantine/records/{TABLE}").glob(f"{V1}.json.*")
    assert b'"age":78' in aside.read_bytes()


def test_an_index_that_disagrees_with_its_data_is_rebuilt(tmp_path):
    fill(tmp_path)
    index = tmp_path / f"records/{TABLE}/{V1}.index.json"
    change_in_place(index, "甲".encode(), "丁".encode())
    assert any("index.json" in f for f in verify_ledger(tmp_path))
    with Store(tmp_path, backup_every_hours=None) as s:
        assert s.index(TABLE)["a"]["name"] == "甲"
        assert s.problems[0].severity == "warning" and "重建" in s.problems[0].message
    assert verify_ledger(tmp_path) == []


def test_history_chain_names_the_first_broken_line(tmp_path):
    with Store(tmp_path, backup_every_hours=None) as s:
        for n in range(4):
            s.put(TABLE, *item("a", V1, f"名{n}"))
    path = tmp_path / f"history/{TABLE}/{V1}.jsonl"
    assert chain.first_break(path) is None and verify_ledger(tmp_path) == []
    original = path.read_bytes().split(b"\n")
    lines = list(original)
    lines[1] = lines[1].replace("名1".encode(), "改1".encode())        # an edited entry
    path.write_bytes(b"\n".join(lines))
    found = verify_ledger(tmp_path)
    assert [f for f in found if f"{V1}.jsonl 第 3 行" in f and "哈希链" in f]   # the line after the edit
    with Store(tmp_path, backup_every_hours=None) as s:
        assert [h["diff"]["name"][1] for h in s.history(TABLE, "a")] == ["名0", "改1", "名2", "名3"]
        assert any("第 3 行" in p.message for p in s.problems)       # told when read, too
    del original[1]                                                    # a removed entry
    path.write_bytes(b"\n".join(original))
    assert any("第 2 行" in f for f in verify_ledger(tmp_path))


def test_a_history_checked_before_is_still_found_broken_when_edited_later(tmp_path):
    """A village's chain found whole is parsed again only from where it was found whole
    (`chain.check`): an entry edited afterwards, in place under the same size and mtime, or a
    line appended by hand that does not follow, is still told on the next read of a history."""
    with Store(tmp_path, backup_every_hours=None) as s:
        for n in range(4):
            s.put(TABLE, *item("a", V1, f"名{n}"))
        s.put(TABLE, *item("b", V1, "乙"))
    path = tmp_path / f"history/{TABLE}/{V1}.jsonl"
    with Store(tmp_path, backup_every_hours=None) as s:
        assert len(s.history(TABLE, "a")) == 4 and s.problems == []     # checked whole, remembered
        change_in_place(path, "名1".encode(), "改1".encode())
        assert len(s.history(TABLE, "b")) == 1
        [problem] = s.problems
        assert f"{V1}.jsonl 第 3 行" in problem.message and "哈希链" in problem.message
    change_in_place(path, "改1".encode(), "名1".encode())
    with Store(tmp_path, backup_every_hours=None) as s:
        assert len(s.history(TABLE, "a")) == 4 and s.problems == []
        with open(path, "ab") as fh:
            fh.write(b'{"_prev":"0000000000000000","_id":"a","diff":{}}\n')
        s.history(TABLE, "b")
        [problem] = s.problems
        assert f"{V1}.jsonl 第 6 行" in problem.message


def test_a_chain_checked_in_steps_gives_the_whole_files_answer(tmp_path):
    """`chain.check` from a remembered state and from the start agree on every prefix of a
    file with a break, a cut-off line and lines from before chains."""
    path = tmp_path / "h.jsonl"
    lines = [b'{"old":1}', b'{"old":2}']
    prev = chain.digest(lines[-1])
    for n in range(6):
        lines.append(chain.link({"n": n}, prev))
        prev = chain.digest(lines[-1])
    lines[6] = lines[6].replace(b'"n":4', b'"n":9')
    whole = b"\n".join(lines) + b"\n" + b'{"_prev":"'
    for cut in range(len(whole) + 1):
        path.write_bytes(whole[:cut])
        expected = chain.check(path)
        for known_at in range(0, cut + 1, 7):
            path.write_bytes(whole[:known_at])
            _, known = chain.check(path)
            path.write_bytes(whole[:cut])
            assert chain.check(path, known) == expected, (cut, known_at)


def test_a_cut_off_audit_line_does_not_swallow_the_next_entry(tmp_path):
    chain.append_audit(tmp_path, {"action": "导出", "operator": "甲"})
    with open(tmp_path / chain.AUDIT, "ab") as fh:
        fh.write('{"_prev":"x","action":"导'.encode())                  # a crash mid-append
    chain.append_audit(tmp_path, {"action": "恢复备份", "operator": "乙"})
    assert [e["action"] for e in chain.read_audit(tmp_path)] == ["导出", "恢复备份"]
    assert chain.first_break(tmp_path / chain.AUDIT) is None
    raw = (tmp_path / chain.AUDIT).read_bytes().replace("乙".encode(), "丙".encode())
    (tmp_path / chain.AUDIT).write_bytes(raw.replace(b'"_prev":"', b'"_prev":"0', 1))
    assert any("audit.jsonl 第 1 行" in f for f in verify_ledger(tmp_path))


def test_a_record_without_its_history_is_a_finding(tmp_path):
    fill(tmp_path)
    (tmp_path / f"history/{TABLE}/{V2}.jsonl").unlink()
    assert any("c" in f and "没有任何修改历史" in f for f in verify_ledger(tmp_path))


HOLDER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from core.storage import Store
    with Store(Path(sys.argv[1]), backup_every_hours=None) as s:
        print("ready", flush=True)
        sys.stdin.readline()
        s.put("registration", {"id": "held", "partition": "120116157201", "data": {}}, {}, {"who": "子进程"})
        print("saved", flush=True)
        sys.stdin.readline()
""")


@pytest.mark.skipif(sys.platform == "win32", reason="Windows does not let an open .lock be deleted")
def test_deleting_the_lock_file_does_not_let_a_second_writer_in(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        (tmp_path / ".lock").unlink()
        with pytest.raises(StoreLocked):
            Store(tmp_path, backup_every_hours=None)      # the folder itself is still locked
        child.stdin.write("\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "saved"  # the holder checked and locked .lock anew
        assert (tmp_path / ".lock").exists()
    finally:
        child.stdin.close()
        assert child.wait(timeout=20) == 0
    with Store(tmp_path, backup_every_hours=None) as s:
        assert s.get(TABLE, "held") is not None


def test_outputs_inside_the_data_folder_are_refused(tmp_path):
    data = tmp_path / "data"
    (data / "records").mkdir(parents=True)
    os.symlink(data / "records", tmp_path / "link")
    for target in (data / "records/registration/x.json", data, tmp_path / "link" / "out.csv"):
        with pytest.raises(StorageError, match="数据文件夹"):
            check_output(data, target)
    assert check_output(data, tmp_path / "out.xlsx") == tmp_path / "out.xlsx"


def test_export_into_the_data_folder_is_refused_and_the_village_file_is_kept(tmp_path, capsys):
    data = tmp_path / "data"
    assert main(["demo", "--persons", "5", "--data", str(data)]) == 0
    [village] = sorted((data / "records/registration").glob("*[0-9].json"))[:1]
    before = village.read_bytes()
    code = main(["export", "records", "--format", "csv", "--output", str(village), "--data", str(data)])
    assert code != 0 and "数据文件夹" in capsys.readouterr().err
    assert village.read_bytes() == before
    assert main(["verify", "--data", str(data)]) == 0


def test_every_command_tells_what_was_set_aside_and_verify_fails(tmp_path, capsys):
    data = tmp_path / "data"
    assert main(["demo", "--persons", "5", "--data", str(data)]) == 0
    with Store(data):            # today's backup holds good copies
        pass
    village = sorted((data / "records/registration").glob("*[0-9].json"))[0]
    change_in_place(village, b'"name":"', b'"name";"')
    capsys.readouterr()
    assert main(["verify", "--data", str(data)]) == 1
    out = capsys.readouterr()
    assert village.name in out.out and "发现" in out.err
    rid = next(iter(json.loads(village.with_suffix(".index.json").read_bytes())["rows"]))
    main(["records", "show", rid, "--data", str(data)])      # reading the person finds the damage
    err = capsys.readouterr().err
    assert "注意：" in err and village.name in err and "backups/" in err


def test_a_journal_left_by_a_crash_is_read_by_readers_and_replayed_by_the_writer(tmp_path):
    fill(tmp_path)
    s = Store(tmp_path, backup_every_hours=None)
    s.put(TABLE, *item("d", V2, "丁"))
    s.put(TABLE, *item("a", V2, "甲搬家"))           # a move: two villages in one line
    s._journal.close()                                # the process dies: no checkpoint
    s._lock.release()
    assert json.loads(data_file(tmp_path).read_bytes())["_default"]      # the files are as before
    with Store(tmp_path, readonly=True) as ro:
        assert ro.get(TABLE, "a")["data"]["name"] == "甲搬家" and ro.index(TABLE)["a"]["_p"] == V2
        assert [h["diff"]["name"][1] for h in ro.history(TABLE, "a")] == ["甲", "甲搬家"]
    assert verify_ledger(tmp_path) == []
    with Store(tmp_path, backup_every_hours=None) as s2:
        assert (tmp_path / "journal.jsonl").stat().st_size == 0
        assert sorted(s2.index(TABLE)) == ["a", "b", "c", "d"]
    assert "甲搬家".encode() in data_file(tmp_path, V2).read_bytes()
    assert b'"id":"a"' not in data_file(tmp_path).read_bytes()
    assert verify_ledger(tmp_path) == []


def test_a_damaged_journal_line_is_kept_and_told(tmp_path):
    fill(tmp_path)
    s = Store(tmp_path, backup_every_hours=None)
    s.put(TABLE, *item("d", V2, "丁"))
    s.put(TABLE, *item("e", V2, "戊"))
    s._journal.close()
    s._lock.release()
    raw = (tmp_path / "journal.jsonl").read_bytes()
    (tmp_path / "journal.jsonl").write_bytes(raw.replace("丁".encode(), "丙".encode(), 1))
    with Store(tmp_path, backup_every_hours=None) as s2:
        assert s2.get(TABLE, "d") is None and s2.get(TABLE, "e")["data"]["name"] == "戊"
        [problem] = s2.problems
        assert "journal.jsonl" in problem.message and "第 1 行" in problem.message
    assert list((tmp_path / "quarantine").glob("journal.jsonl.*"))


def test_a_damaged_rollup_file_is_set_aside_whole_and_rebuilt_from_the_visits(tmp_path):
    from binhai_support import open_engine, person, visit, TODAY

    eng = open_engine(tmp_path)
    people = [eng.save("registration", person(name=f"老人{i}")).id for i in range(2)]
    for rid in people:
        eng.save("visit", visit(rid, TODAY))
    expected = eng.latest("visit")
    eng.close()
    [rollup] = (tmp_path / "data/records/rollup_visit").glob("*[0-9].json")
    change_in_place(rollup, TODAY.isoformat().encode(), b"1999-01-01")
    eng = open_engine(tmp_path, forms=tmp_path / "forms")
    try:
        eng.store.get("rollup_visit", people[0])           # reading the file finds the damage
        assert eng.latest("visit") == expected
        assert all(p.severity == "warning" for p in eng.store.problems)
        assert eng.verify_rollups() == []
    finally:
        eng.close()


def test_a_ledger_from_before_journal_and_seals_opens_quietly_and_goes_on(tmp_path):
    """Files as the previous version wrote them: unsealed village, index format 3, history
    lines without a chain. Nothing is reported; the next save seals and chains from there."""
    folder = tmp_path / "records" / TABLE
    folder.mkdir(parents=True)
    doc = {"id": "a", "partition": V1, "data": {"name": "甲"}, "_row": {"name": "甲"}, "_t": 5}
    data_file(tmp_path).write_text(json.dumps({"_default": {"1": doc}}, ensure_ascii=False), "utf-8")
    (folder / f"{V1}.index.json").write_text(
        '{"format":3,"data":[1,2],"layout":null,"check":0,"rows":{\n"a":{"name":"甲","_t":5}\n}}', "utf-8")
    hist = tmp_path / f"history/{TABLE}/{V1}.jsonl"
    hist.parent.mkdir(parents=True)
    hist.write_text('{"_id":"a","_t":5,"who":"王五","diff":{"name":[null,"甲"]}}\n', "utf-8")
    assert verify_ledger(tmp_path) == []
    with Store(tmp_path, backup_every_hours=None) as s:
        assert s.get(TABLE, "a")["data"]["name"] == "甲" and s.problems == []
        s.put(TABLE, *item("a", V1, "甲二"))
        assert [h["diff"]["name"][1] for h in s.history(TABLE, "a")] == ["甲", "甲二"] and s.problems == []
    assert b"_seal" in data_file(tmp_path).read_bytes()
    assert verify_ledger(tmp_path) == []


def test_a_failing_write_listener_is_logged_in_chinese_and_the_write_stands(tmp_path, caplog):
    """A listener on the store's writes (the kept values beside the ledger) that fails leaves
    the write as it is, and the warning names the failure in Chinese (staff may read it on a
    CLI's screen), not as a Python repr."""
    import errno
    import logging

    def denied(p, docs, key):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "cache"))

    with caplog.at_level(logging.WARNING, logger="carebook.store"):
        with Store(tmp_path, backup_every_hours=None) as s:
            s.when_written(TABLE, denied)
            s.put(TABLE, *item("a", V1, "甲"))
    [record] = [r for r in caplog.records if r.name == "carebook.store"]
    assert "写入后留值失败" in record.getMessage() and "没有权限" in record.getMessage()
    assert "PermissionError" not in record.getMessage()
    with Store(tmp_path, backup_every_hours=None) as s:
        assert s.get(TABLE, "a")["data"]["name"] == "甲"
