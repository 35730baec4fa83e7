"""What a bulk check remembers must not outlive what it depends on (issue 13's import check).

An ID number's judgement is remembered per (number, day): a number whose birth date is
"tomorrow" is refused today and accepted once tomorrow comes. The division list is looked at
once per import (`core.steadyfiles.steady`), not once per cell: an edit made during an import
is seen by the next import, by another thread at once, and by everyone once the block ends.
"""
from __future__ import annotations

import datetime as dt
import os
import threading

import pytest

from binhai_support import VILLAGE, copy_forms, open_engine, person
from core import dates
from core.checkdigit import check_char
from core.steadyfiles import steady
from core.transfer.importing import import_records
from plugins.cn.divisions import DivisionFile
from plugins.cn.ids import birth_date, check_id, sex
from plugins.cn_types import ResidentIdType, is_resident_id

OPEN = '{code: "120116157201", name: 渡口村, confirmed: true, valid_from: null, valid_to: null}'


def born_on(day: dt.date) -> str:
    first17 = f"120107{day:%Y%m%d}003"
    return first17 + check_char(first17)


def test_an_id_number_is_judged_again_when_the_day_changes(monkeypatch):
    number = born_on(dt.date(2026, 12, 5))
    monkeypatch.setenv(dates.TODAY_ENV, "2026-12-04")
    for _ in range(2):                                   # the second answer is the remembered one
        assert check_id(number) == "出生日期无效：晚于今天"
        assert not is_resident_id(number)
        with pytest.raises(ValueError, match="晚于今天"):
            ResidentIdType().normalize(number)
        with pytest.raises(ValueError, match="晚于今天"):
            sex(number)
    monkeypatch.setenv(dates.TODAY_ENV, "2026-12-05")
    assert check_id(number) is None and is_resident_id(number)
    assert ResidentIdType().normalize(number) == number
    assert (sex(number), birth_date(number)) == ("男", dt.date(2026, 12, 5))
    monkeypatch.setenv(dates.TODAY_ENV, "2026-12-04")
    assert check_id(number) == "出生日期无效：晚于今天"
    for judged in (ResidentIdType().normalize, sex, birth_date):      # remembered valid yesterday
        with pytest.raises(ValueError, match="晚于今天"):
            judged(number)
    assert check_id(number, dt.date(2026, 12, 6)) is None            # a day given is the day used


def close_village(forms, until: str) -> None:
    data_file = forms / "data" / "divisions.yaml"
    text = data_file.read_text("utf-8")
    assert OPEN in text
    data_file.write_text(text.replace(OPEN, OPEN.replace("valid_to: null", f'valid_to: "{until}"')), "utf-8")
    os.utime(data_file, ns=(1, 10**18))                  # a new mtime, whatever the clock's grain


def test_a_steady_block_looks_once_and_other_threads_and_later_calls_see_edits(tmp_path):
    forms = copy_forms(tmp_path)
    source = DivisionFile(forms)
    seen: list = []
    with steady():
        assert source.current().get(VILLAGE).valid_to is None
        close_village(forms, "2026-01-01")
        assert source.current().get(VILLAGE).valid_to is None          # as it was when looked at
        other = threading.Thread(target=lambda: seen.append(DivisionFile(forms).current().get(VILLAGE).valid_to))
        other.start()
        other.join()
        with steady():                                                  # part of the outer block
            assert source.current().get(VILLAGE).valid_to is None
    assert seen == [dt.date(2026, 1, 1)]
    assert source.current().get(VILLAGE).valid_to == dt.date(2026, 1, 1)


def test_the_next_import_check_sees_a_division_edit(tmp_path):
    forms = copy_forms(tmp_path / "a")
    source = open_engine(tmp_path / "a", forms)
    try:
        source.save("registration", person())
        [book] = source.export("records", "xlsx", tmp_path / "out.xlsx", full=True)
    finally:
        source.close()
    target = open_engine(tmp_path / "b", forms)
    try:
        first = import_records(target, "registration", book, dry_run=True, strict=True)
        assert first.problems == [] and first.rows == 1
        close_village(forms, (dates.today() - dt.timedelta(days=1)).isoformat())
        second = import_records(target, "registration", book, dry_run=True, strict=True)
        assert [p.line for p in second.problems] == [2]
        assert "渡口村（120116157201）已停用或尚未启用" in second.problems[0].message
    finally:
        target.close()


def test_the_fast_schema_check_remembers_only_what_reads_the_value_alone(tmp_path, monkeypatch):
    """Dates and choices are remembered per value; an ID number (today) and a division code
    (the division file) are asked every time, so a day change or an edited list is seen."""
    from core.records.schemafast import compile_fast
    from core.records.validation import format_checker
    from core.registry import FormatEntry

    forms = copy_forms(tmp_path)
    eng = open_engine(tmp_path, forms)
    try:
        asked: list[str] = []
        registry = eng.registry
        for name in ("date", "cn-division"):
            entry = registry.formats[name]

            def counting(value, _check=entry.check, _name=name):
                asked.append(_name)
                return _check(value)
            counting.pure = getattr(entry.check, "pure", False)
            monkeypatch.setitem(registry.formats, name, FormatEntry(name, counting, entry.message, entry.plugin))
        schema = {"type": "object", "additionalProperties": False, "properties": {
            "born": {"type": "string", "format": "date"},
            "id": {"type": "string", "format": "cn-resident-id"},
            "village": {"type": "string", "pattern": r"^\d{12}$", "format": "cn-division"},
            "kids": {"type": "array", "maxItems": 2, "items": {"type": "object", "additionalProperties": False,
                                                               "properties": {"id": {"type": "string", "format": "cn-resident-id"}}}}}}
        fast = compile_fast(schema, format_checker(registry))
        number = born_on(dt.date(2026, 12, 5))
        record = {"born": "2026-12-05", "id": number, "village": VILLAGE, "kids": [{"id": number}]}
        monkeypatch.setenv(dates.TODAY_ENV, "2026-12-05")
        assert fast(record) and fast(record)
        assert asked == ["date", "cn-division", "cn-division"]          # the date once, the village each time
        monkeypatch.setenv(dates.TODAY_ENV, "2026-12-04")
        assert not fast(record)
        assert not fast({**record, "id": born_on(dt.date(1950, 1, 1)), "kids": [{"id": number}]})
        assert fast({**record, "id": born_on(dt.date(1950, 1, 1)), "kids": [{"id": born_on(dt.date(1950, 1, 1))}]})
        assert not fast({**record, "born": "2026-02-30"}) and not fast({**record, "kids": [{}, {}, {}]})
        assert not fast({**record, "extra": 1}) and not fast([record])
        monkeypatch.setenv(dates.TODAY_ENV, "2026-12-05")
        assert fast(record)
        close_village(forms, "2026-01-01")        # the format asks only whether the code is listed: still valid
        data_file = forms / "data" / "divisions.yaml"
        data_file.write_text(data_file.read_text("utf-8").replace('"120116157201"', '"120116157299"'), "utf-8")
        os.utime(data_file, ns=(1, 2 * 10**18))
        assert not fast(record)                   # the code is gone from the list: asked again, refused
    finally:
        eng.close()


def test_the_computers_date_is_asked_again_once_its_day_is_over(monkeypatch):
    monkeypatch.delenv(dates.TODAY_ENV)
    before = dt.date.today()
    assert dates.today() in (before, dt.date.today())                  # a run across midnight sees one of two
    monkeypatch.setattr(dates, "_day", (0.0, 1e20, dt.date(2000, 1, 1)))
    assert dates.today() == dt.date(2000, 1, 1)                      # within its span: remembered
    monkeypatch.setattr(dates, "_day", (0.0, 1.0, dt.date(2000, 1, 1)))
    before = dt.date.today()
    assert dates.today() in (before, dt.date.today())                  # the span is over: asked again
    monkeypatch.setenv(dates.TODAY_ENV, "2027-02-10")
    assert dates.today() == dt.date(2027, 2, 10)


def test_the_fast_schema_check_lets_go_of_answers_that_do_not_repeat(tmp_path):
    """Each town's validator holds its own: 300 different phone numbers are not all kept (as
    cleaning lets names go), a choice's few answers are."""
    from core.records import schemafast
    from core.records.validation import format_checker

    eng = open_engine(tmp_path)
    try:
        checker = format_checker(eng.registry)
        formats = {name: schemafast._format(checker, name) for name in checker.checkers}
        pure = {name for name in checker.checkers if getattr(checker.checkers[name][0], "pure", False)}
        phone = schemafast._part({"type": "string", "format": "cn-phone"}, formats, pure)
        assert all(phone(f"13{n:09d}") for n in range(300)) and not phone("123")
        assert phone.held[1] == {}
        choice = schemafast._part({"type": "string", "enum": ["是", "否"]}, formats, pure)
        assert [choice(("是", "否", "也许")[n % 3]) for n in range(3000)].count(False) == 1000
        assert choice.held[1] == {"是": True, "否": True, "也许": False}
    finally:
        eng.close()


def test_remembered_days_are_only_days_written_as_the_date_type_writes_them(monkeypatch):
    """`clean_date` remembers a text only when it is already YYYY-MM-DD and names a real day:
    that answer depends on the text alone. A text that is no day, or is one written another
    way, is never remembered, so it is judged (and worded) as before however often it comes,
    the day it is asked does not matter, and the memory stops at its limit."""
    from plugins import basic_types as bt

    monkeypatch.setattr(bt, "_ISO_DAYS", set())
    monkeypatch.setattr(bt, "ISO_DAYS_LIMIT", 3)
    for _ in range(2):                                    # the second time from memory
        assert bt.clean_date("2026-02-28", None) == "2026-02-28"
        assert bt.clean_date("2026-2-3", None) == "2026-02-03"
        with pytest.raises(ValueError, match="没有这一天：2026-02-30"):
            bt.clean_date("2026-02-30", None)
        with pytest.raises(ValueError, match="日期格式应为"):
            bt.clean_date("2026-02-2x", None)
        assert bt.clean_date("2026-02-2８", None) == "2026-02-28"     # full-width: cleaned, not kept
        assert not any(bt.is_iso_date(t) for t in ("2026-02-30", "2026-2-3", "2026-02-2８"))
        assert bt.is_iso_date("2026-02-28") and bt.is_iso_date("2026-02-03")
    assert bt._ISO_DAYS == {"2026-02-28"}                # only the text that was already the answer
    monkeypatch.setenv(dates.TODAY_ENV, "1990-01-01")     # a day before them: the same answers
    assert bt.clean_date("2026-02-28", None) == "2026-02-28"
    for day in ("2026-03-01", "2026-03-02", "2026-03-03"):
        assert bt.clean_date(day, None) == day
    assert len(bt._ISO_DAYS) == 3 and "2026-03-03" not in bt._ISO_DAYS   # full: no longer grown
    assert bt.clean_date(dt.date(2026, 3, 4), None) == "2026-03-04"      # a date object as before
