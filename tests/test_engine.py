"""The engine facade end to end: real forms (a copy of forms/), real TinyDB files in tmp_path."""
from __future__ import annotations

import datetime as dt

import pytest

from binhai_support import TODAY, VILLAGE, copy_forms, edit, open_engine, person, visit
from core.engine import Engine
from core.problems import CarebookError, ValidationFailed


@pytest.fixture
def eng(tmp_path):
    engine = open_engine(tmp_path)
    yield engine
    engine.close()


def test_saved_record_carries_identity_form_version_and_operator(eng):
    res = eng.save("registration", person(name="李桂兰"))
    rec = eng.get(res.id)
    assert rec["form"] == "registration"
    assert rec["version"] == eng.form("registration").version
    assert rec["operator"] == "测试员"
    assert rec["partition"] == VILLAGE
    assert rec["created"] == rec["updated"]
    assert rec["data"]["name"] == "李桂兰"
    assert len(rec["id"]) == 36                     # a UUID, stable across machines


def test_computed_values_are_stored_with_their_reasons(eng):
    res = eng.save("registration", person(age=85))
    rec = eng.get(res.id)
    assert rec["data"]["age"] >= 85
    assert rec["data"]["risk_level"] == "高"
    assert rec["meta"]["reasons"]["risk_level"]     # the rule that fired is kept


def test_refused_record_names_field_and_rule_and_stores_nothing(eng):
    bad = person(name="")
    bad.pop("name")
    with pytest.raises(ValidationFailed) as err:
        eng.save("registration", bad)
    paths = {p.path for p in err.value.problems}
    assert "name" in paths
    assert any("姓名" in p.message for p in err.value.problems)
    assert eng.count("registration") == 0


def test_duplicate_id_number_is_refused_with_the_existing_record(eng):
    first = person()
    eng.save("registration", first)
    with pytest.raises(ValidationFailed) as err:
        eng.save("registration", person(id_number=first["id_number"]))
    assert any(p.path == "id_number" for p in err.value.problems)
    assert eng.count("registration") == 1


def test_edit_appends_history_with_field_diff_and_keeps_created(eng):
    res = eng.save("registration", person(name="王秀英"))
    data = dict(eng.get(res.id)["data"], name="王秀兰")
    eng.save("registration", data, record_id=res.id, operator="刘敏")
    hist = eng.history(res.id)
    assert [h["action"] for h in hist] == ["新建", "修改"]
    assert hist[1]["operator"] == "刘敏"
    assert {"path": "name", "old": "王秀英", "new": "王秀兰"} in hist[1]["changes"]
    assert eng.get(res.id)["created"] == hist[0]["at"]


def test_leaving_the_ledger_is_a_recorded_status_change_not_a_delete(eng):
    res = eng.save("registration", person())
    data = dict(eng.get(res.id)["data"], status="退出", exit_reason="死亡", exit_date=TODAY.isoformat())
    eng.save("registration", data, record_id=res.id, note="本人去世")
    assert eng.get(res.id)["data"]["status"] == "退出"
    last = eng.history(res.id)[-1]
    assert {c["path"] for c in last["changes"]} >= {"status", "exit_reason", "exit_date"}
    assert last["note"] == "本人去世"
    assert eng.count("registration", {"status": "退出"}) == 1


def test_warning_saves_only_with_a_typed_reason_which_history_keeps(eng):
    data = person(file_no="120116999999-0001")      # does not start with the village code: a warning
    with pytest.raises(ValidationFailed) as err:
        eng.save("registration", data)
    warning = next(p for p in err.value.problems if p.severity == "warning")
    res = eng.save("registration", data, reasons={warning.rule: "老档案沿用原编号"})
    hist = eng.history(res.id)
    assert {"rule": warning.rule, "reason": "老档案沿用原编号"} in hist[0]["reasons"]


def test_risk_override_needs_a_reason_and_is_in_the_history(eng):
    res = eng.save("registration", person(), overrides={"risk_level": {"value": "高", "reason": "独居且近期跌倒"}})
    rec = eng.get(res.id)
    assert rec["data"]["risk_level"] == "高"
    assert eng.history(res.id)[0]["overrides"]["risk_level"]["reason"] == "独居且近期跌倒"


def test_empty_file_number_is_numbered_after_the_village_highest(eng):
    a = person(file_no=None)
    b = person(file_no=None)
    ra = eng.save("registration", a)
    rb = eng.save("registration", b)
    assert eng.get(ra.id)["data"]["file_no"] == f"{VILLAGE}-0001"
    assert eng.get(rb.id)["data"]["file_no"] == f"{VILLAGE}-0002"


def test_new_record_fills_initial_values(eng):
    blank = eng.new_record("registration")
    assert blank["filing_date"] == TODAY.isoformat()          # the pinned day (conftest.py)
    assert blank["status"] == "在册"


def test_visit_copies_the_persons_town_village_and_name(eng):
    pid = eng.save("registration", person(name="赵凤兰")).id
    v = visit(pid, TODAY)
    for key in ("person_name", "town", "village"):
        v.pop(key)
    rec = eng.get(eng.save("visit", v).id)
    assert rec["data"]["person_name"] == "赵凤兰"
    assert rec["data"]["village"] == VILLAGE
    assert rec["partition"] == VILLAGE


def test_visit_to_a_missing_person_is_refused(eng):
    with pytest.raises(ValidationFailed) as err:
        eng.save("visit", visit("no-such-person", TODAY))
    assert any(p.path == "person" and p.rule == "record-ref" for p in err.value.problems)


def test_old_records_stay_readable_after_the_form_changes(tmp_path):
    forms = copy_forms(tmp_path)
    eng = open_engine(tmp_path, forms)
    old_id = eng.save("registration", person()).id
    eng.close()
    reg = forms / "registration.yaml"
    text = reg.read_text(encoding="utf-8")
    version = eng.form("registration").version
    edit(reg, f"\nversion: {version}\n", f"\nversion: {version + 1}\n")
    edit(reg, "      - {id: reviewer, label: 复核人, type: text, max_length: 20}",
         "      - {id: reviewer, label: 复核人, type: text, max_length: 20}\n"
         "      - {id: grid_no, label: 网格编号, type: text, required: true}")
    assert text != reg.read_text(encoding="utf-8")
    eng = open_engine(tmp_path, forms)
    try:
        assert eng.form("registration").version == version + 1
        assert eng.outdated("registration") == [old_id]
        assert eng.validate_stored(old_id) == []          # still valid under its own version
        assert eng.form("registration", version).field("grid_no") is None
        with pytest.raises(ValidationFailed) as err:     # new records need the new field
            eng.save("registration", person())
        assert any(p.path == "grid_no" for p in err.value.problems)
    finally:
        eng.close()


def test_drafts_survive_a_restart(tmp_path):
    eng = open_engine(tmp_path)
    eng.save_draft("registration", None, {"name": "孙玉珍"})
    eng.close()
    eng = open_engine(tmp_path, tmp_path / "forms")
    try:
        assert eng.load_draft("registration", None) == {"name": "孙玉珍"}
        eng.drop_draft("registration", None)
        assert eng.load_draft("registration", None) is None
    finally:
        eng.close()


def test_readonly_engine_refuses_to_save(tmp_path):
    open_engine(tmp_path).close()
    ro = Engine.open(tmp_path / "data", tmp_path / "forms", readonly=True)
    try:
        with pytest.raises(CarebookError):
            ro.save("registration", person())
    finally:
        ro.close()


def test_query_searches_name_pinyin_id_and_phone(eng):
    p = person(name="张桂兰", phone="13912345678")
    eng.save("registration", p)
    eng.save("registration", person(name="李明"))
    # Numbers are found whole or by their last four after a name, never by a part that
    # would spell out a masked number (issue 14).
    for needle in ("张桂", "zgl", p["id_number"], "13912345678", "张桂兰" + p["id_number"][-4:],
                   "zgl 5678", "张 " + p["id_number"][-4:]):
        page = eng.query("registration", text=needle)
        assert [r["name"] for r in page.rows] == ["张桂兰"], needle
    for needle in (p["id_number"][-6:], "2345678", p["id_number"][:6], p["id_number"][:17], "1391234567",
                   p["id_number"][-4:], "李明" + p["id_number"][-4:]):
        assert eng.query("registration", text=needle).rows == [], needle
    assert eng.query("registration", filters={"name": ["李明", "张桂兰"]}).total == 2


def test_full_export_is_written_to_the_audit_log(eng, tmp_path):
    eng.save("registration", person())
    eng.export("records", "json", tmp_path / "out.json", full=True, form="registration")
    log = eng.audit_log()
    assert log and log[-1]["full"] is True and log[-1]["operator"] == "测试员"


def test_search_as_you_type_narrows_and_widens_correctly(eng):
    for name in ("王永利", "王永华", "王芳", "李永利"):
        eng.save("registration", person(name=name))
    seen = [sorted(r["name"] for r in eng.query("registration", text=t).rows)
            for t in ("王", "王永", "王永利", "王永", "永利", "")]
    assert seen == [["王永利", "王永华", "王芳"], ["王永利", "王永华"], ["王永利"], ["王永利", "王永华"],
                    ["李永利", "王永利"], ["李永利", "王永利", "王永华", "王芳"]]


def test_a_persons_visits_are_read_from_their_village_alone(tmp_path):
    from binhai_support import TOWN2, VILLAGE2

    eng = open_engine(tmp_path)
    here = eng.save("registration", person(name="甲")).id
    there = eng.save("registration", person(name="乙", town=TOWN2, village=VILLAGE2)).id
    for day in (TODAY - dt.timedelta(days=40), TODAY - dt.timedelta(days=10)):
        eng.save("visit", visit(here, day))
        eng.save("visit", visit(there, day, town=TOWN2, village=VILLAGE2))
    eng.close()
    eng = Engine.open(tmp_path / "data", tmp_path / "forms", readonly=True)
    try:
        visits = eng.related(here, "visit")
        assert sorted(v["data"]["visit_date"] for v in visits) == sorted(
            d.isoformat() for d in (TODAY - dt.timedelta(days=40), TODAY - dt.timedelta(days=10)))
        assert all(v["data"]["person"] == here for v in visits)
        assert "visit" not in eng.store._tables        # no other village's visits were loaded
        assert eng.latest("visit")[here]["村委会"] == (TODAY - dt.timedelta(days=10)).isoformat()
    finally:
        eng.close()


def test_bulk_save_writes_in_batches_cut_where_the_village_changes(tmp_path, monkeypatch):
    """A long bulk save is written in batches (memory stays bounded) and a batch is cut only
    where the partition changes, so village-ordered input writes each village file once."""
    import core.engine as engine_module
    from binhai_support import TOWN2, VILLAGE, VILLAGE2

    monkeypatch.setattr(engine_module, "BULK_BATCH", 2)
    eng = open_engine(tmp_path)
    writes = []
    put_many = eng.store.put_many
    monkeypatch.setattr(eng.store, "put_many", lambda table, items, **kw: writes.append(
        (table, sorted({rec["partition"] for rec, _, _ in items}))) or put_many(table, items, **kw))
    people = [person(name=f"甲{i}") for i in range(3)] + \
        [person(name=f"乙{i}", town=TOWN2, village=VILLAGE2) for i in range(2)]
    assert eng.bulk_save("registration", people) == 5
    assert [w for w in writes if w[0] == "registration"] == [("registration", [VILLAGE]),
                                                               ("registration", [VILLAGE2])]
    eng.close()
    eng = Engine.open(tmp_path / "data", tmp_path / "forms", readonly=True)
    assert sorted(r["data"]["name"] for r in eng.iter_records("registration")) == ["乙0", "乙1", "甲0", "甲1", "甲2"]
    eng.close()


def test_a_draft_id_that_would_leave_the_folder_is_refused(tmp_path):
    """Issue 14: `../` in an id must not write outside the data folder's drafts/."""
    eng = open_engine(tmp_path)
    try:
        with pytest.raises(CarebookError, match="记录编号不合规"):
            eng.save_draft("registration", "../../evil", {"name": "x"})
        assert not (tmp_path / "evil.json").exists() and not list(tmp_path.rglob("*evil*"))
        eng.save_draft("registration", "0d3c-uuid_1", {"name": "孙"})
        assert eng.load_draft("registration", "0d3c-uuid_1") == {"name": "孙"}
    finally:
        eng.close()
