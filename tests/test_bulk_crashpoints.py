"""A bulk save (demo, import) stopped at every durable step: each batch whole or absent.

Issue 14: a bulk batch wrote its records in one commit and the rollup rows they change in a
second one, so a crash between the two left visits the due list and the summary did not count.
Here the writer (the real engine, `BULK_BATCH` made small so that six visits of two people in
two villages are two batches) bulk-saves the visits and closes; its durable steps are listed
once (`CAREBOOK_CRASH_LOG`), then it is run again on a fresh copy of the ledger for every step
and ends there (`os._exit`, like kill -9). After each stop the ledger is opened as the next
writer would, and: a batch's visits are all there or none, a later batch never without the
earlier one, every visit acknowledged is there, the rollup rows agree with the visits, and
`verify` finds nothing.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from binhai_support import copy_forms
from forked import run_python

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="os._exit mid-write is tested on POSIX")

TODAY = dt.date(2026, 11, 20)
WRITER = r"""
import datetime as dt, json, sys
sys.path.insert(0, sys.argv[3])
import core.engine
from core.engine import Engine
from binhai_support import TOWN2, VILLAGE2, person, visit

TODAY = dt.date(2026, 11, 20)
data, forms, _, mode = sys.argv[1:5]
eng = Engine.open(data, forms_dir=forms, operator="测试员", today=lambda: TODAY)
if mode == "people":
    a = eng.save("registration", person(name="甲")).id
    b = eng.save("registration", person(name="乙", town=TOWN2, village=VILLAGE2,
                                        address="天津市滨海新区太平镇太平村2号")).id
    eng.close()
    print(json.dumps({"a": a, "b": b}))
    sys.exit(0)
people = json.loads(mode)
core.engine.BULK_BATCH = 2          # a batch is cut where the village changes: two batches
visits = [visit(people["a"], TODAY - dt.timedelta(days=d)) for d in (9, 5, 2)]
visits += [visit(people["b"], TODAY - dt.timedelta(days=d), village=VILLAGE2, town=TOWN2) for d in (8, 4, 1)]
assert eng.bulk_save("visit", visits, operator="导入员") == 6
print(json.dumps({"ack": "bulk"}), flush=True)
eng.close()
print(json.dumps({"ack": "closed"}), flush=True)
"""
BATCHES = {"a": {"2026-11-11", "2026-11-15", "2026-11-18"}, "b": {"2026-11-12", "2026-11-16", "2026-11-19"}}


def _run(data: Path, forms: Path, env: dict[str, str], mode: str) -> subprocess.CompletedProcess:
    tests = str(Path(__file__).resolve().parent)
    return run_python(["-c", WRITER, str(data), str(forms), tests, mode], {**os.environ, **env}, timeout=120)


def _findings(data: Path, forms: Path, people: dict[str, str], acked: bool) -> list[str]:
    from core.engine import Engine
    from core.storage.verify import verify_ledger

    out: list[str] = []
    with Engine.open(data, forms_dir=forms, operator="检查员", today=lambda: TODAY) as eng:
        out += [f"problem: {p}" for p in eng.store.problems]
        dates: dict[str, set[str]] = {"a": set(), "b": set()}
        for rec in eng.iter_records("visit"):
            who = next(k for k, rid in people.items() if rid == rec["data"]["person"])
            dates[who].add(rec["data"]["visit_date"])
        for who, whole in BATCHES.items():
            if dates[who] not in (set(), whole):
                out.append(f"part of a batch: {who} {sorted(dates[who])}")
        if dates["b"] and not dates["a"]:
            out.append("the second batch without the first")
        if acked and dates != BATCHES:
            out.append(f"acknowledged visits lost: {dates}")
        latest = eng.latest("visit")
        for who, rid in people.items():
            if max(dates[who], default=None) != latest.get(rid, {}).get("村委会"):
                out.append(f"rollup of {who}: {latest.get(rid)} for visits {sorted(dates[who])}")
        out += [f"verify: {f}" for f in eng.verify_rollups()]
    out += [f"verify: {f}" for f in verify_ledger(data)]
    return out


def test_a_bulk_save_stopped_at_every_durable_step_keeps_each_batch_whole(tmp_path):
    forms = copy_forms(tmp_path)
    base = tmp_path / "base"
    made = _run(base, forms, {}, "people")
    assert made.returncode == 0, made.stderr.decode()
    people = json.loads(made.stdout.decode().strip().splitlines()[-1])
    mode = json.dumps(people)

    probe, log = tmp_path / "probe", tmp_path / "steps.log"
    shutil.copytree(base, probe)
    done = _run(probe, forms, {"CAREBOOK_CRASH_LOG": str(log)}, mode)
    assert done.returncode == 0, done.stderr.decode()
    assert _findings(probe, forms, people, acked=True) == []
    steps = log.read_text().split()
    # two batches, each one journal line (one fsync), each followed by its village files
    assert sum(s.startswith("journal-synced:") for s in steps) == 2, steps
    assert {"journal-written", "village-written", "index-written", "history-appended",
            "journal-cleared"} <= {s.split(":")[0] for s in steps}

    def crash(n: int, at: str) -> list[str]:
        data = tmp_path / f"crash{n}"
        shutil.copytree(base, data)
        stopped = _run(data, forms, {"CAREBOOK_CRASH_AT": at}, mode)
        if stopped.returncode != 86:
            return [f"exit {stopped.returncode}: {stopped.stderr.decode()[-500:]}"]
        acked = b'"bulk"' in stopped.stdout
        found = _findings(data, forms, people, acked)
        shutil.rmtree(data)
        return found

    with ThreadPoolExecutor(max_workers=2) as pool:
        found = dict(zip(steps, pool.map(crash, range(len(steps)), steps)))
    assert {at: f for at, f in found.items() if f} == {}
