"""Re-evaluation that reads only what can have changed gives what evaluating every record gives.

A ledger is re-evaluated (applied) on one day, which leaves the marker; later runs on later days
— birthdays crossing 60/80, a record saved since, an accepted warning, a threshold changed — are
compared with the same run on a copy whose marker was removed (every record evaluated).
"""
from __future__ import annotations

import datetime as dt
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from binhai_support import copy_forms, id_for, person, set_setting, years_before  # noqa: E402

from core.engine import Engine  # noqa: E402
from core.lifecycle import reevaluate  # noqa: E402
from core.lifecycle.fielddeps import Partial  # noqa: E402
from core.lifecycle.rowonly import RowOnly  # noqa: E402
from core.records.validation import Validator  # noqa: E402

DAY = dt.date(2026, 3, 10)


def _ledger(tmp_path) -> tuple[Path, Path]:
    """People whose 60th, 70th or 80th birthday falls in the 40 days after DAY, others not, one
    with an accepted warning; re-evaluated (applied) on DAY."""
    forms = copy_forms(tmp_path)
    data = tmp_path / "data"
    with Engine.open(data, forms, operator="李芳", today=lambda: DAY) as eng:
        for i in range(24):
            p = person(filing=DAY - dt.timedelta(days=30), age=65)
            birth = years_before(DAY + dt.timedelta(days=1 + 2 * i), (60, 70, 80)[i % 3])
            if i % 4 == 3:
                birth -= dt.timedelta(days=200)          # no birthday in the window
            p["id_number"] = id_for(birth, seed=i)
            reasons = None
            if i == 5:
                p["living_arrangement"] = "与孙辈同住"   # 认定为独自生活，但居住情况不是“独居”
                reasons = {"alone_matches_living": "核实过，子女短期回乡"}
            eng.save("registration", p, reasons=reasons)
        time.sleep(1.05)       # saves are stamped to the second: one in the run's second is "since"
        done = reevaluate.run(eng, apply=True, operator="李芳")
        assert done.rule_failures and done.applied
    return forms, data


def _both(tmp_path, forms: Path, data: Path, day: dt.date, name: str) -> tuple:
    """(incremental result, full result, people the incremental run looked at) on `day`: an
    ID number for a record evaluated whole, ("part", ID) for one of which only what a change
    reaches was evaluated, ("row", ID) for one decided from its list row without reading it."""
    full = tmp_path / f"full-{name}"
    shutil.copytree(data, full)
    (full / reevaluate.MARKER).unlink()
    evaluated = []
    real, real_part, real_row = Validator.compute, Partial.compute, RowOnly.decide
    inside = []

    def counting(self, data, *a, **k):     # counts, then computes as always
        if not inside:
            evaluated.append(data.get("id_number"))
        return real(self, data, *a, **k)

    def counting_part(self, data, *a, **k):   # the same for the part a form change reaches
        evaluated.append(("part", data.get("id_number")))
        inside.append(1)
        try:
            return real_part(self, data, *a, **k)
        finally:
            inside.pop()

    def counting_row(self, rid, row, *a):
        found = real_row(self, rid, row, *a)
        if found is not None:
            evaluated.append(("row", row.get("id_number")))
        return found

    Validator.compute, Partial.compute, RowOnly.decide = counting, counting_part, counting_row
    try:
        with Engine.open(data, forms, readonly=True, today=lambda: day) as eng:
            quick = reevaluate.run(eng, "registration")
    finally:
        Validator.compute, Partial.compute, RowOnly.decide = real, real_part, real_row
    with Engine.open(full, forms, readonly=True, today=lambda: day) as eng:
        slow = reevaluate.run(eng, "registration")
    return quick, slow, evaluated


def _people(evaluated) -> set:
    return {e[1] if isinstance(e, tuple) else e for e in evaluated}


def _whole(evaluated) -> list:
    return [e for e in evaluated if not isinstance(e, tuple)]


def _same(a, b) -> None:
    assert (a.records, a.changed, dict(a.changes), dict(a.rule_failures), a.samples) == \
           (b.records, b.changed, dict(b.changes), dict(b.rule_failures), b.samples)


def test_later_days_give_the_full_evaluation_while_reading_only_the_birthdays(tmp_path):
    forms, data = _ledger(tmp_path)
    for days in (0, 1, 9, 40, 400):
        quick, slow, evaluated = _both(tmp_path, forms, data, DAY + dt.timedelta(days=days), str(days))
        _same(quick, slow)
        assert quick.records == 24 and sum(quick.rule_failures.values()) == 1
        if days == 0:
            assert evaluated == [] and quick.changed == 0
        elif days == 9:       # birthdays on days 1, 3, 5, 7, 9 (not the ones moved 200 days back)
            assert quick.changed == 4 and len(_people(evaluated)) == 4, quick.table()
            assert "年龄 59→60：1 人" in quick.table() and "年龄 79→80：1 人" in quick.table()
            assert any(t.startswith("风险等级 中→高") for t in quick.table())
            # a birthday changes only the age and what reads it (高龄, 风险等级), and the list
            # row decides it — turning 70 or 80 too: no record is read
            assert [e[0] for e in evaluated if isinstance(e, tuple)] == ["row"] * 4, evaluated
            assert not _whole(evaluated), evaluated
        elif days == 400:     # a year on: everyone is older; nobody is left out
            assert quick.changed == 24 and len(_people(evaluated)) == 24 and not _whole(evaluated)


def test_a_record_saved_since_and_a_changed_threshold_are_evaluated(tmp_path):
    forms, data = _ledger(tmp_path)
    later = DAY + dt.timedelta(days=3)
    with Engine.open(data, forms, operator="李芳", today=lambda: DAY) as eng:
        rid = list(eng.index("registration").rows)[3]        # no birthday in the window
        rec = eng.get(rid)
        eng.save("registration", {**rec["data"], "self_care": "失能"}, record_id=rid)
    quick, slow, evaluated = _both(tmp_path, forms, data, later, "saved")
    _same(quick, slow)
    # the save is evaluated whole; the two birthdays only in what reads the age
    assert _whole(evaluated) == [rec["data"]["id_number"]] and len(_people(evaluated)) == 1 + 2, evaluated
    set_setting(forms, "advanced_age", "70")
    quick, slow, evaluated = _both(tmp_path, forms, data, later, "threshold")
    _same(quick, slow)
    # the record saved since is evaluated whole; for the others (the two birthdays too) what
    # reads the threshold or the age (高龄, 风险等级) is decided from the list rows
    assert _whole(evaluated) == [rec["data"]["id_number"]] and any(t.startswith("高龄") for t in quick.table())
    assert not [e for e in evaluated if e[0] == "part"], evaluated
    assert len([e for e in evaluated if e[0] == "row"]) == 23, evaluated


def test_a_probe_around_today_is_the_smallest_part_that_reads_it(tmp_path):
    from core.lifecycle.dateprobes import probes

    forms = copy_forms(tmp_path)
    with Engine.open(tmp_path / "data", forms) as eng:
        form = eng.form("registration")
        found = probes(form, eng.evaluator._globals, {"id_number", "filing_date", "town"})
        assert sorted(p.source for p in found) == ["age_on(id_birth_date(id_number), today)", "filing_date <= today"]
        assert probes(form, eng.evaluator._globals, {"id_number"}) is None   # filing_date not in the rows
