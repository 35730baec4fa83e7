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


@pytest.mark.parametrize("kind", sorted(STEPS))
def test_the_rows_pick_the_same_records_as_reading_all(tmp_path, monkeypatch, kind):
    forms = copy_forms(tmp_path)
    path = forms / "m.yaml"
    path.write_text("kind: migration\nid: m\nform: registration\nreason: 测试\nchanges:\n" + STEPS[kind],
                    encoding="utf-8")
    mig, problems = migrations.load(path)
    assert not problems
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
