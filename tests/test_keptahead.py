"""A cold dry run's village reads done by a forked copy while the rows are walked (`keptahead`).

The first dry run after a threshold change on a ledger with no values kept (a copied or
restored ledger, the cache deleted) used to walk the rows, then read every village for the
values the rows lack: 4.5 s at 50,000 people, over the 3 s target. A forked copy now reads
the villages while the rows are walked. These tests hold it to the one-process answer: the
same result as evaluating every record, every village kept by the copy and none read here, a
copy that fails leaving the reading to this process, a copy not needed ended and reaped, and
no fork when every village is kept.

The test process may hold other threads (pytest-xdist's), where `fork_safe` says no; the
command-line process it is made for holds one. The tests say yes for it, as the bulk fork's do.
"""
from __future__ import annotations

import datetime as dt
import os
import shutil
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from binhai_support import set_setting  # noqa: E402
from fork_support import count_forks  # noqa: E402
from test_reevaluate_fields import DAY, _full, _ledger, _quick, _same  # noqa: E402
from test_reevaluate_kept import _people  # noqa: E402

from core import forksafe  # noqa: E402
from core.engine import Engine  # noqa: E402
from core.lifecycle import keptahead, keptfiles  # noqa: E402


@pytest.fixture
def watched(monkeypatch):
    """Forking allowed; the copies started ({"ahead": [...]}) and the villages this process
    read for kept values ({"read": [...]}: `keptfiles._entry` runs here for each)."""
    monkeypatch.setattr(forksafe, "fork_safe", lambda store, wait=1.0: True)
    seen: dict[str, list] = {"ahead": [], "read": []}
    real_start, real_entry = keptahead.start, keptfiles._entry

    def start(engine, form):
        found = real_start(engine, form)
        seen["ahead"].append(found)
        return found

    def entry(spec, key, stamped):
        seen["read"].append(key)         # in the copy too, but its list is its own
        return real_entry(spec, key, stamped)

    monkeypatch.setattr(keptahead, "start", start)
    monkeypatch.setattr(keptfiles, "_entry", entry)
    return seen


def _cold(tmp_path: Path, age: str = "85", watching=()):
    """A ledger marked under the shipped forms, 高龄 moved to `age`, nothing kept; the full
    run's answer; the kept folder; the village files' keys."""
    forms, data = _ledger(tmp_path, 4, extra=_people())
    set_setting(forms, "advanced_age", age)
    day = DAY + dt.timedelta(days=1)
    slow = _full(tmp_path, forms, data, day, "dry")
    with Engine.open(data, forms, readonly=True) as eng:
        cache = keptfiles.folder(eng.store, "registration")
        keys = eng.store.files_keys("registration")
    shutil.rmtree(cache)
    for seen in watching:
        seen.clear()                     # what the ledger's making and the full run read
    return forms, data, day, slow, cache, keys


def _gone(pid: int) -> bool:
    """Whether the process is ended and reaped (no zombie left)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def test_a_cold_dry_run_has_the_villages_read_by_a_forked_copy_with_the_full_runs_answer(tmp_path, watched):
    forms, data, day, slow, cache, keys = _cold(tmp_path, watching=watched.values())
    with pytest.MonkeyPatch.context() as mp:
        pids = count_forks(mp)
        quick, parts = _quick(forms, data, day)
    _same(quick, slow)
    assert quick.changes[("registration", "风险等级", "高", "中")] >= 1, quick.table()
    assert len(pids) == 1 and _gone(pids[0])
    assert watched["read"] == []                        # every village read by the copy
    assert {f.stem: keptfiles._read(f)[1] for f in cache.glob("1*.bin")} == keys
    assert not [p for p in parts if p[0] == "part"], parts
    # the next dry run's copy finds every village kept, and nothing is read here either
    again, _ = _quick(forms, data, day)
    _same(again, slow)
    assert watched["read"] == [] and all(a is not None and a.pid is None for a in watched["ahead"])


def test_a_copy_that_fails_leaves_the_reading_to_this_process(tmp_path, watched, monkeypatch):
    forms, data, day, slow, cache, keys = _cold(tmp_path, watching=watched.values())

    def broken(*a, **k):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(keptfiles, "keep_current", broken)     # in the copy: it forks after this
    quick, parts = _quick(forms, data, day)
    _same(quick, slow)
    (ahead,) = watched["ahead"]
    assert ahead is not None and ahead.pid is None            # started, ended, reaped
    # this process read the villages of the people the rows left undecided, and kept them
    read = watched["read"]
    assert read and len(set(read)) == len(read) and set(read) <= set(keys.values())
    assert {keys[f.stem] for f in cache.glob("1*.bin")} == set(read)


def test_a_copy_the_walk_does_not_need_is_ended(tmp_path, watched, monkeypatch):
    """Lowering 高龄 to 75 is decided from the rows: the copy, which keeps one village and then
    hangs, is stopped and reaped, not waited for, and what it kept is whole."""
    forms, data, day, slow, cache, keys = _cold(tmp_path, "75", watched.values())
    pids = []
    real_fork, real_write = os.fork, keptfiles._write
    wrote = tmp_path / "wrote"

    def hanging_fork():
        pid = real_fork()
        if pid == 0:                      # the copy: one village kept, then it hangs

            def once(path, obj):
                real_write(path, obj)
                if path.name != keptfiles.SPEC:
                    wrote.write_text(path.name)
                    time.sleep(600)
            keptfiles._write = once
        else:
            pids.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", hanging_fork)
    monkeypatch.setattr(keptahead, "start", keptahead.start)      # the walk asks for no values:
    started = time.monotonic()
    quick, _ = _quick(forms, data, day)                            # nothing waits for the copy
    _same(quick, slow)
    assert len(pids) == 1 and _gone(pids[0]) and time.monotonic() - started < 60
    held = list(cache.glob("1*.bin"))
    if wrote.exists():                    # the copy got that far before it was stopped
        assert [f.name for f in held] == [wrote.read_text()]
    assert all(keptfiles._read(f) is not None for f in held)       # whole
    assert not list(cache.glob(".*.tmp"))


def test_no_copy_where_forking_is_not_safe(tmp_path, monkeypatch):
    forms, data, day, slow, cache, keys = _cold(tmp_path)
    monkeypatch.setattr(forksafe, "fork_safe", lambda store, wait=1.0: False)
    monkeypatch.setattr(os, "fork", lambda: pytest.fail("forked"))
    quick, _ = _quick(forms, data, day)
    _same(quick, slow)
    assert list(cache.glob("1*.bin"))              # the villages read here kept, as before
