"""A migration made faster writes what it wrote before: over a demo ledger of 1,200 people, each
migrated record, its list row and its history are the ones the code of commit 318de78 (before
the village files were parsed by orjson and the saved version's form built only for a retired
value) leaves on a copy of the same ledger, read back through the standard library's parser."""
from __future__ import annotations

import datetime as dt
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from binhai_support import open_engine  # noqa: E402
from test_migration_rows import migration_file  # noqa: E402

from core.lifecycle import migrations  # noqa: E402

BEFORE = "318de78"
STEPS = {
    "choice": "  - {map_choices: economic_status, map: {一般: 非困难}}\n",
    "mixed": "  - {map_choices: economic_status, map: {一般: 非困难, 低保: 最低生活保障}}\n"
             "  - {retire_field: phone}\n  - {map_choices: income_sources, map: {城乡居民养老保险金: 养老金}}\n",
}


def _ledger(eng) -> dict:
    """{id: (record, list row, history)} of every person, storage keys left out."""
    rows = eng.store.index("registration")
    out = {}
    for rid in sorted(rows):
        row = {k: v for k, v in rows[rid].items() if not k.startswith("_")}
        out[rid] = (eng.get(rid, "registration"), row, eng.history(rid, "registration"))
    return out


@pytest.mark.parametrize("kind", sorted(STEPS))
def test_a_migration_leaves_the_records_rows_and_history_the_old_code_left(tmp_path, monkeypatch, kind):
    import core.engine
    from core.storage import atomic
    from core.transfer import demo

    from bench.bench_lifecycle import _old

    forms, mig = migration_file(tmp_path, STEPS[kind])
    old_code = _old("migrations", BEFORE)          # from git
    assert old_code is not None, f"needs the git history holding {BEFORE} (not a shallow clone or a tarball)"
    with open_engine(tmp_path, forms) as eng:
        demo.generate(eng, persons=1200, seed=7, as_of=dt.date(2026, 3, 1), village_days=0, town_quarters=0)
    data = tmp_path / "data"
    shutil.copytree(data, tmp_path / "old-data")
    monkeypatch.setattr(core.engine, "now_iso", lambda: "2026-12-07T02:00:00+08:00")   # both runs' stamp
    results = {}
    for name, folder, mod in (("new", data, migrations),
                              ("old", tmp_path / "old-data", old_code)):
        if name == "old":
            monkeypatch.setattr(atomic, "_orjson", None)      # the standard library parses every file
        from core.engine import Engine

        with Engine.open(folder, forms, operator="李芳") as eng:
            plan = mod.run(eng, mig, apply=True, operator="李芳")
            results[name] = (plan.changed, [(r.moved, r.conflicts, r.samples) for r in plan.results])
        with Engine.open(folder, forms, operator="李芳") as eng:       # read back from the files
            results[name] += (_ledger(eng),)
    new, old = results["new"], results["old"]
    assert new[0] == old[0] > 200 and new[1] == old[1]
    assert new[2].keys() == old[2].keys() and len(new[2]) == 1200
    migrated = 0
    for rid, (rec, row, history) in new[2].items():
        assert (rec, row) == old[2][rid][:2], rid
        assert [{k: v for k, v in e.items() if k != "_t"} for e in history] == \
               [{k: v for k, v in e.items() if k != "_t"} for e in old[2][rid][2]], rid
        if history[-1].get("migration") == "m":
            migrated += 1
            assert history[-1]["operator"] == "李芳" and history[-1]["note"] == "迁移 m：测试"
            if kind == "mixed" and "phone" in (rec.get("retired") or {}):
                assert rec["retired"]["phone"]["value"]     # kept, never erased
    assert migrated == new[0]


def test_json_the_fast_parser_refuses_is_read_as_before(tmp_path):
    """`atomic.loads`: what orjson would misread (an integer beyond 64 bits: a float) or will
    not read (NaN) is read by the standard library; what is not JSON, or not UTF-8, raises as
    it did."""
    from core.storage import atomic

    assert atomic.loads('{"a":[1,"村"]}'.encode()) == {"a": [1, "村"]}
    for wide in (123456789012345678901234567890, -9999999999999999999, 18446744073709551616):
        assert atomic.loads(f'{{"n":{wide},"s":"村"}}'.encode()) == {"n": wide, "s": "村"}   # not a float
    assert atomic.loads(b'{"n":9999999999999999999}') == {"n": 9999999999999999999}
    assert str(atomic.loads(b'{"x":NaN}')["x"]) == "nan"
    with pytest.raises(ValueError):
        atomic.loads(b'{"a":')
    with pytest.raises(UnicodeDecodeError):
        atomic.loads(b'{"a":"\xff"}')


def test_only_a_migration_parses_village_files_with_orjson(tmp_path, monkeypatch):
    """The store reads village files with the standard library (the TUI's rows and records
    come from it: orjson's parse measured 16 MB more TUI peak at 50,000 people); a migration
    switches to `atomic.loads` for its run and back after, even when it fails."""
    from core.storage import atomic, sealed

    seen = []
    real = atomic.loads
    monkeypatch.setattr(atomic, "loads", lambda raw: seen.append(len(raw)) or real(raw))
    forms, mig = migration_file(tmp_path, STEPS["choice"])
    from core.engine import Engine
    from core.transfer import demo

    with open_engine(tmp_path, forms) as eng:
        demo.generate(eng, persons=60, seed=7, as_of=dt.date(2026, 3, 1), village_days=0, town_quarters=0)

    with Engine.open(tmp_path / "data", forms, operator="李芳") as eng:
        assert eng.get(next(iter(eng.store.index("registration"))), "registration")
        assert seen == []                                    # an ordinary read: the standard library
        migrations.run(eng, mig, apply=False, operator="李芳")
        assert seen                                          # the migration's reads: orjson
        assert sealed._parse is sealed._stdlib_parse          # and back after the run
        monkeypatch.setattr(migrations, "_run", lambda *a: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            migrations.run(eng, mig, apply=False, operator="李芳")
        assert sealed._parse is sealed._stdlib_parse
