"""Home: what needs doing today, at a glance.

Counts by status and risk come from the in-memory list rows (cheap); visits due are computed
by the schedule over every person and visit, which is slower on 50,000 people, so that part
runs in a worker and the screen is usable at once.
"""
from __future__ import annotations

import datetime as dt
import os
from collections import Counter
from typing import TYPE_CHECKING

from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import Static

from .. import roles
from ..literal import as_typed, joined, marked
from ..keymap import bind
from ..roles import short_village
from ..widgets.followups import FollowupsPanel
from .base import BaseScreen

if TYPE_CHECKING:
    from ..widgets.pagedtable import PagedTable


def quarter_deadline(today: dt.date) -> tuple[str, dt.date]:
    """This quarter's name and its summary due date.

    The 2020 Binhai plan: towns report before the 15th of the last month of each quarter
    (03-15, 06-15, 09-15, 12-15). Used only while the engine offers no deadline of its own.
    """
    q = (today.month - 1) // 3 + 1
    return f"{today.year}年第{q}季度", dt.date(today.year, q * 3, 15)


DUE_COLUMNS = (("name", "姓名", 8), ("village", "村（居）委会", 12), ("risk", "风险", 4),
               ("level", "探访层级", 8), ("due", "应探访日期", 10), ("late", "状态", 12))
DUE_ROWS = 100     # the most urgent; the roster's 仅逾期 filter lists them all
DUE_TITLE = "7 天内应探访与已逾期（回车 打开档案  V 登记探访  W 巡访本村）"


BUILD_AHEAD_AFTER = 1.0     # seconds after the due list shows before the form is built ahead
DUE_DAYS = 7      # the window `carebook visits due` lists: today and the next 6 days


def due_window(items: list, today: dt.date) -> list:
    """The due list's people: every overdue visit, then those due within DUE_DAYS of today
    (not "this calendar week", which on a Sunday hid Monday's visits)."""
    overdue = [i for i in items if i.status == "overdue"]
    end = today + dt.timedelta(days=DUE_DAYS - 1)
    return overdue + [i for i in items if i.status != "overdue" and i.due_date <= end]


def due_view(items: list, today: dt.date, divisions) -> tuple[Content, list[dict], list]:
    """(panel text, table rows, the due items in row order) for the due list: built in the
    worker, drawn on the UI thread."""
    shown = due_window(items, today)
    overdue = [i for i in shown if i.status == "overdue"]
    by_level = Counter(i.level for i in overdue)
    lines = [marked("[b]7 天内应探访[/b] $n 人次", n=len(shown) - len(overdue)),
             marked("[b]已逾期[/b] $n 人次", n=len(overdue)),
             "  ".join(f"{level} {n}" for level, n in sorted(by_level.items()))]     # levels: the form's words
    rows = [{"id": f"{i.record_id}|{n}", "name": i.name, "village": short_village(divisions, i.village),
             "risk": i.risk or "", "level": i.level, "due": i.due_date.isoformat(),
             "late": f"逾期 {i.overdue_days} 天" if i.status == "overdue" else
             ("今天" if i.due_date == today else f"{(i.due_date - today).days} 天后")}
            for n, i in enumerate(shown[:DUE_ROWS])]
    return joined(lines), rows, shown


def risk_line(counts: list[tuple[str, int]]) -> Content:
    """`风险 高 12195  中 32762  低 2520`: the people in care by risk level, on one line of the
    counts panel (36 columns at 80) with five-digit counts. Written out in full (`高风险 12195
    中风险 32762  低风险 2520`) the line is 40 columns and the last count wrapped onto a line
    of its own; the word the labels share is said once in front instead. Labels with nothing
    in common (a town's own levels) are kept whole."""
    labels = [label for label, _ in counts]
    shared = os.path.commonprefix([label[::-1] for label in labels])[::-1] if len(labels) > 1 else ""
    if not shared or any(len(label) == len(shared) for label in labels):
        return as_typed("  ".join(f"{label} {n}" for label, n in counts))     # labels: the form's words
    return marked("[b]$shared[/b] $rest", shared=shared,
                  rest="  ".join(f"{label[:-len(shared)]} {n}" for label, n in counts))


class HomeScreen(BaseScreen):
    BINDINGS = [
        bind("back", "noop", show=False),
        bind("roster", "app.go('roster')"),
        bind("register", "app.go('register')"),
        bind("visit", "visit"),
        bind("rounds", "rounds"),
        bind("summary", "app.go('summary')"),
        bind("export", "app.go('export')"),
        bind("followups", "app.go('followups')", show=False),   # named on the panel (80 columns)
        bind("admin", "app.go('admin')", show=False),   # 80 columns: F1 lists it
        bind("operator", "app.go('operator')", show=False),
        bind("refresh", "reload", show=False),
    ]
    HELP_TEXT = ("首页显示在册人数、风险分布、7 天内应探访和已逾期的人员，以及本季度汇总表的截止日期。"
                 "在下方列表中按回车打开人员档案；按 V 登记一次例行探访（回车保存，有情况按 F2 填完整探访表）；"
                 "按 W 巡访所选人员所在的村：逐一登记该村应探访的人。")

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        with Horizontal(id="home-top"):
            yield Static("", id="home-counts", classes="panel")
            yield Static("正在计算应探访人员……", id="home-due", classes="panel")
        yield Static("", id="home-deadline")
        yield FollowupsPanel()
        # The due table is made when the due list is ready (`_fill_due`): until then an empty
        # box of the same look. A DataTable on the first screen cost ~25 ms of start-up (its
        # module, its styles, the widget) for a table that is empty anyway.
        box = Static("", id="home-due-wait")
        box.border_title = DUE_TITLE
        yield box
        yield from self.compose_footer()

    RELOAD_WHEN_LEDGER_CHANGES = True   # counts and due list redrawn (another desk's save, a new day)

    def on_mount(self) -> None:
        self.shown_generation = -1
        self.due_items: list = []        # the due list's items, in the table's row order
        self.reload()

    def on_screen_resume(self) -> None:
        # Coming back from the roster or a form: recompute only if something was saved.
        if self.shown_generation != self.app.generation:
            self.reload()

    def action_noop(self) -> None:
        """Home is the bottom of the stack: Esc has nowhere to go."""

    def action_reload(self) -> None:
        self.reload()

    def reload(self) -> None:
        """Draw at once, fill in later: counts and the due list come from a worker, started
        once this frame is drawn. Started earlier, its loading of the list rows (a thread, but
        Python runs one at a time) held back the first frame at start-up by ~50 ms."""
        self.shown_generation = self.app.generation
        self.show_deadline()
        self.query_one("#home-counts", Static).update("正在统计人数……")
        self.query_one("#home-due", Static).update("正在计算应探访人员……")
        self.call_after_refresh(self.compute, self.app.today)

    @work(thread=True, exclusive=True, group="home")
    def compute(self, today: dt.date) -> None:
        """Counts first (one pass over the list rows), then the slower due list."""
        counts = self.app.attempt(self.count_people)
        self.app.call_from_thread(self.show_counts, counts)
        followups = self.app.attempt(FollowupsPanel.text_for, self.eng, today)
        self.app.call_from_thread(FollowupsPanel.fill, self, followups)
        items = self.app.attempt(self.eng.visits_due, as_of=today)
        # The division list can be unusable (a broken file on a ledger's first open): a message.
        view = None if items is None else self.app.attempt(lambda: due_view(items, today, self.eng.divisions))
        # No list to show because the ledger is unusable (a broken division file): say why there.
        why = self.eng.unusable() if view is None and items is not None else None
        self.app.call_from_thread(self._fill_due, view, view is None, why)
        if roles.form_or_none(self.eng, roles.PERSON_FORM) is not None:   # the roster's rows, read
            self.app.attempt(self.eng.index, roles.PERSON_FORM)           # while home is looked at
        self.app.call_from_thread(self.app.settle_memory)
        self.app.call_from_thread(self.set_timer, BUILD_AHEAD_AFTER, self.build_forms_ahead)

    def build_forms_ahead(self) -> None:
        """The registration form's screen and the person file's are built while staff read this
        screen, so the first 新建登记 and the first file open as quickly as the later ones
        (`form_entry.build_ahead`, `CarebookApp.build_person_ahead`): once the due
        list has been shown for a moment and home is still what they look at."""
        stack = self.app.screen_stack
        if self.is_mounted and stack and stack[-1] is self \
                and roles.form_or_none(self.eng, roles.PERSON_FORM) is not None:
            from .form_entry import build_ahead

            self.app.build_person_ahead()
            build_ahead(self.app, roles.PERSON_FORM)

    # ------------------------------------------------------------------ counts
    def count_people(self) -> Content | None:
        """The counts panel's text; one pass over the in-memory list rows, not one per number."""
        eng = self.eng
        form = roles.form_or_none(eng, roles.PERSON_FORM)
        if form is None:
            return None
        status = roles.status_field(form)
        # From the report column cache when it can answer: the list rows (~0.5 s to read at
        # 50,000 people) are then read after the due list is shown (`compute`).
        cols = eng.columns(roles.PERSON_FORM, (status, roles.RISK))
        pairs = zip(cols[status], cols[roles.RISK]) if cols is not None else \
            ((row.get(status), row.get(roles.RISK)) for row in eng.index(roles.PERSON_FORM).rows.values())
        tally = Counter(pairs)
        active = sum(n for (st, _), n in tally.items() if st == roles.ACTIVE)
        exited = sum(n for (st, _), n in tally.items() if st == roles.EXITED)
        risks = risk_line([(label, tally[(roles.ACTIVE, value)]) for value, label in form.choices_for(roles.RISK)])
        later_value = (form.incomplete or {}).get("value")
        later = sum(n for (st, _), n in tally.items() if later_value and st == later_value)
        # 待补全: imported from an office's sheet with answers missing, not in the summary yet
        todo = marked("[b]待补全[/b] $n 人（在花名册中补全）", n=later) if later else ""
        return joined([marked("[b]在册[/b] $active 人    退出 $exited 人", active=active, exited=exited), todo, risks])

    def show_counts(self, text: Content | None) -> None:
        if not self.is_mounted:
            return
        self.query_one("#home-counts", Static).update(
            text or "登记表不可用，请在“管理”中查看表单检查结果")

    def show_deadline(self) -> None:
        today = self.app.today
        name, due = quarter_deadline(today)
        left = (due - today).days
        when = f"还有 {left} 天" if left >= 0 else f"已过 {-left} 天"
        self.query_one("#home-deadline", Static).update(
            f"汇总表 {name}：报送截止 {due.isoformat()}，{when}    今天 {today.isoformat()}")

    # ------------------------------------------------------------------ visits due
    async def _fill_due(self, view: tuple[Content, list[dict]] | None, failed: bool = False,
                        why: str | None = None) -> None:
        """Show what the worker prepared; the UI thread only draws. The table is made here
        the first time, in place of the empty box, and focused as a new screen would focus it."""
        if not self.is_mounted:           # the demo switch replaced this screen meanwhile
            return
        panel = self.query_one("#home-due", Static)
        if view is None:
            panel.update("无法计算应探访人员，见右上角提示" if failed else "正在计算应探访人员……")
            if why:
                panel.update("无法计算应探访人员，原因见下方")
                from rich.text import Text

                self.query_one("#home-due-wait", Static).update(Text(why))   # file text, not markup
            return
        text, rows, self.due_items = view
        panel.update(text)
        table = self._due_table()
        if table is None:
            from ..widgets.pagedtable import PagedTable

            table = PagedTable(id="home-due-table", cursor_type="row", zebra_stripes=True)
            table.border_title = DUE_TITLE
            box = self.query_one("#home-due-wait")
            await self.mount(table, before=box)
            await box.remove()
            if self.focused is None:
                self.set_focus(table)
        table.show_rows(DUE_COLUMNS, rows)

    def _due_table(self) -> PagedTable | None:
        tables = self.query("#home-due-table")
        return tables.first() if tables else None

    def _selected(self):
        """The due item under the table's cursor, or None."""
        table = self._due_table()
        key = table.current_key() if table is not None else None
        n = int(key.split("|")[1]) if key else -1
        return self.due_items[n] if 0 <= n < len(self.due_items) else None

    def on_data_table_row_selected(self, event) -> None:
        item = self._selected()
        if item:
            self.app.open_person(item.record_id)

    def action_visit(self) -> None:
        item = self._selected()
        if item:
            self.app.quick_visit(item.record_id, item.level)
        else:
            self.app.notify("请先在应探访列表中选中一位老人，或在花名册中打开档案后登记探访")

    def action_rounds(self) -> None:
        """The selected person's village: its people due at the selected row's level (村委会
        visits are the village's, 街镇 ones the town's), in the list's order, one by one."""
        item = self._selected()
        if item is None:
            self.app.notify("请先在应探访列表中选中该村的一位老人")
            return
        people = list(dict.fromkeys((i.record_id, i.level) for i in self.due_items
                                    if i.village == item.village and i.level == item.level))
        self.app.visit_rounds(people, short_village(self.eng.divisions, item.village))
