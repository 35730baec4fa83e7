"""Re-evaluating only what a form change reaches gives what evaluating everything gives.

Seeded demo ledgers (with a few people whose records break a rule) are re-evaluated and marked
on one day; then the forms are changed the ways an admin does — a threshold, a case's value or
condition, a rule's check, a label a rule message names, several at once — and the run on a
later day (which evaluates only the computed fields and rules the change reaches, see
`core.lifecycle.fielddeps`) is compared with the same run on a copy without the marker (every
field and rule of every record evaluated). Applying the fast run leaves nothing for a full run
to change.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import random
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from binhai_support import copy_forms, edit, id_for, person, set_setting, years_before  # noqa: E402

from core.engine import Engine  # noqa: E402
from core.lifecycle import reevaluate  # noqa: E402
from core.lifecycle.fielddeps import Partial, fingerprints  # noqa: E402
from core.lifecycle.rowonly import RowOnly  # noqa: E402
from core.lifecycle import keptfiles  # noqa: E402
from core.transfer import demo  # noqa: E402

DAY = dt.date(2026, 3, 10)
REG = "registration.yaml"

OVERRIDABLE = "override: true\n        help: 按下列规则自动评定"
# (name, text in registration.yaml, what an admin writes instead)
EDITS = [
    ("风险值", "{when: \"housing_hazard == '是'\", value: 高", "{when: \"housing_hazard == '是'\", value: 中"),
    ("风险条件", "when: \"serious_illness == '是'\"", "when: \"serious_illness != '否'\""),
    ("规则", 'check: "children_count >= len(', 'check: "children_count > len('),
    ("规则提示", "message: 认定为独自生活，但居住情况不是“独居”", "message: 独自生活与居住情况不一致"),
    ("认定条件", "months_between(last_left_date, filing_date) < settings.min_months_away",
     "months_between(last_left_date, filing_date) <= settings.min_months_away"),
    ("取消人工改写", OVERRIDABLE, OVERRIDABLE.replace("true", "false")),
]
# (setting, name, lowest, highest)
SETTINGS = [("advanced_age", "高龄阈值", 70, 86), ("middle_age", "中风险年龄", 62, 76), ("min_age", "留守年龄", 58, 66)]
# (name, change of the forms folder); each is a change an admin makes in registration.yaml
CHANGES = ([(name, lambda forms, rnd, k=key, lo=lo, hi=hi: set_setting(forms, k, str(rnd.randint(lo, hi))))
            for key, name, lo, hi in SETTINGS]
           + [(name, lambda forms, rnd, a=old, b=new: edit(forms / REG, a, b)) for name, old, new in EDITS])


@contextlib.contextmanager
def _stamped_earlier(seconds: float = 1.05):
    """Saves stamped `seconds` back (`core.engine.now_iso`), so that a run right after them is
    a little later than they are (times are to the second), as a `time.sleep(1.05)` before the
    run made it, without the wait."""
    import core.engine

    def earlier() -> str:
        return (dt.datetime.now() - dt.timedelta(seconds=seconds)).astimezone().isoformat(timespec="seconds")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(core.engine, "now_iso", earlier)
        yield


def _ledger(tmp_path: Path, seed: int, overrides: int = 0, change=None, extra=()) -> tuple[Path, Path]:
    """60 demo people, two whose records break a warning rule (accepted), `overrides` people
    aged 72 to 84 whose risk level staff set by hand, and the registrations `extra`;
    `change(forms)`: the forms as the admin had them before (saved and marked under them)."""
    forms = copy_forms(tmp_path)
    if change:
        change(forms)
    data = tmp_path / "data"
    with Engine.open(data, forms, operator="李芳", today=lambda: DAY) as eng, _stamped_earlier():
        demo.generate(eng, persons=60, seed=seed, as_of=DAY - dt.timedelta(days=2), village_days=0, town_quarters=0)
        for i, arrangement in enumerate(("与孙辈同住", "与其他亲属同住")):
            p = person(filing=DAY - dt.timedelta(days=40), age=70 + 6 * i, living_arrangement=arrangement)
            eng.save("registration", p, reasons={"alone_matches_living": "核实过"})
        for i in range(overrides):
            p = person(filing=DAY - dt.timedelta(days=40), age=72 + 6 * i)
            eng.save("registration", p, overrides={"risk_level": {"reason": "入户核实", "value": "低"}})
        for p in extra:
            eng.save("registration", p)
    # the marker: an applied run a little later than the saves (times are to the second)
    with Engine.open(data, forms, operator="李芳", today=lambda: DAY) as eng:
        assert reevaluate.run(eng, apply=True, operator="李芳").applied
    return forms, data


def _full(tmp_path: Path, forms: Path, data: Path, day: dt.date, name: str, apply: bool = False):
    """The reference: the same run with the marker removed (every field and rule evaluated)."""
    full = tmp_path / f"full-{name}"
    shutil.copytree(data, full)
    (full / reevaluate.MARKER).unlink()
    with Engine.open(full, forms, readonly=True, today=lambda: day) as eng:
        return reevaluate.run(eng, "registration")


def _quick(forms: Path, data: Path, day: dt.date, apply: bool = False):
    """The run with the marker; and the people it evaluated in part: ("part", ID number) for a
    record read, ("row", ID number) for one decided from its list row."""
    parts = []
    real, real_row = Partial.compute, RowOnly.decide

    def counting(self, d, *a, **k):
        parts.append(("part", d.get("id_number")))
        return real(self, d, *a, **k)

    def counting_row(self, rid, row, *a):
        found = real_row(self, rid, row, *a)
        if found is not None:
            parts.append(("row", row.get("id_number")))
        return found

    Partial.compute, RowOnly.decide = counting, counting_row
    try:
        with Engine.open(data, forms, readonly=not apply, operator="李芳", today=lambda: day) as eng:
            return reevaluate.run(eng, "registration", apply=apply, operator="李芳"), parts
    finally:
        Partial.compute, RowOnly.decide = real, real_row


def _same(a, b) -> None:
    assert (a.records, a.changed, dict(a.changes), dict(a.rule_failures), a.samples) == \
           (b.records, b.changed, dict(b.changes), dict(b.rule_failures), b.samples)


@pytest.mark.parametrize("seed", range(8))
def test_a_form_change_evaluates_only_what_it_reaches_and_gives_the_full_result(tmp_path, seed):
    rnd = random.Random(seed)
    forms, data = _ledger(tmp_path, seed, overrides=2)
    picked = rnd.sample(CHANGES, rnd.randint(1, 3))
    for _, change in picked:
        change(forms, rnd)
    day = DAY + dt.timedelta(days=rnd.choice((0, 1, 30, 400)))
    quick, parts = _quick(forms, data, day)
    slow = _full(tmp_path, forms, data, day, "dry")
    _same(quick, slow)
    names = [n for n, _ in picked]
    if names == ["规则提示"]:
        assert quick.rule_failures and not parts      # a message only: no record is read
    elif (day - DAY).days < 400:
        assert parts, names                           # most people: only the part the change reaches
    if set(names) <= {"高龄阈值", "中风险年龄"} and (day - DAY).days < 400:
        # most people decided from the list rows alone (a threshold raised past someone's age
        # leaves the later cases to decide: that record is read)
        assert len([k for k, _ in parts if k == "row"]) > len(parts) / 2, parts
    # applied, the fast run leaves nothing for a full run to change, and the same failures
    done, _ = _quick(forms, data, day, apply=True)
    _same(done, slow)
    after = _full(tmp_path, forms, data, day, "after")
    assert after.changed == 0 and dict(after.rule_failures) == dict(slow.rule_failures)
    again, parts = _quick(forms, data, day)
    assert again.changed == 0 and not parts and dict(again.rule_failures) == dict(slow.rule_failures)


@pytest.mark.parametrize("seed", range(6, 12))
def test_threshold_changes_decided_from_the_rows_give_the_full_result(tmp_path, seed):
    """Both age thresholds moved up or down, with staff overrides of the risk level in the
    ledger: the dry run decides from list rows whom it can and reads the rest."""
    rnd = random.Random(seed)
    forms, data = _ledger(tmp_path, seed, overrides=3)
    set_setting(forms, "advanced_age", str(rnd.choice([a for a in range(70, 87) if a != 80])))
    if rnd.random() < 0.5:
        set_setting(forms, "middle_age", str(rnd.randint(62, 76)))
    day = DAY + dt.timedelta(days=rnd.choice((0, 1, 30)))
    slow = _full(tmp_path, forms, data, day, "dry")
    for _ in range(2):      # values the rows lack read from the records and kept; then from the file
        quick, parts = _quick(forms, data, day)
        _same(quick, slow)
        assert any(k == "row" for k, _ in parts)


def test_a_threshold_change_reaches_the_fields_that_read_it_and_nothing_else(tmp_path):
    forms = copy_forms(tmp_path)
    with Engine.open(tmp_path / "data", forms) as eng:
        v = eng.validator("registration")
        before = fingerprints(v.form)
    set_setting(forms, "advanced_age", "75")
    with Engine.open(tmp_path / "data2", forms) as eng:
        part = Partial(eng.validator("registration"), before)
    assert [f.id for f in part.fields] == ["advanced_age", "risk_level"]
    assert part.rules == {} and not part.nothing
    assert "children" in part.reads and "hukou_type" not in part.reads    # risk reads children; eligibility is left


def test_a_staff_override_the_form_no_longer_allows_is_not_decided_from_the_row(tmp_path):
    """高龄 lowered and 风险等级 no longer overridable: the three people whose risk staff set by
    hand get the computed level back — the row shows only their staff value, so their records
    are read; everyone else is still decided from the row."""
    forms, data = _ledger(tmp_path, 3, overrides=3)
    set_setting(forms, "advanced_age", "75")
    edit(forms / REG, OVERRIDABLE, OVERRIDABLE.replace("true", "false"))
    day = DAY + dt.timedelta(days=1)
    quick, parts = _quick(forms, data, day)
    slow = _full(tmp_path, forms, data, day, "dry")
    _same(quick, slow)
    assert any(t.startswith("风险等级 低→") for t in quick.table()), quick.table()
    assert [k for k, _ in parts].count("row") > 50


def test_a_case_reading_a_value_the_change_reaches_is_judged_again_from_the_row(tmp_path):
    """风险等级's 高龄 case written as `advanced_age == '是'` (the 高龄 field, not the age): the
    threshold moves no text of 风险等级, yet its answer follows 高龄 — people who became 高龄
    must come out 高, from their rows as from their records."""
    def reads_the_field(forms):
        edit(forms / REG, 'when: "age_on(id_birth_date(id_number), today) >= settings.advanced_age",',
             "when: \"advanced_age == '是'\",")
    forms, data = _ledger(tmp_path, 3, overrides=2, change=reads_the_field)
    set_setting(forms, "advanced_age", "72")
    day = DAY + dt.timedelta(days=1)
    quick, parts = _quick(forms, data, day)
    _same(quick, _full(tmp_path, forms, data, day, "dry"))
    assert any(t.startswith("风险等级 中→高") for t in quick.table()), quick.table()
    assert [k for k, _ in parts].count("row") > 30, parts


TOWN_FIELD = """kind: overlay
id: taiping_next_age
title: 太平镇自设项目：下一个生日的岁数
form: registration
version: 1
towns: ["120116156"]
sections:
  care:
    fields:
      - id: taiping_next_age
        label: 太平镇下一个生日的岁数
        type: integer
        calculate: "age_on(id_birth_date(id_number), today) + 1"
        rules:
          - {id: taiping_advanced_age, check: "advanced_age != '是' or age_on(id_birth_date(id_number), today) >= 80",
             message: 太平镇按80周岁统计高龄, severity: warning}
"""


def test_towns_with_their_own_computed_field_are_not_judged_by_another_towns_form(tmp_path):
    """太平镇's form computes one more value, with a rule reading 高龄: towns whose forms are the
    same share one plan, 太平镇 keeps its own — when 高龄 moves to 70 its rule is judged again
    for its people (their records are read), the other towns are decided from their rows."""
    def overlay(forms):
        (forms / "overlays" / "taiping-next-age.yaml").write_text(TOWN_FIELD, encoding="utf-8")
    forms, data = _ledger(tmp_path, 5, change=overlay)
    with Engine.open(data, forms, readonly=True) as eng:
        towns = {row.get("town") for row in eng.index("registration").rows.values()}
    assert "120116156000" in towns and len(towns) > 2, towns
    set_setting(forms, "advanced_age", "70")
    day = DAY + dt.timedelta(days=30)
    quick, parts = _quick(forms, data, day)
    _same(quick, _full(tmp_path, forms, data, day, "dry"))
    taiping = {k: n for k, n in quick.rule_failures.items() if k[1] == "taiping_advanced_age"}
    assert taiping and sum(taiping.values()) > 1, quick.rule_failures
    assert [k for k, _ in parts].count("row") > 10 and [k for k, _ in parts].count("part") > 1, parts


def test_a_birthday_that_makes_a_later_case_hold_keeps_what_an_earlier_case_gave(tmp_path):
    """Here the admin made 住房隐患 give 低 (a case before 70–79 岁 → 中). Two people of stored
    risk 低 turn 70: the row does not show the hazard, and 低 may come from it — so both are
    decided with the hazard kept beside the ledger (`keptvalues`), or, without it, their
    records are read (only what the birthday reaches): the one with a hazard stays 低, the
    other becomes 中. (With the shipped forms a stored 低 or 中 cannot come from a case before
    it, and people turning 70 are decided from their rows.)"""
    def low_hazard(forms):
        edit(forms / REG, "{when: \"housing_hazard == '是'\", value: 高", "{when: \"housing_hazard == '是'\", value: 低")
    people = []
    for i, hazard in enumerate(("是", "否")):
        p = person(filing=DAY - dt.timedelta(days=40), housing_hazard=hazard,
                   hazard_detail="院墙开裂" if hazard == "是" else None)
        p["id_number"] = id_for(years_before(DAY + dt.timedelta(days=3 + i), 70), seed=100 + i)
        people.append(p)
    forms, data = _ledger(tmp_path, 3, change=low_hazard, extra=people)
    day = DAY + dt.timedelta(days=10)
    slow = _full(tmp_path, forms, data, day, "dry")
    hazard, plain = (p["id_number"] for p in people)
    quick, parts = _quick(forms, data, day)
    _same(quick, slow)
    assert ("row", hazard) in parts and ("row", plain) in parts, parts
    with pytest.MonkeyPatch.context() as mp:         # a store without kept values (the server)
        mp.setattr(keptfiles, "values", lambda *a, **k: None)
        quick, parts = _quick(forms, data, day)
    _same(quick, slow)
    assert ("part", hazard) in parts and ("part", plain) in parts, parts
    assert quick.changes[("registration", "风险等级", "低", "中")] >= 1, quick.table()


def test_a_towns_own_computed_field_is_recomputed_shown_and_applied(tmp_path):
    """太平镇's overlay computes 下一个生日的岁数 from today's date. A year on, every 太平镇
    person's value is one more: the dry run lists it (from rows and from records alike, equal to
    the full run), applying writes it with history, and nothing is left to change after."""
    def overlay(forms):
        (forms / "overlays" / "taiping-next-age.yaml").write_text(TOWN_FIELD, encoding="utf-8")
    forms, data = _ledger(tmp_path, 5, change=overlay)
    with Engine.open(data, forms, readonly=True) as eng:
        taiping = {rid: eng.get(rid, "registration")["data"]
                   for rid, row in eng.index("registration").rows.items() if row.get("town") == "120116156000"}
    assert len(taiping) > 2 and all(d.get("taiping_next_age") for d in taiping.values()), taiping
    day = DAY + dt.timedelta(days=400)
    quick, _ = _quick(forms, data, day)
    slow = _full(tmp_path, forms, data, day, "dry")
    _same(quick, slow)
    moved = {k: n for k, n in quick.changes.items() if k[1] == "太平镇下一个生日的岁数"}
    assert sum(moved.values()) == len(taiping), (moved, quick.table())
    done, _ = _quick(forms, data, day, apply=True)
    _same(done, slow)
    with Engine.open(data, forms, readonly=True, today=lambda: day) as eng:
        for rid, before in taiping.items():
            now = eng.get(rid, "registration")["data"]
            assert now["taiping_next_age"] == now["age"] + 1 > before["taiping_next_age"], (now, before)
            assert "taiping_next_age" in str(eng.history(rid, "registration")[-1]["changes"])
    after = _full(tmp_path, forms, data, day, "after")
    assert after.changed == 0, after.table()
