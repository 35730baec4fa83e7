"""The day's recompute made by a forked copy before the staff screen opens (`dayapart`).

On the first open of a new day `carebook` recomputes ages and what follows with history. At
50,000 people on the first day after an upgrade that read every record, and the staff screen's
process kept the memory all day (315–325 MB against 250 MB). A forked copy now makes the run
and the screen's process opens the ledger again with the day done. These tests hold it to the
in-process run: the same values and history written, by another process, the day then done
for the screen's engine; a copy that fails leaving the run to this process; no fork when
nothing is due or forking is not safe.

The test process may hold other threads (pytest-xdist's), where `fork_safe` says no; the
`carebook` process it is made for holds one. The tests say yes for it, as the bulk fork's do.
"""
from __future__ import annotations

import datetime as dt
import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fork_support import count_forks, settle_keeping  # noqa: E402
from test_reevaluate_fields import DAY, _ledger  # noqa: E402

from core import forksafe  # noqa: E402
from core.engine import Engine  # noqa: E402
from core.lifecycle import keptfiles, reevaluate  # noqa: E402
from core.lifecycle.reevaluate import wait_kept  # noqa: E402

LATER = DAY + dt.timedelta(days=400)        # every person a year older


def _opener(forms: Path, data: Path):
    return lambda: Engine.open(data, forms, operator="李芳", today=lambda: LATER)


def _state(forms: Path, data: Path) -> tuple[dict, dict]:
    """Every registration's data, and the history entries of the day's run per record."""
    with Engine.open(data, forms, readonly=True, today=lambda: LATER) as eng:
        records = {r["id"]: r["data"] for r in eng.iter_records("registration")}
        runs = {rid: [(e.get("operator"), e.get("changes")) for e in eng.history(rid, "registration")
                      if e.get("operator") == reevaluate.DAY_OPERATOR] for rid in records}
    return records, runs


def _not_kept(eng) -> list[str]:
    """The villages whose values the rows lack are not kept current (under today's forms)."""
    from core.lifecycle.keptvalues import kept_spec

    spec = keptfiles.spec_items(kept_spec(eng, eng.form("registration")))
    return [p for p, key in eng.store.files_keys("registration").items()
            if keptfiles._current(eng.store, "registration", p, spec, key) is None]


@pytest.fixture
def forkable(monkeypatch):
    """Forking allowed, as in the `carebook` process (one thread); the forks made, counted."""
    settle_keeping()
    monkeypatch.setattr(forksafe, "fork_safe", lambda store, wait=1.0: True)
    return count_forks(monkeypatch)


def test_the_days_run_is_made_by_a_forked_copy_with_the_in_process_runs_values_and_history(
        tmp_path, forkable, monkeypatch):
    forms, data = _ledger(tmp_path, 3)
    alone = tmp_path / "alone"
    shutil.copytree(data, alone)
    with _opener(forms, alone)() as eng:                  # the reference: made in this process
        assert eng.refresh_for_today().changed > 0
    settle_keeping()                                       # its thread ended: a fork may be made
    pids = tmp_path / "pids"
    real_run = reevaluate.run

    def run(*a, **k):
        with pids.open("a") as fh:
            fh.write(f"{os.getpid()}\n")
        return real_run(*a, **k)
    monkeypatch.setattr(reevaluate, "run", run)          # the copy inherits it
    read: list = []                                      # villages read here for kept values
    real_entry = keptfiles._entry
    monkeypatch.setattr(keptfiles, "_entry", lambda *a: read.append(a[1]) or real_entry(*a))
    shutil.rmtree(data / "cache", ignore_errors=True)    # nothing kept yet

    first = _opener(forms, data)()
    assert first.refresh_due()
    eng = first.recompute_day_apart(_opener(forms, data))
    try:
        assert eng is not first and not eng.refresh_due()
        assert [int(p) for p in pids.read_text().split()] != [os.getpid()]   # made by another process
        assert len(pids.read_text().split()) == 1
        assert eng.refresh_for_today() is None            # the day done: nothing run here
        assert len(pids.read_text().split()) == 1
        # the values the rows lack kept by the copy's keeper, not by this process's thread,
        # which waits for the keeper's end and then finds every village current
        wait_kept(eng)
        assert read == [] and _not_kept(eng) == []
        assert len(list(keptfiles.folder(eng.store, "registration").glob("[!.]*.bin"))) == \
            len(eng.store.files_keys("registration"))
    finally:
        eng.close()
    got, want = _state(forms, data), _state(forms, alone)
    assert got[0] == want[0]
    assert got[1] == want[1] and any(got[1].values())     # one history entry each, as in-process


def test_a_copy_that_fails_leaves_the_run_to_this_process(tmp_path, forkable, monkeypatch):
    forms, data = _ledger(tmp_path, 3)
    parent = os.getpid()
    real_run = reevaluate.run

    def run(*a, **k):
        if os.getpid() != parent:
            raise OSError(28, "No space left on device")
        return real_run(*a, **k)
    monkeypatch.setattr(reevaluate, "run", run)
    first = _opener(forms, data)()
    eng = first.recompute_day_apart(_opener(forms, data))
    try:
        assert eng is not first and eng.refresh_due()      # not done by the copy
        assert eng.refresh_for_today().changed > 0         # made here, as before
        assert not eng.refresh_due() and len(forkable) == 1   # the copy, no keeper
    finally:
        settle_keeping()
        eng.close()


def test_no_copy_when_nothing_is_due_or_forking_is_not_safe(tmp_path, monkeypatch):
    forms, data = _ledger(tmp_path, 3)
    monkeypatch.setattr(os, "fork", lambda: pytest.fail("forked"))
    monkeypatch.setattr(forksafe, "fork_safe", lambda store, wait=1.0: False)
    eng = _opener(forms, data)()
    assert eng.refresh_due() and eng.recompute_day_apart(_opener(forms, data)) is eng
    monkeypatch.setattr(forksafe, "fork_safe", lambda store, wait=1.0: True)
    assert eng.refresh_for_today().changed > 0
    assert eng.recompute_day_apart(_opener(forms, data)) is eng      # nothing due any more
    eng.close()


def test_opening_asks_whether_the_ledger_is_empty_without_loading_its_list_rows(tmp_path):
    """A demo ledger is checked for people when opened, before the day's run is handed to the
    copy: list rows loaded then stayed in the screen's memory beside those loaded after the
    ledger is opened again (290 MB against 225 MB at 50,000 people, seen in the process)."""
    from tui import roles

    forms, data = _ledger(tmp_path, 3)
    with _opener(forms, data)() as eng:
        assert not roles.ledger_is_empty(eng)
        assert "registration" not in eng._indexes               # answered from the index files
        assert eng.has_records("registration") == (eng.count("registration") > 0)
    with Engine.open(tmp_path / "empty", forms) as eng:
        assert roles.ledger_is_empty(eng) and not eng.has_records("registration")


def test_a_damaged_village_the_copy_sets_aside_is_told_in_the_screens_problems(tmp_path, forkable):
    """The copy's run finds a village file whose bytes were changed and sets it aside; its
    store ends with the copy, so what it found is handed back and shown as before."""
    forms, data = _ledger(tmp_path, 3)
    village = sorted(p for p in (data / "records" / "registration").glob("*.json") if ".index" not in p.name)[0]
    raw = bytearray(village.read_bytes())
    at = raw.index(b'"updated":"') + len(b'"updated":"')          # a digit of a date: same size
    raw[at] = ord("1") if raw[at] != ord("1") else ord("2")
    village.write_bytes(bytes(raw))
    first = _opener(forms, data)()
    eng = first.recompute_day_apart(_opener(forms, data))
    try:
        assert eng is not first and not eng.refresh_due() and forkable   # made by the copy
        told = "\n".join(eng.problems)
        assert village.stem in told and "校验和不符" in told, told
    finally:
        eng.close()
