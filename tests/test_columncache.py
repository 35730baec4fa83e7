"""The report column cache gives the summary and the due lists exactly what the list rows give,
and can never hand out an old answer: every test here changes the ledger between two reports
(a save, a save still in the journal, an old cache file put back as a crash could leave it, a
damaged cache file) and compares with the same report read without the cache.
"""
from __future__ import annotations

import os
import shutil
import stat
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))   # tests/ helpers under --import-mode=importlib

import pytest

from binhai_support import TODAY, VILLAGE, TOWN, person, visit
from core.dates import quarter_of
from core.engine import Engine
from core.reporting import columncache
from core.storage.store import Store
from demo_cache import binhai_demo

Q = quarter_of(TODAY)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("columns")
    forms, _ = binhai_demo(root, persons=240, seed=11, as_of=TODAY, village_days=40)
    return root / "data", forms


@pytest.fixture
def ledger(demo, tmp_path):
    data, forms = demo
    shutil.copytree(data, tmp_path / "data")
    return tmp_path / "data", forms


def _open(data: Path, forms: Path, readonly: bool = True) -> Engine:
    return Engine.open(data, forms_dir=forms, operator="测试员", readonly=readonly, today=lambda: TODAY)


def _reports(eng: Engine) -> tuple:
    """Everything the cache feeds: the summary by town and by village, a town's summary, the
    due list (all, and one village's)."""
    out = []
    for params in ({}, {"by_village": True}, {"town": TOWN}):
        rep = eng.report("summary", quarter=Q, as_of=TODAY, **params)
        out.append(([dict(r) for r in rep.rows], dict(rep.total), [str(c) for c in rep.checks]))
    out.append(eng.visits_due(as_of=TODAY))
    out.append(eng.visits_due(as_of=TODAY, village=VILLAGE))
    return tuple(out)


def _without_cache(data: Path, forms: Path, monkeypatch) -> tuple:
    """The same reports from the list rows, the cache switched off."""
    with monkeypatch.context() as m:
        m.setattr(columncache, "columns", lambda *a, **kw: None)
        with _open(data, forms) as eng:
            return _reports(eng)


def _with_cache(data: Path, forms: Path) -> tuple:
    with _open(data, forms) as eng:
        return _reports(eng)


def test_reports_from_the_cache_equal_reports_from_the_rows_and_parse_no_index(ledger, monkeypatch):
    data, forms = ledger
    expected = _without_cache(data, forms, monkeypatch)
    assert expected[0][1]["c1"] > 100 and len(expected[3]) > 20      # real counts, a real due list
    assert _with_cache(data, forms) == expected                      # builds the cache files
    path = columncache.path_of(Store(data, readonly=True), "registration")
    assert path.is_file()
    if os.name == "posix":             # names and birth dates: private like the records
        assert stat.S_IMODE(path.stat().st_mode) == 0o600

    def no_parse(self, table, p):
        raise AssertionError(f"{table}/{p}: the index file was parsed although the cache holds it")
    with monkeypatch.context() as m:
        m.setattr(Store, "_part_rows", no_parse)
        m.setattr(Engine, "iter_records", no_parse)
        assert _with_cache(data, forms) == expected


def test_a_save_shows_in_the_next_report(ledger, monkeypatch):
    data, forms = ledger
    before = _with_cache(data, forms)                                 # the cache as it was
    with _open(data, forms, readonly=False) as eng:
        someone = next(iter(eng.index("registration").rows))
        rec = eng.get(someone)
        eng.save("registration", {**rec["data"], "sex": "男" if rec["data"]["sex"] == "女" else "女",
                                  "self_care": "失能"}, someone)
        new = eng.save("registration", person(name="新来")).id
        eng.save("visit", visit(new, TODAY, level="街镇"))
    after = _with_cache(data, forms)
    assert after == _without_cache(data, forms, monkeypatch)
    assert after[0][1] != before[0][1] and after[3] != before[3]      # the counts and the list moved


def test_saves_still_in_the_journal_are_counted(ledger, monkeypatch):
    """A reader while a writer holds saves not yet written to the village files."""
    data, forms = ledger
    writer = _open(data, forms, readonly=False)
    try:
        before = _with_cache(data, forms)
        new = writer.save("registration", person(name="未写入", self_care="失能")).id
        writer.save("visit", visit(new, TODAY))
        someone = next(iter(writer.index("registration").rows))     # a village the cache holds
        rec = writer.get(someone)
        writer.save("registration", {**rec["data"], "self_care": "失能", "health_status": "患病"}, someone)
        assert writer.store._ops, "the saves should still be in the journal only"
        during = _with_cache(data, forms)
        assert during == _without_cache(data, forms, monkeypatch)
        assert during[0][1] != before[0][1]
        assert new in {item.record_id for item in during[3]}          # never visited by the town
    finally:
        writer.close()


def test_an_old_cache_file_put_back_is_not_believed(ledger, monkeypatch):
    """As if a crash had lost the cache's rewrite after the village files were rewritten."""
    data, forms = ledger
    _with_cache(data, forms)
    folder = columncache.path_of(Store(data, readonly=True), "registration").parent
    old = {p.name: p.read_bytes() for p in folder.iterdir()}
    with _open(data, forms, readonly=False) as eng:
        for rid in list(eng.index("registration").rows)[:5]:
            rec = eng.get(rid)
            eng.save("registration", {**rec["data"], "self_care": "失能", "health_status": "患病"}, rid)
    for name, raw in old.items():
        (folder / name).write_bytes(raw)
    assert _with_cache(data, forms) == _without_cache(data, forms, monkeypatch)


def test_a_damaged_cache_file_is_rebuilt(ledger, monkeypatch):
    data, forms = ledger
    expected = _without_cache(data, forms, monkeypatch)
    _with_cache(data, forms)
    path = columncache.path_of(Store(data, readonly=True), "registration")
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])                            # cut short
    assert _with_cache(data, forms) == expected
    path.write_bytes(b"not a cache")
    assert _with_cache(data, forms) == expected
    assert path.read_bytes().startswith(b"carebook-columns")          # written anew


def test_temp_files_a_killed_writer_left_are_cleared_once_old(tmp_path):
    """A cache write clears the temp files a killed process left (over an hour old), and
    leaves one another process may be writing now; a deleted cache folder is made again."""
    import os
    import time

    folder = tmp_path / "cache" / "columns"
    folder.mkdir(parents=True)
    old, fresh = folder / ".registration.bin.dead0001.tmp", folder / ".registration.bin.live0002.tmp"
    old.write_bytes(b"x")
    fresh.write_bytes(b"x")
    hour_ago = time.time() - 3700
    os.utime(old, (hour_ago, hour_ago))
    columncache._write(folder / "registration.bin", {"fields": (), "parts": {}})
    assert not old.exists() and fresh.exists() and (folder / "registration.bin").exists()
    import shutil

    shutil.rmtree(folder)
    columncache._write(folder / "registration.bin", {"fields": (), "parts": {}})
    assert (folder / "registration.bin").exists()
