"""A bulk save's records checked by a forked copy of the engine (issue 13: the demo at 50,000).

`core.transfer.bulkfork` runs `Engine.bulk_checked` in a forked process while the engine
draws and stores. These tests hold it to the one-process save: the same ledger from the same
seed (every record's content, the rollups), every stored record one the full validation
accepts, the checks really made in the copy, a refused record told in the parent with its
problems (or to `on_problem` with its place), and no copy left running.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))   # tests/ helpers under --import-mode=importlib
import datetime as dt
import json
import random
import subprocess
import threading

import pytest

from binhai_support import open_engine
from core.problems import CarebookError, ValidationFailed
from core.transfer import bulkfork, demo

AS_OF = dt.date(2026, 6, 30)


def _content(eng) -> list[str]:
    """Every record as stored (its id and time stamps aside; a visit's person by file number)
    and every rollup row: what two ledgers of one seed must share."""
    people = {rid: row.get("file_no") for rid, row in eng.index("registration").rows.items()}
    out = []
    for form in ("registration", "visit"):
        for rec in eng.iter_records(form):
            data = dict(rec["data"])
            if "person" in data:
                data["person"] = people[data["person"]]
            out.append(json.dumps({k: rec[k] for k in ("form", "version", "partition", "operator", "meta")}
                                  | {"data": data}, ensure_ascii=False, sort_keys=True))
    for rid, row in eng.store.index("rollup_visit").items():
        out.append(json.dumps({"rollup": people[rid]} | {k: v for k, v in row.items() if k not in ("_t", "_p")},
                              ensure_ascii=False, sort_keys=True))
    return sorted(out)


# Run in a process of its own: the demo forks only where no other thread runs, and a test
# process may hold threads of other tests (tests/forked.py's reader). Once the copy is made,
# the parent may no longer check a record: every record stored was checked by the copy.
FORKED_DEMO = r"""
import datetime as dt, json, os, sys
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from binhai_support import open_engine
from core.transfer import bulkfork, demo

made = []
real = bulkfork.ForkedChecker.__init__

def init(self, engine):
    real(self, engine)
    made.append(self._proc.pid)

    def refuse(*a, **kw):
        raise AssertionError("a record was checked in the parent")
    engine._prepare = refuse

bulkfork.ForkedChecker.__init__ = init
eng = open_engine(Path(sys.argv[1]))
counts = demo.generate(eng, persons=150, seed=5, as_of=dt.date(2026, 6, 30), village_days=40, town_quarters=2,
                       fork=True)
eng.close()
print(json.dumps({"counts": counts, "made": made, "me": os.getpid()}))
"""


def test_a_forked_demo_is_the_ledger_made_in_one_process_and_every_record_passes(tmp_path):
    one = open_engine(tmp_path / "one")
    demo.generate(one, persons=150, seed=5, as_of=AS_OF, village_days=40, town_quarters=2, fork=False)
    run = subprocess.run([sys.executable, "-c", FORKED_DEMO, str(tmp_path / "two"), str(Path(__file__).parent)],
                         capture_output=True, text=True, timeout=600, cwd=Path(__file__).parent.parent)
    assert run.returncode == 0, run.stderr[-3000:]
    said = json.loads(run.stdout.strip().splitlines()[-1])
    assert len(said["made"]) == 1 and said["made"][0] != said["me"]
    two = open_engine(tmp_path / "two", tmp_path / "two" / "forms")
    counts = said["counts"]
    assert counts == {"registration": 150, "visit": one.count("visit")} and counts["visit"] > 300
    assert _content(two) == _content(one)
    # every stored record passes the full validation, read back as stored
    for form in ("registration", "visit"):
        for rec in two.iter_records(form):
            assert [p for p in two.validate_stored(rec["id"]) if p.is_error] == [], rec["data"]
    assert len(two.index("registration").rows) == 150
    assert two.visits_due(as_of=AS_OF)
    one.close()
    two.close()


def test_the_engine_that_stored_a_forked_save_lists_every_record(tmp_path):
    """The parent's index of a form checked elsewhere is made again from the store's rows."""
    eng = open_engine(tmp_path)
    people = _people(eng, 30)
    with bulkfork.ForkedChecker(eng) as check:
        assert eng.bulk_save("registration", people, operator="测试员", checker=check) == 30
    rows = eng.index("registration").rows
    assert sorted(r["id_number"] for r in rows.values()) == sorted(p["id_number"] for p in people)
    assert all(r["_s"].startswith(r["name"] + "\x1f") and len(r["_s"]) > len(r["name"]) + 1 for r in rows.values())
    assert eng.find_unique("registration", "id_number", people[3]["id_number"]) in rows
    eng.close()


def _people(eng, n: int) -> list[dict]:
    led = demo.Ledger(eng, random.Random(2), AS_OF)
    return [led.person() for _ in range(n)]


def test_a_copy_that_dies_is_an_error_in_chinese_not_a_broken_pipe(tmp_path):
    """The copy killed (the system out of memory on a big demo) before records are sent to it:
    the save says so as a `CarebookError`. A `BrokenPipeError` let through was taken by the CLI
    for a reader that left, and ended with success on a part of the ledger."""
    import os
    import signal

    eng = open_engine(tmp_path)
    people = _people(eng, 20)
    with bulkfork.ForkedChecker(eng) as check:
        os.kill(check._proc.pid, signal.SIGKILL)
        check._proc.join()
        with pytest.raises(CarebookError) as caught:
            eng.bulk_save("registration", people, operator="测试员", checker=check)
    assert not isinstance(caught.value, OSError) and "子进程意外退出" in str(caught.value)
    assert eng.count("registration") == 0
    eng.close()


def test_a_record_the_copy_refuses_is_raised_here_with_its_problems_and_the_copy_ends(tmp_path):
    eng = open_engine(tmp_path)
    people = _people(eng, 7)
    people[4]["id_number"] = "120107195001011234"          # a wrong check character
    with bulkfork.ForkedChecker(eng) as check:
        with pytest.raises(ValidationFailed) as caught:
            eng.bulk_save("registration", people, operator="测试员", checker=check)
        proc = check._proc
    assert any(p.path == "id_number" and p.is_error for p in caught.value.problems)
    assert "身份证" in str(caught.value)
    assert not proc.is_alive() and proc.exitcode is not None
    assert eng.count("registration") == 0           # the batch is refused whole, as in one process
    eng.close()


def test_on_problem_hears_each_refused_record_by_its_place_and_the_rest_are_stored(tmp_path):
    eng = open_engine(tmp_path)
    people = _people(eng, bulkfork.BATCH + 30)          # two messages to the copy
    for i in (3, bulkfork.BATCH + 7):
        people[i]["id_number"] = "12010719500101123X" if people[i]["id_number"][-1] != "X" else "120107195001011234"
    people[bulkfork.BATCH + 11]["id_number"] = people[0]["id_number"]   # seen before: unique, across messages
    people[5]["children"] = "两个儿子"                  # not rows: refused by its shape, before the copy
    heard: dict[int, list] = {}
    with bulkfork.ForkedChecker(eng) as check:
        saved = eng.bulk_save("registration", people, operator="测试员",
                              on_problem=lambda i, found: heard.setdefault(i, found), checker=check)
    assert sorted(heard) == [3, 5, bulkfork.BATCH + 7, bulkfork.BATCH + 11]
    assert all(any(p.path == "id_number" for p in found) for i, found in heard.items() if i != 5)
    assert [p.rule for p in heard[5]] == ["shape"] and heard[5][0].path == "children"
    assert saved == len(people) - 4 == eng.count("registration")
    stored = {r["data"]["id_number"] for r in eng.iter_records("registration")}
    assert stored == {p["id_number"] for i, p in enumerate(people) if i not in heard}
    eng.close()


def test_no_fork_while_another_thread_runs(tmp_path):
    eng = open_engine(tmp_path)
    alone = bulkfork.usable(eng)         # False where the test process holds other tests' threads
    go = threading.Event()
    other = threading.Thread(target=go.wait)
    other.start()
    try:
        assert not bulkfork.usable(eng, wait=0.05)
    finally:
        go.set()
        other.join()
    assert bulkfork.usable(eng) == alone
    eng.close()


def test_the_copy_keeps_of_each_row_what_checks_read(tmp_path):
    """Unique and numbered fields and what visits copy; the whole row once a plugin's hook runs."""
    eng = open_engine(tmp_path)
    form = eng.form("registration")
    rec = {"data": _people(eng, 1)[0], "partition": "120116157201", "version": 1, "updated": "x"}
    with eng._bulk_session():
        row = eng._check_row(form, rec)
    assert set(row) == {"file_no", "id_number", "name", "town", "village", "_p"}
    assert all(row[k] == rec["data"][k] for k in row if k != "_p")
    eng._bulk_hooks = {"validate_record": True, "before_save": False}
    assert eng._check_row(form, rec) == eng._index_row(form, rec, search=False)
    eng._bulk_hooks = None
    eng.close()


def test_a_record_to_be_numbered_is_not_sent_to_the_copy(tmp_path):
    eng = open_engine(tmp_path)
    person = _people(eng, 1)[0]
    person.pop("file_no")
    with bulkfork.ForkedChecker(eng) as check:
        with pytest.raises(CarebookError, match="自动编号"):
            eng.bulk_save("registration", [person], operator="测试员", checker=check)
    eng.close()


def test_a_plugin_failure_in_the_copy_reaches_the_parent_as_itself():
    """The copy sends its exception pickled; `PluginFailed` (four arguments) used to pickle but
    not unpickle, so the parent showed a TypeError's traceback instead of the Chinese message.
    Any exception that cannot be rebuilt arrives as a CarebookError with its message."""
    import pickle

    from core.plugins import PluginFailed
    from core.problems import CarebookError
    from core.transfer.bulkfork import _pickled

    sent = PluginFailed("town_check", "before_save", "ValueError: 坏值", "保存记录")
    got = pickle.loads(_pickled(sent))
    assert isinstance(got, PluginFailed) and str(got) == str(sent) and "插件 town_check" in str(got)

    class Odd(Exception):
        def __init__(self, a, b):
            super().__init__(f"{a}{b}")
    got = pickle.loads(_pickled(Odd("出错", "了")))
    assert isinstance(got, CarebookError) and str(got) == "出错了"
