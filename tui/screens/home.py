"""Home: what needs doing today, at a glance.

Counts by status and risk come from the in-memory list rows (cheap); visits due are computed
by the schedule over every person and visit, which is slower on 50,000 people, so that part
runs in a worker and the screen is usable at once.
"""
from __future__ import annotations

import datetime as dt

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Static

from .. import roles
from ..widgets.pagedtable import PagedTable
from .base import BaseScreen


def quarter_deadline(today: dt.date) -> tuple[str, dt.date]:
    """This quarter's name and its summary due date.

    The 2020 Binhai plan: towns report before the 15th of the last month of each quarter
    (03-15, 06-15, 09-15, 12-15). Used only while the engine offers no deadline of its own.
    """
    q = (today.month - 1) // 3 + 1
    return f"{today.year}年第{q}季度", dt.date(today.year, q * 3, 15)


class HomeScreen(BaseScreen):
    BINDINGS = [
        Binding("escape", "noop", show=False),
        Binding("r", "app.go('roster')", "花名册"),
        Binding("n", "app.go('register')", "新建登记"),
        Binding("v", "visit", "登记探访"),
        Binding("s", "app.go('summary')", "汇总表"),
        Binding("e", "app.go('export')", "导出"),
        Binding("a", "app.go('admin')", "管理"),
        Binding("o", "app.go('operator')", "操作员", show=False),
        Binding("f5", "reload", "刷新"),
    ]
    HELP_TEXT = ("首页显示在册人数、风险分布、本周应探访和已逾期的人员，以及本季度汇总表的截止日期。"
                 "在下方列表中按回车打开人员档案，按 V 直接登记探访。")

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        with Horizontal(id="home-top"):
            yield Static("", id="home-counts", classes="panel")
            yield Static("正在计算应探访人员……", id="home-due", classes="panel")
        yield Static("", id="home-deadline")
        table = PagedTable(id="home-due-table", cursor_type="row", zebra_stripes=True)
        table.border_title = "应探访与已逾期（回车：打开档案）"
        yield table
        yield from self.compose_footer()

    def on_mount(self) -> None:
        self.reload()

    def on_screen_resume(self) -> None:
        self.reload()

    def action_noop(self) -> None:
        """Home is the bottom of the stack: Esc has nowhere to go."""

    def action_reload(self) -> None:
        self.reload()

    def reload(self) -> None:
        self.show_counts()
        self.show_deadline()
        self.load_due()

    # ------------------------------------------------------------------ counts
    def show_counts(self) -> None:
        eng = self.eng
        form = roles.form_or_none(eng, roles.PERSON_FORM)
        if form is None:
            self.query_one("#home-counts", Static).update("登记表不可用，请在“管理”中查看表单检查结果")
            return
        status = roles.status_field(form)
        active = self.attempt(eng.count, roles.PERSON_FORM, {status: roles.ACTIVE}) or 0
        exited = self.attempt(eng.count, roles.PERSON_FORM, {status: roles.EXITED}) or 0
        lines = [f"[b]在册[/b] {active} 人    退出 {exited} 人", ""]
        risks = []
        for value, label in form.choices_for(roles.RISK):
            n = self.attempt(eng.count, roles.PERSON_FORM, {status: roles.ACTIVE, roles.RISK: value}) or 0
            risks.append(f"{label} {n}")
        lines.append("  ".join(risks))
        self.query_one("#home-counts", Static).update("\n".join(lines))

    def show_deadline(self) -> None:
        today = self.app.today
        name, due = quarter_deadline(today)
        left = (due - today).days
        when = f"还有 {left} 天" if left >= 0 else f"已过 {-left} 天"
        self.query_one("#home-deadline", Static).update(
            f"汇总表 {name}：报送截止 {due.isoformat()}，{when}    今天 {today.isoformat()}")

    # ------------------------------------------------------------------ visits due
    def load_due(self) -> None:
        self._fill_due(None)
        self.compute_due(self.app.today)

    @work(thread=True, exclusive=True, group="home-due")
    def compute_due(self, today: dt.date) -> None:
        items = self.app.attempt(self.eng.visits_due, as_of=today)
        self.app.call_from_thread(self._fill_due, items)

    def _fill_due(self, items) -> None:
        panel = self.query_one("#home-due", Static)
        table = self.query_one("#home-due-table", PagedTable)
        if items is None:
            panel.update("正在计算应探访人员……")
            return
        today = self.app.today
        overdue = [i for i in items if i.status == "overdue"]
        week_end = today + dt.timedelta(days=6 - today.weekday())
        this_week = [i for i in items if i.status != "overdue" and i.due_date <= week_end]
        by_level: dict[str, int] = {}
        for item in overdue:
            by_level[item.level] = by_level.get(item.level, 0) + 1
        lines = [f"[b]本周应探访[/b] {len(this_week)} 人次", f"[b]已逾期[/b] {len(overdue)} 人次"]
        lines.append("  ".join(f"{level} {n}" for level, n in sorted(by_level.items())))
        panel.update("\n".join(lines))
        divisions = self.eng.divisions
        shown = overdue + this_week
        table.show_rows(
            [("name", "姓名", 8), ("village", "村（居）委会", 12), ("risk", "风险", 4),
             ("level", "探访层级", 8), ("due", "应探访日期", 10), ("late", "状态", 12)],
            [{"id": f"{i.record_id}|{n}", "name": i.name, "village": divisions.name(i.village) or i.village,
              "risk": i.risk or "", "level": i.level, "due": i.due_date.isoformat(),
              "late": f"逾期 {i.overdue_days} 天" if i.status == "overdue" else "本周"}
             for n, i in enumerate(shown[:200])])

    def _selected_person(self) -> str | None:
        key = self.query_one("#home-due-table", PagedTable).current_key()
        return key.split("|")[0] if key else None

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        rid = self._selected_person()
        if rid:
            self.app.open_person(rid)

    def action_visit(self) -> None:
        rid = self._selected_person()
        if rid:
            self.app.open_visit(rid)
        else:
            self.app.notify("请先在应探访列表中选中一位老人，或在花名册中打开档案后登记探访")
