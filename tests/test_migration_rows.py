"""A migration picks the records it can change from the list rows; the plan is the one reading
every record gives (samples, counts, conflicts), whatever field the step is on."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from binhai_support import copy_forms, open_engine, person  # noqa: E402

from core.lifecycle import migrations  # noqa: E402

STEPS = {
    "choice": "  - {map_choices: economic_status, map: {一般: 非困难, 低保: 最低生活保障}}\n",
    "multi": "  - {map_choices: income_sources, map: {城乡居民养老保险金: 养老金}}\n",
    "retire": "  - {retire_field: phone}\n",
    "move": "  - {move_value: phone, to: hukou_place}\n",
    "group": "  - {map_choices: children.child_contact, map: {每周: 经常}}\n",
}


def migration_file(tmp_path, steps: str):
    """(forms copy, its migration `m` of `steps`, loaded and checked)."""
    forms = copy_forms(tmp_path)
    path = forms / "m.yaml"
    path.write_text("kind: migration\nid: m\nform: registration\nreason: 测试\nchanges:\n" + steps, encoding="utf-8")
    mig, problems = migrations.load(path)
    assert not problems
    return forms, mig


@pytest.mark.parametrize("kind", sorted(STEPS))
def test_the_rows_pick_the_same_records_as_reading_all(tmp_path, monkeypatch, kind):
    forms, mig = migration_file(tmp_path, STEPS[kind])
    with open_engine(tmp_path, forms) as eng:
        for i in range(12):
            eng.save("registration", person(economic_status=("一般", "低保", "低收入")[i % 3],
                                            phone="13812345678" if i % 2 else None,
                                            income_sources=["城乡居民养老保险金"] if i % 4 else ["子女赡养费"]))
        quick = migrations.run(eng, mig)
        monkeypatch.setattr(migrations, "_candidates", lambda rows, test: None)   # read every record
        full = migrations.run(eng, mig)
    assert quick.records == full.records == 12 and quick.changed == full.changed > 0
    assert [(r.moved, r.conflicts, r.samples, r.conflict_samples) for r in quick.results] == \
           [(r.moved, r.conflicts, r.samples, r.conflict_samples) for r in full.results]


def test_a_migration_commits_a_few_villages_at_a_time_each_record_with_its_history_and_row(tmp_path, monkeypatch):
    """Over a ledger of many villages, the changed villages are committed `VILLAGES_PER_COMMIT`
    at a time (one journal line and one round of fsyncs for them, not one per village), and
    every migrated record has its history entry (the changes `field_diff` finds between its
    data before and after) and the list row a save would give it."""
    import datetime as dt
    import math

    from core.engine import field_diff
    from core.storage.store import Store
    from core.transfer import demo

    forms, mig = migration_file(tmp_path, STEPS["choice"])
    commits: list[set[str]] = []
    real = Store.put_many

    def counting(self, table, items, **kw):
        items = list(items)
        commits.append({rec["partition"] for rec, _, _ in items})
        return real(self, table, items, **kw)
    with open_engine(tmp_path, forms) as eng:
        demo.generate(eng, persons=120, seed=3, as_of=dt.date(2026, 3, 1), village_days=0, town_quarters=0)
        before = {rid: eng.get(rid, "registration") for rid in eng.index("registration").rows}
        monkeypatch.setattr(Store, "put_many", counting)
        plan = migrations.run(eng, mig, apply=True, operator="李芳")
        monkeypatch.undo()
        form = eng.form("registration")
        changed = {rid for rid, rec in before.items() if rec["data"].get("economic_status") in ("一般", "低保")}
        villages = {before[rid]["partition"] for rid in changed}
        assert plan.changed == len(changed) and len(villages) > migrations.VILLAGES_PER_COMMIT
        assert len(commits) == math.ceil(len(villages) / migrations.VILLAGES_PER_COMMIT), commits
        assert set().union(*commits) == villages
        rows = eng.store.index("registration")
        for rid in changed:
            now = eng.get(rid, "registration")
            last = eng.history(rid, "registration")[-1]
            assert last["action"] == "迁移" and last["changes"] == field_diff(before[rid]["data"], now["data"])
            want = {k: v for k, v in eng._index_row(form, now).items() if k != "_p"}
            assert {k: v for k, v in rows[rid].items() if not k.startswith("_") or k in want} == want
