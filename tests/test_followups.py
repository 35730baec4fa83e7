"""Follow-ups (issue 16): a visit's findings become tracked items, a raised risk a proposal on
the person's file, and the quarterly key-case report counts them. Real engine, real TinyDB
files in tmp folders; what is checked is read back from storage."""
from __future__ import annotations

import datetime as dt
import shutil
from collections import Counter
from pathlib import Path

import pytest

from core.engine import Engine
from core.problems import CarebookError
from followup_support import REFERRAL_AND_RAISED, person_in, visit
from tui_support import TODAY, open_engine

FORMS = Path(__file__).resolve().parents[1] / "forms"


@pytest.fixture
def eng(tmp_path):
    e = open_engine(tmp_path / "data")
    yield e
    e.close()


def _stored(eng, person_id):
    return {r["data"]["kind"]: r for r in eng.related(person_id, "followup")}


def test_visit_with_report_to_town_and_raised_risk_creates_followup_and_proposal(tmp_path):
    eng = open_engine(tmp_path / "data")
    person = person_in(eng, 1)
    assert person.record["data"]["risk_level"] == "中"
    saved = visit(eng, person.id, "2026-11-28", **REFERRAL_AND_RAISED)
    # a raised risk makes the elder a key case: the children are to be notified too (visit.yaml rules)
    assert {r["data"]["kind"] for r in saved.followups} == {"上报街镇", "通知子女督促照顾", "风险等级复核"}
    eng.close()

    eng = Engine.open(tmp_path / "data", today=lambda: TODAY, operator="王芳")   # read back from disk
    items = _stored(eng, person.id)
    report = items["上报街镇"]["data"]
    normal = eng.form("followup").settings["due_days_normal"]
    assert report["owner_level"] == "街镇" and report["status"] == "待处理"
    assert report["visit"] == saved.id and report["detail"] == "独居做饭困难，请街镇协调护理"
    assert report["due_date"] == (dt.date(2026, 11, 28) + dt.timedelta(days=normal)).isoformat()
    proposal = items["风险等级复核"]["data"]
    assert (proposal["current_risk"], proposal["proposed_risk"]) == ("中", "高")
    assert eng.get(person.id)["data"]["risk_level"] == "中"          # only proposed so far

    eng.followup_accept_risk(items["风险等级复核"]["id"])
    person_now = eng.get(person.id)
    assert person_now["data"]["risk_level"] == "高"
    last = eng.history(person.id)[-1]
    assert last["operator"] == "王芳" and last["note"] == "采纳探访提出的风险等级：高"
    assert last["changes"] == [{"path": "risk_level", "old": "中", "new": "高"}]
    assert last["overrides"]["risk_level"]["value"] == "高"
    assert "探访记录（2026-11-28，刘强）" in last["overrides"]["risk_level"]["reason"]
    closed = eng.get(items["风险等级复核"]["id"])["data"]
    assert closed["status"] == "已办结" and closed["result"] == "已采纳：风险等级改为高"
    eng.close()


def test_a_lowered_risk_can_be_refused_with_a_reason(eng):
    person = person_in(eng, 2)
    saved = visit(eng, person.id, "2026-11-28", risk_change="降低")
    proposal = next(r for r in saved.followups if r["data"]["kind"] == "风险等级复核")
    assert proposal["data"]["proposed_risk"] == "低"
    eng.followup_refuse_risk(proposal["id"], "子女近期仍很少联系")
    assert eng.get(person.id)["data"]["risk_level"] == "中"
    assert eng.get(proposal["id"])["data"]["result"] == "不采纳：子女近期仍很少联系"


def test_due_days_are_the_form_files_settings_not_code(tmp_path):
    forms = tmp_path / "forms"
    shutil.copytree(FORMS, forms)
    text = (forms / "followup.yaml").read_text(encoding="utf-8")
    (forms / "followup.yaml").write_text(text.replace("due_days_normal: 7", "due_days_normal: 12"), encoding="utf-8")
    eng = open_engine(tmp_path / "data", forms_dir=forms)
    person = person_in(eng, 3)
    saved = visit(eng, person.id, "2026-11-28", **REFERRAL_AND_RAISED)
    report = next(r for r in saved.followups if r["data"]["kind"] == "上报街镇")
    assert report["data"]["due_date"] == "2026-12-10"
    eng.close()


def test_followup_turns_overdue_the_day_after_its_due_date(eng):
    person = person_in(eng, 4)
    visit(eng, person.id, "2026-11-28", **REFERRAL_AND_RAISED)
    due = dt.date.fromisoformat(_stored(eng, person.id)["上报街镇"]["data"]["due_date"])

    def state(day):
        return {i.kind: i.state for i in eng.followups(as_of=day)}["上报街镇"]

    assert state(due - dt.timedelta(days=5)) == "open"
    assert state(due - dt.timedelta(days=1)) == "due"
    assert state(due) == "due"
    assert state(due + dt.timedelta(days=1)) == "overdue"
    overdue = eng.followups(as_of=due + dt.timedelta(days=3), overdue=True)
    assert [(i.kind, i.days_over) for i in overdue if i.kind == "上报街镇"] == [("上报街镇", 3)]
    assert [i.kind for i in eng.followups(as_of=due + dt.timedelta(days=3), level="村委会")] == ["通知子女督促照顾", "风险等级复核"]


def test_an_emergency_is_due_the_same_day_and_listed_until_handled(eng):
    person = person_in(eng, 5)
    saved = visit(eng, person.id, "2026-11-30", physical="突发疾病", problems_detail="突发脑卒中症状，已拨120")
    emergency = next(r for r in saved.followups if r["data"]["kind"] == "应急处置")
    assert emergency["data"]["due_date"] == "2026-11-30" and emergency["data"]["urgency"] == "应急"
    assert [i.id for i in eng.followup_emergencies()] == [emergency["id"]]
    eng.followup_advance(emergency["id"], "已联系镇卫生院出诊")
    assert eng.followup_emergencies()                      # in progress is not handled
    eng.followup_close(emergency["id"], "已送医，子女已返津陪护")
    assert eng.followup_emergencies() == []


def test_closing_records_who_what_and_when(eng):
    person = person_in(eng, 6)
    visit(eng, person.id, "2026-11-28", **REFERRAL_AND_RAISED)
    fid = _stored(eng, person.id)["上报街镇"]["id"]
    eng.operator = ""
    with pytest.raises(CarebookError, match="操作员"):
        eng.followup_close(fid, "已办")
    eng.followup_close(fid, "街镇已安排护理员每周上门两次", operator="李娜", on=dt.date(2026, 12, 2))
    rec = eng.get(fid)
    assert (rec["data"]["status"], rec["data"]["closed_by"], rec["data"]["closed_on"], rec["data"]["result"]) == \
        ("已办结", "李娜", "2026-12-02", "街镇已安排护理员每周上门两次")
    assert rec["data"]["steps"][-1] == {"step_date": "2026-12-02", "step_by": "李娜", "step_status": "已办结",
                                        "step_text": "街镇已安排护理员每周上门两次"}
    last = eng.history(fid)[-1]
    assert last["operator"] == "李娜" and last["note"] == "办结：街镇已安排护理员每周上门两次"
    assert {c["path"] for c in last["changes"]} >= {"status", "result", "closed_by", "closed_on"}
    with pytest.raises(CarebookError, match="已于 2026-12-02 办结"):
        eng.followup_close(fid, "再办一次", operator="李娜")


def test_contacting_a_child_is_kept_against_the_childs_row(eng):
    person = person_in(eng, 7)
    visit(eng, person.id, "2026-11-28", problems=["生活"], problems_detail="做饭困难")
    fid = _stored(eng, person.id)["通知子女督促照顾"]["id"]
    eng.followup_contact(fid, 1, "未接通", channel="电话", operator="刘强")
    eng.followup_contact(fid, 1, "已联系", channel="微信", note="答应每周打两次电话", operator="刘强")
    rec = eng.get(fid)["data"]
    assert [(c["contact_row"], c["contact_child"], c["contact_channel"], c["contact_outcome"])
            for c in rec["contacts"]] == [(1, "赵明", "电话", "未接通"), (1, "赵明", "微信", "已联系")]
    assert rec["status"] == "处理中"
    with pytest.raises(CarebookError, match="没有第 2 位赡养人"):
        eng.followup_contact(fid, 2, "已联系", operator="刘强")


def test_editing_a_visit_adds_what_it_newly_calls_for_and_never_duplicates(eng):
    person = person_in(eng, 8)
    saved = visit(eng, person.id, "2026-11-28", problems=["健康"])
    assert [r["data"]["kind"] for r in saved.followups] == ["通知子女督促照顾"]
    again = eng.save("visit", {**saved.record["data"], "referral": "是", "referral_to": ["转介部门"],
                               "referral_dept": "镇卫生院", "referral_detail": "慢病随访"}, saved.id)
    assert [(r["data"]["kind"], r["data"]["detail"]) for r in again.followups] == [("转介部门", "镇卫生院：慢病随访")]
    assert Counter(r["data"]["kind"] for r in eng.related(person.id, "followup")) == \
        Counter({"通知子女督促照顾": 1, "转介部门": 1})


# ---------------------------------------------------------------------------- key-case report
KINDS = ("应急处置", "上报街镇", "转介部门", "通知子女督促照顾")


def _independent_counts(eng, q_start, q_end, report_date):
    """The report's numbers computed straight from the stored follow-up records."""
    counts: dict[str, Counter] = {}
    for rec in eng.iter_records("followup"):
        d = rec["data"]
        if d["kind"] not in KINDS:
            continue
        c = counts.setdefault(d["town"], Counter())
        opened, due = dt.date.fromisoformat(d["opened_on"]), dt.date.fromisoformat(d["due_date"])
        closed = dt.date.fromisoformat(d["closed_on"]) if d.get("closed_on") else None
        if q_start <= opened <= q_end:
            c[("新增", d["kind"])] += 1
        if closed and q_start <= closed <= q_end:
            c[("办结", d["kind"])] += 1
            if closed > due:
                c["超时办结"] += 1
        if opened <= report_date and due < report_date and (closed is None or closed > report_date):
            c[("逾期", d["kind"])] += 1
    return counts


def _keycase_world(eng):
    """Follow-ups of every kind in two towns, opened in Q3 and Q4, closed early, late or not yet."""
    findings = [REFERRAL_AND_RAISED, {"physical": "突发疾病"}, {"problems": ["生活"]},
                {"referral": "是", "referral_to": ["上报街镇", "转介部门"], "referral_dept": "民政所",
                 "referral_detail": "申请临时救助", "urgency": "紧急"},
                {"daily_care": "需帮助", "referral": "是", "referral_detail": "护理补贴"}]
    days = ["2026-09-20", "2026-10-03", "2026-11-02", "2026-11-25", "2026-11-29"]
    closes = [None, dt.date(2026, 10, 5), dt.date(2026, 11, 20), None, dt.date(2026, 12, 1)]
    n = 0
    for town in ("120116157000", "120116009000"):
        for i, found in enumerate(findings):
            n += 1
            person = person_in(eng, 20 + n, town=town)
            saved = visit(eng, person.id, days[(i + n) % len(days)], **found)
            for j, rec in enumerate(saved.followups):
                on = closes[(i + j + n) % len(closes)]
                if on and rec["data"]["kind"] != "风险等级复核" and on >= dt.date.fromisoformat(rec["data"]["opened_on"]):
                    eng.followup_close(rec["id"], "已办", on=on)


def test_keycase_report_counts_equal_a_count_over_the_records(eng):
    _keycase_world(eng)
    as_of = dt.date(2026, 12, 10)
    rep = eng.report("summary", report="keycases", quarter="2026Q4", as_of=as_of)
    assert rep.title == "重点帮扶对象跟进情况表" and rep.checks == []
    assert rep.notes[0] == "统计期：2026-10-01 至 2026-12-31；按生成日期数新增、按办结日期数办结，逾期未办结按 2026-12-10 计算"
    expected = _independent_counts(eng, dt.date(2026, 10, 1), dt.date(2026, 12, 31), as_of)
    labels = {c.key: (c.groups[0], c.label) for c in rep.columns if c.groups}
    group = {"本季度新增": "新增", "本季度办结": "办结", "期末逾期未办结": "逾期"}
    short = {"通知子女": "通知子女督促照顾"}
    seen = Counter()
    for row in rep.rows:
        exp = expected.get(row["unit_code"], Counter())
        for key, (g, label) in labels.items():
            if label == "其中超时办结":
                want = exp["超时办结"]
            elif label == "合计":
                want = sum(exp[(group[g], k)] for k in KINDS)
            else:
                want = exp[(group[g], short.get(label, label))]
            assert row[key] == want, (row["unit"], g, label)
            seen[key] += row[key]
    assert all(seen[k] == rep.total[k] for k in labels)
    assert rep.total["c1"] > 0 and rep.total["c6"] > 0 and rep.total["c11"] > 0 and rep.total["c12"] > 0
    # Another day, another answer: overdue is counted on the report date.
    later = eng.report("summary", report="keycases", quarter="2026Q4", as_of=dt.date(2026, 12, 31))
    exp_later = _independent_counts(eng, dt.date(2026, 10, 1), dt.date(2026, 12, 31), dt.date(2026, 12, 31))
    assert later.total["c12"] == sum(c[("逾期", k)] for c in exp_later.values() for k in KINDS)


def test_keycase_report_exports_to_xlsx_like_the_summary(eng, tmp_path):
    import openpyxl

    _keycase_world(eng)
    written = eng.export("summary", "xlsx", tmp_path / "out", quarter="2026Q4", report="keycases")
    sheet = openpyxl.load_workbook(written[0]).active
    cells = [str(c.value) for row in sheet.iter_rows() for c in row if c.value is not None]
    assert any("重点帮扶对象跟进情况表" in c for c in cells)
    assert "期末逾期未办结" in cells and "通知子女" in cells
    rep = eng.report("summary", report="keycases", quarter="2026Q4")
    assert str(rep.total["c1"]) in cells or rep.total["c1"] in [c.value for row in sheet.iter_rows() for c in row]


def test_a_misspelt_followup_rule_is_named_when_the_forms_load(tmp_path):
    from core.formlang.formload import check_paths
    from core.plugins import build_registry, load_plugins

    forms = tmp_path / "forms"
    shutil.copytree(FORMS, forms)
    visit_file = forms / "visit.yaml"
    text = visit_file.read_text(encoding="utf-8")
    text = text.replace("when: \"referral == '是' and has(referral_to, '转介部门')\"",
                        "when: \"referal == '是' and has(referral_to, '转介部门')\"")
    visit_file.write_text(text.replace("    - kind: 上报街镇", "    - kind: 上报县里"), encoding="utf-8")
    problems = [str(p) for p in check_paths([forms], build_registry(load_plugins()))]
    assert any("followups.items.1.kind: “上报县里” 不在 followup 的字段 kind 的选项中" in p for p in problems)
    assert any("followups.items.2.when: 未知的名字 referal" in p and "是不是 referral" in p for p in problems)
