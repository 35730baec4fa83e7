"""Values the list rows do not carry, kept beside the ledger for re-evaluation.

Raising 高龄 from 80 to 85 leaves an 82-year-old's 风险等级 to the cases after it (a serious
illness, a housing hazard, children who rarely call ...), which the list rows do not carry. A
dry run decides them with those values read once from the full records and kept per village
(`core.lifecycle.keptfiles`, fields from `rowfields.computed_reads`), with the
same result as evaluating every record; a village saved since is read again.
"""
from __future__ import annotations

import datetime as dt
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from binhai_support import copy_forms, person, set_setting  # noqa: E402
from test_reevaluate_fields import DAY, _full, _ledger, _quick, _same  # noqa: E402

from core.engine import Engine  # noqa: E402
from core.lifecycle import keptfiles  # noqa: E402
from core.lifecycle.reevaluate import wait_kept  # noqa: E402
from core.reporting.rowfields import computed_reads  # noqa: E402

NO_CAREGIVER = {"has_caregiver": "否", "caregiver_name": None, "caregiver_relation": None, "caregiver_phone": None}
# 82-year-olds: 高 by 高龄 at 80; at 85 the cases after it decide
EIGHTY_TWO = {
    "plain": {},                                                   # 中 (70周岁及以上)
    "illness": {"health_status": "患病", "serious_illness": "是"},  # still 高
    "hazard": {"housing_hazard": "是", "hazard_detail": "院墙开裂"},  # still 高
    "rarely_called": {**NO_CAREGIVER, "children": [{"child_name": "张伟", "child_relation": "子",
                                                    "child_phone": "13900001111", "child_contact": "很少"}]},
}


def _people() -> list[dict]:
    out = []
    for name, over in EIGHTY_TWO.items():
        p = person(filing=DAY - dt.timedelta(days=40), age=82, **over)
        p["name"] = name
        p.pop("file_no")               # numbered when saved
        out.append({k: v for k, v in p.items() if v is not None})
    return out


def _risk(forms: Path, data: Path) -> dict[str, str]:
    with Engine.open(data, forms, readonly=True) as eng:
        return {row["name"]: eng.get(rid, "registration")["data"]["risk_level"]
                for rid, row in eng.index("registration").rows.items() if row.get("name") in EIGHTY_TWO}


def test_raising_the_advanced_age_decides_the_80_to_84_year_olds_without_reading_their_records(tmp_path):
    forms, data = _ledger(tmp_path, 4, overrides=2, extra=_people())
    assert set(_risk(forms, data).values()) == {"高"}
    set_setting(forms, "advanced_age", "85")
    day = DAY + dt.timedelta(days=1)
    slow = _full(tmp_path, forms, data, day, "dry")
    with Engine.open(data, forms, readonly=True) as eng:
        cache = keptfiles.folder(eng.store, "registration")
        keys = eng.store.files_keys("registration")
    # kept by the applied run that read every record: the villages it wrote and those it did not
    assert {f.stem: keptfiles._read(f)[1] for f in cache.glob("1*.bin")} == keys
    shutil.rmtree(cache)
    for _ in range(2):                  # the first run keeps the values, the second reads them
        quick, parts = _quick(forms, data, day)
        _same(quick, slow)
        assert not [p for p in parts if p[0] == "part"], parts
        assert list(cache.glob("1*.bin"))
    assert quick.changes[("registration", "风险等级", "高", "中")] >= 1, quick.table()
    with Engine.open(data, forms, readonly=True) as eng:
        ids = {row["name"]: row["id_number"] for row in eng.index("registration").rows.values()
               if row.get("name") in EIGHTY_TWO}
    done, parts = _quick(forms, data, day, apply=True)
    _same(done, slow)
    assert _risk(forms, data) == {"plain": "中", "illness": "高", "hazard": "高", "rarely_called": "高"}
    # the applied run reads (and writes) only whom the change changes (高龄 是→否 for every
    # 80–84-year-old): the others are decided from their rows and the kept values, as in the dry run
    read = {p[1] for p in parts if p[0] == "part"}
    assert {ids[n] for n in EIGHTY_TWO} <= read and len(read) == done.changed, (len(read), done.changed)
    assert len({p[1] for p in parts if p[0] == "row"}) > 5 * len(read), parts        # 68 people, 8 read


def test_kept_values_follow_the_records_a_save_and_a_damaged_file(tmp_path):
    forms, data = _ledger(tmp_path, 6, extra=_people())
    fields = ["serious_illness", "children", "diseases"]
    read: list[str] = []

    def ask(eng, wanted):
        """`keptfiles.values` as a new process asks it (from the files), counting villages read."""
        real = eng.store.iter_stamped

        def counting(table, parts, **kw):
            read.extend(parts)
            return real(table, parts, **kw)
        eng.store.iter_stamped = counting
        spec = computed_reads([eng.form("registration")])
        try:
            return keptfiles.values(eng, "registration", {f: spec[f] for f in fields}, wanted, fields)
        finally:
            del eng.store.iter_stamped

    with Engine.open(data, forms, operator="李芳") as eng:
        rows = eng.index("registration").rows
        wanted: dict[str, set] = {}
        for rid, row in rows.items():
            wanted.setdefault(row["_p"], set()).add(rid)
        got = ask(eng, wanted)
        assert sorted(read) == sorted(wanted)
        for rid in rows:
            rec = eng.get(rid, "registration")
            assert got[rid]["_t"] == rows[rid]["_t"] and isinstance(got[rid]["_t"], int)
            assert got[rid]["serious_illness"] == rec["data"].get("serious_illness")
            assert got[rid]["children"] == [{"child_contact": c["child_contact"]} for c in rec["data"]["children"]]
        read.clear()
        assert ask(eng, wanted) == got and read == []    # kept: nothing read again
        rid = next(r for r, row in rows.items() if row["name"] == "plain")
        village = rows[rid]["_p"]
        rec = eng.get(rid, "registration")
        eng.save("registration", {**rec["data"], "health_status": "患病", "serious_illness": "是"}, record_id=rid)
    with Engine.open(data, forms, operator="李芳") as eng:
        read.clear()
        again = ask(eng, wanted)
        assert again[rid]["serious_illness"] == "是" and again[rid]["_t"] == eng.store.index("registration")[rid]["_t"]
        assert read == [village]              # only the village saved since
        assert {k: v for k, v in again.items() if k != rid} == {k: v for k, v in got.items() if k != rid}
        cache = keptfiles.folder(eng.store, "registration") / f"{village}.bin"
        cache.write_bytes(cache.read_bytes()[:200])
        read.clear()
        assert ask(eng, wanted) == again and read == [village]


def test_a_field_the_forms_no_longer_read_is_not_kept_copied(tmp_path):
    """The kept file holds what the forms read now: once no form reads a field (a town's overlay
    dropped, say), its values leave the file at the next run instead of staying copied."""
    forms, data = _ledger(tmp_path, 3, extra=_people())
    with Engine.open(data, forms, operator="李芳") as eng:
        spec = computed_reads([eng.form("registration")])
        wanted: dict[str, set] = {}
        for rid, row in eng.index("registration").rows.items():
            wanted.setdefault(row["_p"], set()).add(rid)
        cache = keptfiles.folder(eng.store, "registration")
        for fields in (["serious_illness", "diseases"], ["serious_illness"]):
            got = keptfiles.values(eng, "registration", {f: spec[f] for f in fields}, wanted, fields)
            assert got and all(set(v) == {*fields, "_t"} for v in got.values())
            held = [keptfiles._read(f) for f in cache.glob("1*.bin")]
            assert len(held) == len(wanted)
            assert all(dict(entry[0]).keys() == set(fields) for entry in held)
            assert all(set(entry[3]) == set(fields) | {"_t"} for entry in held)


def test_a_repeat_group_is_cut_to_the_columns_the_expressions_name(tmp_path):
    with Engine.open(tmp_path / "data", copy_forms(tmp_path)) as eng:
        form = eng.form("registration")
    spec = computed_reads([form])
    assert spec["children"] == ("child_contact",)        # no child's name, phone or ID number
    assert {"serious_illness", "housing_hazard", "diseases", "id_number"} <= spec.keys()
    assert "name" not in spec and "risk_level" not in spec
    from core.reporting.rowfields import _columns_read
    group = form.field("children")
    assert _columns_read(["len(children) > 1"], group) is None
    assert _columns_read(["any(c.get('child_contact') == '很少' for c in children)"], group) == ("child_contact",)
    assert _columns_read(["any(v == '很少' for c in children for v in c.values())"], group) is None


def _watched(monkeypatch) -> list[tuple[str, str]]:
    """("part", name) for each person whose record a run reads and evaluates in part, ("row",
    name) for each decided from the list row (and kept values)."""
    from core.lifecycle.fielddeps import Partial
    from core.lifecycle.rowonly import RowOnly

    seen = []
    real, real_row = Partial.compute, RowOnly.decide

    def compute(self, data, *a):
        seen.append(("part", data.get("name")))
        return real(self, data, *a)

    def decide(self, rid, row, *a):
        found = real_row(self, rid, row, *a)
        if found is not None:
            seen.append(("row", row.get("name")))
        return found
    monkeypatch.setattr(Partial, "compute", compute)
    monkeypatch.setattr(RowOnly, "decide", decide)
    return seen


@pytest.mark.parametrize("same_second", [False, True])
def test_a_row_older_than_the_files_is_not_decided_with_newer_kept_values(tmp_path, monkeypatch, same_second):
    """The dry run's list rows were read before another desk saved an 82-year-old (now with a
    serious illness): the village is read again for the kept values, their save time is not the
    row's, so the record itself is read — a row's old values are never mixed with newer ones.
    Also when the save falls in the second of her last one (`updated`, to the second, is the
    same): the store's save time, to the nanosecond, tells them apart."""
    import core.engine
    from core.lifecycle import reevaluate

    forms, data = _ledger(tmp_path, 4, extra=_people())
    set_setting(forms, "advanced_age", "85")
    day = DAY + dt.timedelta(days=1)
    _quick(forms, data, day)                 # the values kept, as they were
    seen = _watched(monkeypatch)
    with Engine.open(data, forms, readonly=True, today=lambda: day) as desk:
        rows = desk.index("registration").rows          # read now: older than the save below
        rid = next(r for r, row in rows.items() if row["name"] == "plain")
        if same_second:
            monkeypatch.setattr(core.engine, "now_iso", lambda: rows[rid]["_u"])
        with Engine.open(data, forms, operator="李芳", today=lambda: day) as other:
            rec = other.get(rid, "registration")
            other.save("registration", {**rec["data"], "health_status": "患病", "serious_illness": "是"}, record_id=rid)
            assert (other.get(rid, "registration")["updated"] == rows[rid]["_u"]) == same_second
        result = reevaluate.run(desk, "registration")
    assert ("part", "plain") in seen and ("row", "plain") not in seen, seen
    assert ("row", "illness") in seen                # the others of the village: from kept values
    assert result.records == len(rows)


def _villages_read(monkeypatch) -> list[str]:
    """The villages whose full records `keptfiles.values` reads (a current kept file is not)."""
    from core.storage.store import Store

    read: list[str] = []
    real = Store.iter_stamped

    def counting(self, table, parts, **kw):
        read.extend(parts)
        return real(self, table, parts, **kw)
    monkeypatch.setattr(Store, "iter_stamped", counting)
    return read


def test_the_days_run_and_a_later_save_keep_the_values_so_the_first_dry_run_reads_no_village(tmp_path, monkeypatch):
    """The realistic order: the ledger opens on a new day (the day's applied run reads the
    birthday people's village and writes it), staff save an 82-year-old later that day, then
    the admin raises 高龄 to 85 and runs a dry run. The village was kept by the day's run and
    kept current by the save (`Store.when_written`), so the dry run reads none of its records,
    and its answer is the full run's."""
    from binhai_support import VILLAGE, id_for, years_before

    birthday = person(filing=DAY - dt.timedelta(days=40))
    birthday["id_number"] = id_for(years_before(DAY + dt.timedelta(days=1), 66), seed=7)
    birthday.pop("file_no")
    forms, data = _ledger(tmp_path, 4, extra=_people() + [birthday])
    with Engine.open(data, forms, readonly=True) as eng:
        shutil.rmtree(keptfiles.folder(eng.store, "registration"))
    day = DAY + dt.timedelta(days=1)
    with Engine.open(data, forms, operator="李芳", today=lambda: day) as eng:
        done = eng.refresh_for_today()        # a new day: the birthday's village read and written
        assert done is not None and done.changes[("registration", "年龄", 65, 66)] == 1, done.table()
        wait_kept(eng)                         # kept in the background once the screen is up
    with Engine.open(data, forms, operator="李芳", today=lambda: day) as eng:
        assert eng.refresh_for_today() is None          # the same day: nothing run, saves kept
        rid = next(r for r, row in eng.index("registration").rows.items() if row["name"] == "plain")
        rec = eng.get(rid, "registration")
        eng.save("registration", {**rec["data"], "health_status": "患病", "serious_illness": "是"}, record_id=rid)
    set_setting(forms, "advanced_age", "85")
    slow = _full(tmp_path, forms, data, day, "dry")
    read = _villages_read(monkeypatch)
    quick, parts = _quick(forms, data, day)
    _same(quick, slow)
    assert VILLAGE not in read, read
    assert not [p for p in parts if p[0] == "part"], parts
    assert _risk(forms, data)["plain"] == "高"         # the save is what the dry run judged


def test_the_days_open_keeps_every_village_after_its_run_so_the_first_dry_run_reads_none(tmp_path, monkeypatch):
    """The day's open keeps nothing while staff wait (the run before the first screen writes no
    kept file), then, in the background, every village — those the day's run did not read too —
    so the admin's first dry run after 高龄 80→85 reads no village at all, and answers as the
    full run does."""
    forms, data = _ledger(tmp_path, 6, extra=_people())
    with Engine.open(data, forms, readonly=True) as eng:
        where = keptfiles.folder(eng.store, "registration")
        parts = set(eng.store.partitions("registration"))
    shutil.rmtree(where)
    assert len(parts) > 1, parts
    day = DAY + dt.timedelta(days=1)
    with Engine.open(data, forms, operator="李芳", today=lambda: day) as eng:
        assert eng.refresh_for_today() is not None
        assert not list(where.glob("[!.]*.bin"))          # nothing kept while staff wait
        wait_kept(eng)
    assert {f.stem for f in where.glob("[!.]*.bin")} == parts
    set_setting(forms, "advanced_age", "85")
    slow = _full(tmp_path, forms, data, day, "dry")
    read = _villages_read(monkeypatch)
    quick, _ = _quick(forms, data, day)
    _same(quick, slow)
    assert read == [], read


def test_the_records_an_applied_run_wrote_are_covered_by_its_marker_and_a_save_in_its_second_is_not(tmp_path, monkeypatch):
    """The day's run rewrites the birthday people; a dry run right after reads none of them
    (their values are the run's own), while a record a clerk saved in the same second after
    the run (same `updated`, a later store save time) is evaluated again."""
    import core.engine
    from binhai_support import id_for, years_before
    from core.lifecycle import reevaluate

    birthday = person(filing=DAY - dt.timedelta(days=40))
    birthday["id_number"] = id_for(years_before(DAY + dt.timedelta(days=1), 66), seed=9)
    birthday.pop("file_no")
    forms, data = _ledger(tmp_path, 5, extra=[birthday])
    day = DAY + dt.timedelta(days=1)
    read: list[str] = []
    real = reevaluate.village_records

    def counting(engine, form_id, part, wanted=None, **kw):
        for rec in real(engine, form_id, part, wanted, **kw):
            read.append(rec["data"]["id_number"])
            yield rec
    monkeypatch.setattr(reevaluate, "village_records", counting)
    with Engine.open(data, forms, operator="李芳", today=lambda: day) as eng:
        done = eng.refresh_for_today()
        assert done.changes[("registration", "年龄", 65, 66)] == 1 and read == [birthday["id_number"]], read
    read.clear()
    quick, _ = _quick(forms, data, day)
    assert quick.changed == 0 and read == [], read
    with Engine.open(data, forms, operator="李芳", today=lambda: day) as eng:
        at = reevaluate._marks(eng)["registration"]["at"]
        rid = next(iter(eng.index("registration").rows))
        monkeypatch.setattr(core.engine, "now_iso", lambda: at)        # the run's second
        eng.save("registration", eng.get(rid, "registration")["data"], record_id=rid)
        clerk = eng.get(rid, "registration")["data"]["id_number"]
    quick, _ = _quick(forms, data, day)
    assert read == [clerk], read


def test_kept_values_are_not_held_in_memory_after_the_run(tmp_path):
    """The kept values are read from their files for one run and let go: a TUI or server
    process that re-evaluates does not hold them (7 MB at 50,000 people) for its whole life."""
    from core.lifecycle import reevaluate
    from core.reporting import columncache

    forms, data = _ledger(tmp_path, 4, extra=_people())
    set_setting(forms, "advanced_age", "85")
    with Engine.open(data, forms, readonly=True, today=lambda: DAY + dt.timedelta(days=1)) as eng:
        assert reevaluate.run(eng, "registration").changed
        assert not [k for k in columncache._MEMO.get(eng.store, {}) if "records" in k]
