"""Journal compaction off the clerk's save: village files rewritten in the background.

Issue 14: once 48 villages (or 400 saves) were held in the journal, the save that crossed the
line rewrote all of them before it returned (over a second at 50,000 people). Now that save
returns after its own journal line; a background thread writes the villages one at a time and
empties the journal when all are in their files. These tests: no village file is written by
the saving thread; everything ends up in the files with the journal empty; a save made while
the background writer runs is kept; and a writer killed at every durable step of a background
compaction loses nothing (`verify` finds nothing, every acknowledged save is there).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import core.storage.store as store_module
from core.storage import journal
from core.storage.store import Store
from core.storage.verify import verify_ledger
from forked import run_python
from storage_support import TABLE, item

VILLAGES = [f"1201161572{i:02d}" for i in range(1, 9)]


def _wait(store: Store) -> None:
    if store._compactor is not None:
        store._compactor.join(timeout=60)


def test_the_save_that_crosses_the_line_writes_no_village_file(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "CHECKPOINT_VILLAGES", 3)
    writers: list[str] = []
    write_village = Store._write_village

    def spy(self, *args, **kwargs):
        writers.append(threading.current_thread().name)
        return write_village(self, *args, **kwargs)

    monkeypatch.setattr(Store, "_write_village", spy)
    root = tmp_path / "data"
    s = Store(root, backup_every_hours=None)
    for n, village in enumerate(VILLAGES):
        s.put(TABLE, *item(f"r{n}", village, f"人{n}"), new=True)
    _wait(s)
    assert writers and set(writers) == {"carebook-compact"}, writers
    assert (root / journal.NAME).stat().st_size == 0          # every change is in a file
    for n, village in enumerate(VILLAGES):
        assert (root / f"records/{TABLE}/{village}.json").exists()
        assert s.get(TABLE, f"r{n}")["data"]["name"] == f"人{n}"
    s.close()
    with Store(root, readonly=True) as again:
        assert sorted(again.index(TABLE)) == sorted(f"r{n}" for n in range(len(VILLAGES)))
        assert len(again.history(TABLE, "r0")) == 1
    assert verify_ledger(root) == []


def test_saves_made_while_the_background_writer_runs_are_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "CHECKPOINT_VILLAGES", 2)
    root = tmp_path / "data"
    with Store(root, backup_every_hours=None) as s:
        for n in range(60):                       # edits and new records across eight villages
            village = VILLAGES[n % len(VILLAGES)]
            s.put(TABLE, *item(f"r{n % 20}", village, f"人{n}"))
        _wait(s)
    with Store(root, readonly=True) as again:
        names = {rid: again.get(TABLE, rid)["data"]["name"] for rid in again.index(TABLE)}
        assert names == {f"r{k}": f"人{40 + k}" for k in range(20)}
        assert len(again.history(TABLE, "r0")) == 3
    assert verify_ledger(root) == []


WRITER = r"""
import json, sys
sys.path.insert(0, sys.argv[2])
import core.storage.store as store_module
from core.storage.store import Store
from forked import run_python
from storage_support import TABLE, item

store_module.CHECKPOINT_VILLAGES = 2
store_module.COMPACT_IDLE = 0.0      # the writer joins the compactor after each save anyway: no idle wait
villages = [f"1201161572{i:02d}" for i in range(1, 5)]
s = Store(sys.argv[1], backup_every_hours=None)
for n in range(8):
    s.put(TABLE, *item(f"r{n % 5}", villages[n % 4], f"人{n}"))
    print(json.dumps({"id": f"r{n % 5}", "name": f"人{n}"}), flush=True)
    if s._compactor is not None:
        s._compactor.join()          # one order of steps, so that every step is stopped at
s.close()
"""


def _run(data: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    tests = str(Path(__file__).resolve().parent)
    return run_python(["-c", WRITER, str(data), tests], {**os.environ, **env}, timeout=120)


@pytest.mark.skipif(sys.platform == "win32", reason="os._exit mid-write is tested on POSIX")
def test_a_background_compaction_stopped_at_every_step_loses_nothing(tmp_path):
    log = tmp_path / "steps.log"
    done = _run(tmp_path / "probe", {"CAREBOOK_CRASH_LOG": str(log)})
    assert done.returncode == 0, done.stderr.decode()
    steps = log.read_text().split()
    assert sum(s.startswith("journal-cleared:") for s in steps) >= 3, steps

    def crash(n: int, at: str) -> list[str]:
        data = tmp_path / f"crash{n}"
        stopped = _run(data, {"CAREBOOK_CRASH_AT": at})
        if stopped.returncode != 86:
            return [f"exit {stopped.returncode}: {stopped.stderr.decode()[-400:]}"]
        acks = [json.loads(line) for line in stopped.stdout.decode().splitlines() if line.endswith("}")]
        out = []
        with Store(data, backup_every_hours=None) as s:          # the next writer recovers
            out += [f"problem: {p}" for p in s.problems]
            saves = [(f"r{n % 5}", f"人{n}") for n in range(8)]      # the writer's saves, in order
            for rid in {a["id"] for a in acks}:
                last = max(n for n, a in enumerate(acks) if a["id"] == rid)
                allowed = {name for n, (r, name) in enumerate(saves) if r == rid and n >= last}
                rec = s.get(TABLE, rid)
                if rec is None or rec["data"]["name"] not in allowed:
                    out.append(f"lost: {rid} (stored {rec and rec['data']['name']}, allowed {allowed})")
        out += verify_ledger(data)
        shutil.rmtree(data)
        return out

    with ThreadPoolExecutor(max_workers=2) as pool:
        found = dict(zip(steps, pool.map(crash, range(len(steps)), steps)))
    assert {at: f for at, f in found.items() if f} == {}
