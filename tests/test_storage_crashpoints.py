"""A save stopped at every durable step, then the ledger judged by `verify`.

The writer (`tests/crash_scenario.py`, the real engine) saves one of each kind — a new person
numbered from the village counter, an edit that moves the person to another village (numbered
again there), a visit with its rollup row, a bulk import — and closes, which writes the village
files from the journal. Its steps are listed once (`CAREBOOK_CRASH_LOG`), then the writer is run
again on a fresh copy of the ledger for each step and ends there (`CAREBOOK_CRASH_AT`, an
`os._exit`: no clean-up, like kill -9). After each: open as the next writer would, and require
no `verify` finding and every acknowledged save present. A restore is stopped the same way.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from binhai_support import copy_forms
from crash_scenario import acks_of, check
from forked import run_python

SCENARIO = Path(__file__).resolve().parent / "crash_scenario.py"
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="os._exit mid-write is tested on POSIX")


def _run(data: Path, forms: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return run_python([str(SCENARIO), str(data), str(forms), *args], {**os.environ, **env}, timeout=120)


def _steps(base: Path, forms: Path, tmp_path: Path, *args: str) -> list[str]:
    probe, log = tmp_path / "probe", tmp_path / "steps.log"
    shutil.copytree(base, probe)
    done = _run(probe, forms, {"CAREBOOK_CRASH_LOG": str(log)}, *args)
    assert done.returncode == 0, done.stderr.decode()
    return log.read_text().split()


def test_every_durable_step_of_every_save_kind_loses_nothing(tmp_path):
    forms = copy_forms(tmp_path)
    base = tmp_path / "base"
    first = _run(base, forms, {}, "steps", "1")          # a person and a visit to start from
    assert first.returncode == 0, first.stderr.decode()
    steps = _steps(base, forms, tmp_path, "steps", "2")
    kinds = {s.split(":")[0] for s in steps}
    assert {"backup-copied", "journal-synced", "village-written", "index-written", "history-appended",
            "journal-cleared", "file-renamed"} <= kinds

    def crash(n: int, at: str) -> list[str]:
        data = tmp_path / f"crash{n}"
        shutil.copytree(base, data)
        done = _run(data, forms, {"CAREBOOK_CRASH_AT": at}, "steps", "2")
        if done.returncode != 86:                                    # it really stopped there
            return [f"exit {done.returncode}: {done.stderr.decode()[-500:]}"]
        return check(data, forms, acks_of(done.stdout))

    with ThreadPoolExecutor(max_workers=3) as pool:   # the writers mostly wait for fsync
        found = dict(zip(steps, pool.map(crash, range(len(steps)), steps)))
    assert {at: f for at, f in found.items() if f} == {}
    assert len(steps) >= 30


RESTORER = """
import sys
from core.storage import restore_backup, list_backups
root = sys.argv[1]
restore_backup(root, list_backups(root)[-1].name, operator="管理员")
"""


def test_a_restore_stopped_at_every_step_is_all_or_nothing(tmp_path):
    from core.engine import Engine
    from core.storage.verify import verify_ledger

    forms = copy_forms(tmp_path)
    base = tmp_path / "base"
    assert _run(base, forms, {}, "steps", "1").returncode == 0
    assert _run(base, forms, {}, "steps", "2").returncode == 0      # its open took the backup
    with Engine.open(base, forms_dir=forms) as eng:
        before = set(eng.index("registration").rows)
    log = tmp_path / "restore.log"
    probe = tmp_path / "probe"
    shutil.copytree(base, probe)
    env = {**os.environ, "CAREBOOK_CRASH_LOG": str(log)}
    assert run_python(["-c", RESTORER, str(probe)], env, timeout=60).returncode == 0
    with Engine.open(probe, forms_dir=forms) as eng:
        after = set(eng.index("registration").rows)
    assert after < before
    steps = log.read_text().split()
    assert {"restore-staged", "restore-switched", "restore-moved"} <= {s.split(":")[0] for s in steps}
    for n, at in enumerate(steps):
        data = tmp_path / f"restore{n}"
        shutil.copytree(base, data)
        env = {**os.environ, "CAREBOOK_CRASH_AT": at}
        assert run_python(["-c", RESTORER, str(data)], env, timeout=60).returncode == 86
        with Engine.open(data, forms_dir=forms) as eng:          # the next writer finishes or drops it
            got = set(eng.index("registration").rows)
            audit = [e for e in eng.audit_log() if e.get("action") == "恢复备份"]
        assert got in (before, after), at
        assert (got == after) == bool(audit), at                  # a restore that happened is audited
        assert verify_ledger(data) == [], at
        assert not (data / ".restore-stage").exists() and not (data / ".restore.json").exists()
        shutil.rmtree(data)
    assert json.loads(json.dumps(steps))
