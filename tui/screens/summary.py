"""The quarter's summary (annex 3): counts per town, the identity checks, the deadline.

Building it reads every record, so it runs in a worker; the quarter and town are picked with
two selects and the table scrolls sideways through its 31 numbered columns.
"""
from __future__ import annotations

from rich.cells import cell_len
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Select, Static

from ..keymap import bind
from ..literal import choices, marked
from ..widgets.pagedtable import PagedTable
from .base import BaseScreen


def quarter_label(quarter: str) -> str:
    """2026Q4 -> 2026年第4季度, as the summary's own header says it."""
    return quarter.replace("Q", "年第") + "季度"


def recent_quarters(today, n: int = 6) -> list[str]:
    year, q = today.year, (today.month - 1) // 3 + 1
    out = []
    for _ in range(n):
        out.append(f"{year}Q{q}")
        year, q = (year, q - 1) if q > 1 else (year - 1, 4)
    return out


class SummaryScreen(BaseScreen):
    BINDINGS = [bind("refresh", "build", "重新统计"), bind("export", "app.go('export')")]
    HELP_TEXT = "选择季度和街镇后自动统计。表内勾稽关系（如 1 = 2+3）不成立时在下方列出。左右方向键横向滚动表格。"

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        quarters = recent_quarters(self.app.today)
        with Horizontal(id="summary-pick"):
            yield Select([(quarter_label(q), q) for q in quarters], value=quarters[0],
                         allow_blank=False, id="s-quarter", compact=True)
            yield Select(choices((t.name, t.code) for t in self.eng.divisions.towns()), prompt="全区（按街镇）",
                         id="s-town", compact=True)
        yield Static("", id="summary-head")
        # The town column stays put while the numbered columns scroll sideways.
        yield PagedTable(id="summary-table", cursor_type="row", fixed_columns=1)
        yield Static("", id="summary-checks", markup=False)    # checks quote the forms' labels
        yield from self.compose_footer()

    def on_mount(self) -> None:
        self.action_build()

    @on(Select.Changed)
    def action_build(self) -> None:
        quarter = self.query_one("#s-quarter", Select).value
        town = self.query_one("#s-town", Select).value
        self.query_one("#summary-head", Static).update("正在统计……")
        self.build(quarter, None if town is Select.NULL else town)

    @work(thread=True, exclusive=True, group="summary")
    def build(self, quarter: str, town: str | None) -> None:
        report = self.app.attempt(self.eng.report, "summary", quarter=quarter, town=town,
                                  by_village=bool(town), as_of=self.app.today)
        if report is not None:
            rows = list(report.rows)
            self.app.call_from_thread(self.show, report, rows)

    def show(self, report, rows: list[dict]) -> None:
        late = "（已逾期）" if report.late else ""
        self.query_one("#summary-head", Static).update(
            marked("[b]$title[/b]\n$unit $period  报送截止 $due$late  统计日期 $date", title=report.title,
                   unit=report.unit, period=quarter_label(report.period), due=report.due, late=late, date=report.date))
        all_rows = rows + ([report.total] if report.total else [])
        cols = []
        for c in report.columns:   # wide enough for the header and every value: nothing cut
            label = (c.number + " " if c.number else "") + c.label
            widest = max([cell_len(label)] + [cell_len(str(r.get(c.key, ""))) for r in all_rows])
            cols.append((c.key, label, widest))
        self.query_one(PagedTable).show_rows(
            cols, [{"id": str(i), **{k: str(r.get(k, "")) for k, _, _ in cols}} for i, r in enumerate(all_rows)])
        checks = "\n".join(str(p) for p in report.checks) or "表内勾稽关系全部成立。"
        self.query_one("#summary-checks", Static).update(checks)
