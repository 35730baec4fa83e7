"""Follow-ups on screen (issue 16), read as staff read them: the whole 80x24 screen as text."""
from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))   # tests/ helpers under --import-mode=importlib
from followup_support import REFERRAL_AND_RAISED, person_in, visit  # noqa: E402
from tui_support import SIZE, TODAY, drive, open_engine, screen_names, type_text, until  # noqa: E402
from tui.app import CarebookApp  # noqa: E402
from tui.screens.followups import FollowupScreen  # noqa: E402


def screen_text(app) -> str:
    """What the terminal shows: every line of the current screen, as characters."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def ledger(folder: Path):
    """赵桂兰's visit on 11-20 reported her to the town (due 11-27 with the shipped settings)."""
    eng = open_engine(folder)
    person = person_in(eng, 1)
    saved = visit(eng, person.id, "2026-11-20", **REFERRAL_AND_RAISED)
    report = next(r for r in saved.followups if r["data"]["kind"] == "上报街镇")
    return eng, person, report


@drive
async def test_home_shows_the_followup_due_on_its_date_and_overdue_the_day_after(tmp_path):
    eng, person, report = ledger(tmp_path / "data")
    due = dt.date.fromisoformat(report["data"]["due_date"])
    app = CarebookApp(eng, today=due)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "已逾期" in screen_text(app) and "跟进事项" in screen_text(app))
        text = screen_text(app)
        assert "已逾期 0 件  即将到期 3 件" in text
        assert f"即将到期  赵桂兰  上报街镇  时限 {due.isoformat()}" in text
        assert "逾期1天" not in text

    eng = open_engine(tmp_path / "data")
    app = CarebookApp(eng, today=due + dt.timedelta(days=1))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "逾期1天" in screen_text(app))
        text = screen_text(app)
        assert "已逾期 3 件  即将到期 0 件" in text
        assert f"逾期1天  赵桂兰  上报街镇  时限 {due.isoformat()}" in text
        assert "7 天内应探访" in text                       # next to the visits due, on one screen


@drive
async def test_home_follows_the_operators_level(tmp_path):
    eng, person, report = ledger(tmp_path / "data")
    eng.settings.set("operator_level", "村委会")
    app = CarebookApp(eng, today=TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "跟进事项（村委会）" in screen_text(app))
        text = screen_text(app)
        assert "已逾期 2 件" in text and "上报街镇" not in text     # the town's item is not the village's
        assert "通知子女督促照顾" in text


@drive
async def test_close_from_the_list_records_who_and_what_and_home_updates(tmp_path):
    eng, person, report = ledger(tmp_path / "data")
    app = CarebookApp(eng, today=TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "跟进事项（全部层级）" in screen_text(app))
        await pilot.press("f")
        await until(pilot, lambda: screen_names(app)[-1] == "FollowupsScreen")
        text = screen_text(app)
        assert "共 3 件" in text and "逾期3天" in text and "上报街镇" in text
        table = app.screen.query_one("#followups-table")
        table.move_cursor(row=[table.get_row_at(i)[2] for i in range(table.row_count)].index("上报街镇"))
        await pilot.press("enter")
        await until(pilot, lambda: screen_names(app)[-1] == "FollowupScreen")
        assert "独居做饭困难，请街镇协调护理" in screen_text(app)
        await pilot.press("j")
        await until(pilot, lambda: screen_names(app)[-1] == "PromptScreen")
        await type_text(pilot, "街镇已安排护理员上门")
        await pilot.press("enter")
        await until(pilot, lambda: "[办结]" in screen_text(app))
        assert "[办结] 2026-11-30 张丽：街镇已安排护理员上门" in screen_text(app)
        await pilot.press("escape")
        await until(pilot, lambda: "共 2 件" in screen_text(app))
        assert "上报街镇" not in screen_text(app)
        await pilot.press("escape")
        await until(pilot, lambda: "已逾期 2 件" in screen_text(app))
        rec = eng.get(report["id"])["data"]
        assert (rec["status"], rec["closed_by"], rec["closed_on"], rec["result"]) == \
            ("已办结", "张丽", "2026-11-30", "街镇已安排护理员上门")


@drive
async def test_emergency_is_marked_on_every_screen_until_handled(tmp_path):
    eng = open_engine(tmp_path / "data")
    person = person_in(eng, 1)
    saved = visit(eng, person.id, "2026-11-30", physical="突发疾病", problems_detail="突发胸痛，已拨120")
    emergency = next(r for r in saved.followups if r["data"]["kind"] == "应急处置")
    app = CarebookApp(eng, today=TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "跟进事项（全部层级）" in screen_text(app))
        assert "应急未办结 1 件" in screen_text(app).splitlines()[0]
        for key, screen in (("r", "RosterScreen"), ("s", "SummaryScreen")):
            await pilot.press(key)
            await until(pilot, lambda: screen_names(app)[-1] == screen)
            assert "应急未办结 1 件" in screen_text(app).splitlines()[0], screen
            await pilot.press("escape")
            await pilot.pause()
        app.open_person(person.id)
        await until(pilot, lambda: screen_names(app)[-1] == "PersonScreen")
        assert "应急未办结 1 件" in screen_text(app).splitlines()[0]
        assert "（探访建议：" not in screen_text(app)
        await pilot.press("5")
        await until(pilot, lambda: "应急处置" in screen_text(app))
        app.screen.query_one("#person-followups").focus()
        await pilot.press("enter")
        await until(pilot, lambda: screen_names(app)[-1] == "FollowupScreen")
        await pilot.press("j")
        await until(pilot, lambda: screen_names(app)[-1] == "PromptScreen")
        await type_text(pilot, "已送医")
        await pilot.press("enter")
        await until(pilot, lambda: "应急未办结" not in screen_text(app))
        assert "应急未办结" not in screen_text(app).splitlines()[0]
        assert eng.get(emergency["id"])["data"]["result"] == "已送医"


@drive
async def test_person_file_shows_the_proposed_risk_and_accepting_it_is_an_override(tmp_path):
    eng, person, report = ledger(tmp_path / "data")
    app = CarebookApp(eng, today=TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.open_person(person.id)
        await until(pilot, lambda: screen_names(app)[-1] == "PersonScreen")
        assert "中风险（探访建议：高，5 跟进）" in screen_text(app)
        await pilot.press("5")
        await until(pilot, lambda: "风险等级复核" in screen_text(app))
        table = app.screen.query_one("#person-followups")
        table.focus()
        table.move_cursor(row=[table.get_row_at(i)[2] for i in range(table.row_count)].index("风险等级复核"))
        await pilot.press("enter")
        await until(pilot, lambda: screen_names(app)[-1] == "FollowupScreen")
        assert "建议风险等级：中 -> 高（Y 采纳 / B 不采纳）" in screen_text(app)
        await pilot.press("y")
        await until(pilot, lambda: "已采纳：风险等级改为高" in screen_text(app))
        await pilot.press("escape")
        await until(pilot, lambda: "高风险" in screen_text(app))
        assert "探访建议" not in screen_text(app)
        await pilot.press("4")
        await until(pilot, lambda: "改判风险等级为 高风险" in screen_text(app))
        lines = screen_text(app).splitlines()
        assert "  改判风险等级为 高风险" in [line.rstrip() for line in lines], lines
        # the reason under it, indented as it is (it once wrapped to the left edge)
        [reason] = [n for n, line in enumerate(lines) if "理由：探访记录（2026-11-20，刘强）" in line]
        assert lines[reason].startswith("  理由：") and "改判风险等级为 高风险" in lines[reason - 1]


@drive
async def test_town_view_lists_referrals_from_its_villages(tmp_path):
    eng, person, report = ledger(tmp_path / "data")
    other = person_in(eng, 2, town="120116009000", name="钱秀英")
    visit(eng, other.id, "2026-11-25", referral="是", referral_to=["转介部门"], referral_dept="镇卫生院",
          referral_detail="慢病随访")
    app = CarebookApp(eng, today=TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.action_go("referrals")
        await until(pilot, lambda: screen_names(app)[-1] == "FollowupsScreen")
        text = screen_text(app)
        assert "街镇收到的上报、转介和应急（各村）" in text and "共 2 件" in text
        assert "赵桂兰" in text and "上报街镇" in text and "钱秀英" in text and "转介部门" in text
        assert "通知子女督促照顾" not in text and "风险等级复核" not in text


@drive
async def test_a_visit_recorded_on_screen_creates_its_followups_once(tmp_path):
    eng = open_engine(tmp_path / "data")
    person = person_in(eng, 1)
    app = CarebookApp(eng, today=TODAY)
    shown, notify = [], app.notify           # every message, kept after its toast times out

    def keep(message, **kw):
        shown.append(message)
        return notify(message, **kw)
    app.notify = keep
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.open_person(person.id)
        await until(pilot, lambda: screen_names(app)[-1] == "PersonScreen")
        await pilot.press("v")
        await until(pilot, lambda: screen_names(app)[-1] == "FormEntryScreen")
        view = app.screen.view
        for fid, value in {"visit_level": "村委会", "visit_method": "入户", "saw_person": "是",
                           "physical": "良好", "mental": "良好", "daily_care": "正常", "hazards": ["无"],
                           "referral": "是", "risk_change": "升高"}.items():
            view.rows[fid].set_value(value)
        await pilot.pause()
        view.rows["referral_to"].set_value(["上报街镇"])
        view.rows["referral_detail"].editor.focus()
        await type_text(pilot, "请街镇协调护理")
        view.rows["visitor"].editor.focus()
        await type_text(pilot, "刘强")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: screen_names(app)[-1] == "PersonScreen")
        assert any("已生成跟进事项：上报街镇、通知子女督促照顾、风险等级复核" in n for n in shown), shown
        assert "中风险（探访建议：高，5 跟进）" in screen_text(app)
        await pilot.press("5")
        await until(pilot, lambda: "上报街镇" in screen_text(app))
        assert "通知子女督促照顾" in screen_text(app) and "风险等级复核" in screen_text(app)
        kinds = sorted(i.kind for i in eng.followups(person=person.id))
        assert kinds == ["上报街镇", "通知子女督促照顾", "风险等级复核"]
        assert eng.related(person.id, "followup")[0]["data"]["opened_on"] == TODAY.isoformat()


@drive
async def test_a_contact_with_a_child_shows_on_that_childs_row(tmp_path):
    eng = open_engine(tmp_path / "data")
    person = person_in(eng, 1)
    saved = visit(eng, person.id, "2026-11-20", problems=["生活"])
    notify = next(r for r in saved.followups if r["data"]["kind"] == "通知子女督促照顾")
    app = CarebookApp(eng, today=TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.push_screen(FollowupScreen(notify["id"]))
        await until(pilot, lambda: screen_names(app)[-1] == "FollowupScreen")
        await pilot.press("c")
        await until(pilot, lambda: screen_names(app)[-1] == "PromptScreen")
        app.screen.query_one("#ask-outcome").value = "未接通"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "第1位 赵明 电话：未接通" in screen_text(app))
        assert "状态：处理中" in screen_text(app)
        await pilot.press("ctrl+g")
        await until(pilot, lambda: screen_names(app)[-1] == "PersonScreen")
        await pilot.press("2")
        await until(pilot, lambda: "最近联系" in screen_text(app))
        row = next(line for line in screen_text(app).splitlines() if "赵明" in line)
        assert "11-30 电话 未接通" in row
        contact = eng.get(notify["id"])["data"]["contacts"][0]
        assert (contact["contact_row"], contact["contact_by"], contact["contact_date"]) == (1, "张丽", "2026-11-30")
