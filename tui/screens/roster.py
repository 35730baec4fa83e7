"""Roster: find a person among 50,000 as you type, filter, sort, page.

Every keystroke asks the engine for one page (`eng.query`, served from the in-memory list
rows), so the table never holds more than PAGE rows and typing stays immediate. ID numbers and
phones are masked here; the person's own file shows them in full.
"""
from __future__ import annotations

from rich.cells import cell_len
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Checkbox, DataTable, Input, Select, Static

from .. import roles
from ..literal import choices
from ..keymap import bind
from ..widgets.pagedtable import PagedTable
from ..widgets.ticks import TickBox
from .base import BaseScreen

PAGE = 50
# Cell widths by field type, chosen so the first eight columns of the shipped roster (name, sex,
# age, village, risk, status, masked ID, masked phone) fit an 80-column terminal.
WIDTHS = {"cn-resident-id": 18, "phone": 11, "division": 8, "date": 10, "integer": 4, "decimal": 8}
TEXT_WIDTH = 6
# Which people the list shows, as the filter offers it: (key, short label for the box, what the
# status line says, filters). 认定 is the exported 花名册's own choice (forms/roster.yaml: 在册
# and 认定结果 是), so the screen can show exactly the people the 花名册 file will hold.
LISTS = (
    ("active", "在册全部", "在册人员（含未认定为留守老年人的）", {roles.STATUS: roles.ACTIVE}),
    ("roster", "认定留守老人", "花名册名单：在册且认定为留守老年人（与导出的花名册相同）",
     {roles.STATUS: roles.ACTIVE, roles.ELIGIBLE: roles.ELIGIBLE_YES}),
    ("exited", "已退出", "已退出台账的人员", {roles.STATUS: roles.EXITED}),
    ("all", "全部人员", "全部人员（在册和已退出）", {}),
)


def lists_for(form) -> tuple:
    """LISTS, and 待补全 (imported with answers missing) when the form has that status."""
    later = (form.incomplete or {}).get("value")
    if not later:
        return LISTS
    return LISTS + (("incomplete", later, f"{later}：导入时缺项、尚未计入汇总的人员（补全后转为在册）",
                     {roles.STATUS: later}),)


# Headers that would be cut mid-word at those widths.
SHORT_LABELS = {roles.RISK: "风险", roles.STATUS: "状态", "id_number": "身份证号", "phone": "电话"}


def header(fid: str, label: str, width: int) -> str:
    """A column header no wider than its column: a known short form, else the label cut."""
    text = SHORT_LABELS.get(fid) or label.split("（")[0]
    while cell_len(text) > width and len(text) > 1:
        text = text[:-1]
    return text


def warm_first_page(app) -> None:
    """Ask the engine the roster's opening question (no text, 在册 only, default order) so the
    engine's order and filter caches hold it before `r` is pressed, and have the first search
    over it prepared (the keys joined), so the first keystroke costs what the others do. Same
    filters as `RosterScreen.filters` with the filter boxes untouched."""
    form = roles.form_or_none(app.engine, roles.PERSON_FORM)
    if form is None:
        return
    filters = {roles.status_field(form): roles.ACTIVE}
    app.attempt(app.engine.query, roles.PERSON_FORM, text=None, filters=filters, sort=None, desc=False,
                offset=0, limit=PAGE)
    index = app.attempt(app.engine.index, roles.PERSON_FORM)
    if index is not None:
        index.prepare_search(filters)


class RosterScreen(BaseScreen):
    BINDINGS = [
        bind("find", "focus_search"),
        bind("register", "app.go('register')"),
        bind("visit", "visit"),
        bind("rounds", "rounds"),
        bind("sort_column", "sort_next"),
        bind("sort_order", "sort_flip"),
        bind("page_next", "page(1)", keys="ctrl+pagedown", show=False),    # from the search box too
        bind("page_prev", "page(-1)", keys="ctrl+pageup", show=False),
    ]
    # No space between a key name and the Chinese around it: the help box wraps at spaces, and
    # "V 登记…" left "V" alone at the end of a line.
    HELP_TEXT = ("在查找框输入姓名，或姓名的拼音（全拼、首字母或两者混写，也可从名字的第二个字拼起；"
                 "ü按V键或U键），或完整的身份证号、电话，或姓名加号码后四位（如王桂兰0032），"
                 "列表随输入更新。"
                 "名单框选择列出哪些人：在册全部、认定留守老人（与导出的花名册相同）、已退出或全部。"
                 "按V登记一次例行探访；选了村后按W巡访该村7天内应探访的人。"
                 "按Tab切换到筛选和列表；列表中回车打开档案，PageDown/PageUp翻页，F6换排序列，F7升降序。")

    def __init__(self) -> None:
        super().__init__()
        self.form = self.app.engine.form(roles.PERSON_FORM)
        self.town_field, self.village_field = roles.division_fields(self.form)
        self.status = roles.status_field(self.form)
        self.lists = lists_for(self.form)
        self.page_start = 0
        self.sort: str | None = None
        self.desc = False
        self.overdue_ids: set[str] | None = None
        self.columns = self._columns()
        self._shown: tuple | None = None     # the query behind the rows on screen
        self._divisions = None               # the division table the village names came from
        self._villages: dict = {}            # village code -> name without its town

    def _columns(self) -> list[tuple[str, str, int]]:
        """(field, header, width) for every list field; the first ones are sized for 80 columns."""
        cols = []
        for fid in self.form.list_fields:
            f = self.form.field(fid)
            if f is None:
                continue
            width = WIDTHS.get(f.type)
            if width is None and f.choices is not None:
                labels = [self.short_choice(fid, lab) for _, lab in self.form.choices_for(f)]
                width = max(cell_len(lab) for lab in [f.label[:2], *labels])
            elif width is None:
                width = 17 if f.unique else TEXT_WIDTH
            cols.append((fid, header(fid, f.label, min(width, 20)), min(width, 20)))
        return cols

    def short_choice(self, fid: str, label: str) -> str:
        """A choice shown under a header that already says its kind: 高风险 under 风险 reads 高.
        Saves the two cells 待补全 (a longer status) took from the 80 columns."""
        head = SHORT_LABELS.get(fid)
        return label[:-len(head)] if head and label.endswith(head) and label != head else label

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        yield Input(placeholder=roles.SEARCH_HINT, id="search", compact=True)
        divisions = self.eng.divisions
        with Horizontal(id="roster-filters"):
            yield Select(choices((t.name, t.code) for t in divisions.towns()), prompt="全部街镇",
                         id="f-town", compact=True)
            yield Select([], prompt="全部村", id="f-village", compact=True)
            yield Select(choices((lab, v) for v, lab in self.form.choices_for(roles.RISK)), prompt="全部风险",
                         id="f-risk", compact=True)
            yield Select(choices((short, key) for key, short, _, _ in self.lists), id="f-list", value="active",
                         allow_blank=False, compact=True)
            yield TickBox("仅逾期", id="f-overdue", compact=True)
        yield PagedTable(id="roster-table", cursor_type="row", zebra_stripes=True, paged=True)
        yield Static("", id="roster-status", markup=False)    # names the form's labels
        yield from self.compose_footer()

    def on_mount(self) -> None:
        self.refresh_page()
        self.query_one("#search", Input).focus()

    def on_screen_resume(self) -> None:
        self.refresh_page()

    # ------------------------------------------------------------------ querying
    def filters(self) -> dict:
        out: dict = {}
        for fid, wid in ((self.town_field, "#f-town"), (self.village_field, "#f-village"),
                         (roles.RISK, "#f-risk")):
            value = self.query_one(wid, Select).value
            if fid and value is not Select.NULL:
                out[fid] = value
        for fid, value in self.listed()[3].items():
            out[self.status if fid == roles.STATUS else fid] = value
        if self.overdue_ids is not None:
            out["_id"] = self.overdue_ids
        return out

    def listed(self) -> tuple:
        """The LISTS entry chosen in the 名单 box."""
        key = self.query_one("#f-list", Select).value
        return next((entry for entry in self.lists if entry[0] == key), self.lists[0])

    RELOAD_WHEN_LEDGER_CHANGES = True   # the page redrawn (another desk's save, a new day)

    def reload(self) -> None:
        self.refresh_page()

    def refresh_page(self) -> None:
        """Ask the engine for the current page, unless it would be the page already shown.

        Mounting fires Select.Changed and ScreenResume as well as on_mount, and each query is
        a pass over every list row: the same question is asked once.
        """
        text = self.query_one("#search", Input).value.strip() or None
        filters = self.filters()
        key = (text, sorted((k, id(v) if k == "_id" else v) for k, v in filters.items()),
               self.sort, self.desc, self.page_start, self.app.generation)
        if key == self._shown:
            return
        page = self.attempt(self.eng.query, roles.PERSON_FORM, text=text, filters=filters,
                            sort=self.sort, desc=self.desc, offset=self.page_start, limit=PAGE)
        if page is None:
            return
        self._shown = key
        if page.total and self.page_start >= page.total:
            self.page_start = max(0, (page.total - 1) // PAGE * PAGE)
            return self.refresh_page()
        cells = self.page_cells(page.rows)
        columns = self.columns
        if filters.get(self.status) == (self.form.incomplete or {}).get("value"):
            # 待补全 people: what each still lacks, next to the name (imported with answers missing)
            lacking = {r["id"]: r["missing"] for r in self.attempt(self.eng.incomplete, roles.PERSON_FORM,
                                                                     [c["id"] for c in cells]) or []}
            for c in cells:
                c["_missing"] = f"{len(lacking.get(c['id'], []))}项：" + "、".join(lacking.get(c["id"], []))
            columns = columns[:1] + [("_missing", "缺项", 40)] + columns[1:]
        self.query_one("#roster-table", PagedTable).show_rows(columns, cells)
        self.show_status(page.total)

    def cells(self, row: dict) -> dict:
        """One list row as shown: masked ID and phone, names for codes, the village without its town."""
        return self.page_cells([row])[0]

    def page_cells(self, rows: list[dict]) -> list[dict]:
        """`cells` for a page. The engine's division table is looked up once per page, not
        once per cell, and a village's short name once per screen: a keystroke redraws 50 rows."""
        divisions = self.eng.divisions
        if divisions is not self._divisions:
            self._divisions, self._villages = divisions, {}
        villages, form, village_field = self._villages, self.form, self.village_field
        out = []
        for row in rows:
            cells = {"id": row["id"]}
            for fid, _, _ in self.columns:
                value = row.get(fid)
                if fid == village_field:
                    short = villages.get(value)
                    if short is None:
                        short = villages[value] = roles.short_village(divisions, value)
                    cells[fid] = short
                else:
                    cells[fid] = self.short_choice(fid, roles.masked(form, fid, value, divisions))
            out.append(cells)
        return out

    def show_status(self, total: int) -> None:
        pages = max(1, (total + PAGE - 1) // PAGE)
        first = self.page_start + 1 if total else 0
        last = min(self.page_start + PAGE, total)
        sort = ""
        if self.sort:
            label = self.form.field(self.sort).label
            sort = f"  排序：{label}{'（降序）' if self.desc else '（升序）'}"
        self.query_one("#roster-status", Static).update(
            f"{self.listed()[2]}：共 {total} 人\n第 {first}-{last} 条  第 {self.page_start // PAGE + 1}/{pages} 页{sort}")

    @on(Input.Changed, "#search")
    def search_changed(self) -> None:
        self.page_start = 0
        self.refresh_page()

    @on(Input.Submitted, "#search")
    def search_submitted(self) -> None:
        self.query_one("#roster-table").focus()

    @on(Select.Changed)
    def filter_changed(self, event: Select.Changed) -> None:
        if event.select.id == "f-town":
            village = self.query_one("#f-village", Select)
            town = event.value
            villages = self.eng.divisions.villages(town) if town is not Select.NULL else []
            village.set_options(choices((v.name, v.code) for v in villages))
        self.page_start = 0
        self.refresh_page()

    @on(Checkbox.Changed, "#f-overdue")
    def overdue_changed(self, event: Checkbox.Changed) -> None:
        if event.value:
            self.query_one("#roster-status", Static).update("正在计算逾期人员……")
            self.load_overdue()
        else:
            self.overdue_ids = None
            self.refresh_page()

    @work(thread=True, exclusive=True, group="roster-overdue")
    def load_overdue(self) -> None:
        items = self.app.attempt(self.eng.visits_due, as_of=self.app.today) or []
        ids = {i.record_id for i in items if i.status == "overdue"}
        self.app.call_from_thread(self._overdue_ready, ids)

    def _overdue_ready(self, ids: set[str]) -> None:
        self.overdue_ids = ids
        self.page_start = 0
        self.refresh_page()

    # ------------------------------------------------------------------ actions
    def on_paged_table_page_request(self, event: PagedTable.PageRequest) -> None:
        self.action_page(event.step)

    def action_page(self, step: int) -> None:
        new = max(0, self.page_start + step * PAGE)
        if new != self.page_start:
            self.page_start = new
            self.refresh_page()

    def action_focus_search(self) -> None:
        self.query_one("#search", Input).focus()

    def action_sort_next(self) -> None:
        keys = [c[0] for c in self.columns]
        self.sort = keys[(keys.index(self.sort) + 1) % len(keys)] if self.sort in keys else keys[0]
        self.page_start = 0
        self.refresh_page()

    def action_sort_flip(self) -> None:
        self.desc = not self.desc
        self.refresh_page()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        key = event.column_key.value
        if key.startswith("_"):
            return                       # 缺项 is worked out per page, not a field to sort on
        self.desc = not self.desc if self.sort == key else False
        self.sort = key
        self.refresh_page()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.app.open_person(event.row_key.value)

    def action_visit(self) -> None:
        """A routine visit of the person under the cursor (Enter saves, F2 the full form)."""
        rid = self.query_one("#roster-table", PagedTable).current_key()
        if rid:
            self.app.quick_visit(rid)

    def action_rounds(self) -> None:
        """The village picked in the filters: its people due within 7 days or overdue, in the
        home list's order, one after another."""
        from .home import due_window

        village = self.query_one("#f-village", Select).value
        if village is Select.NULL:
            self.app.notify("请先在筛选中选择一个村，再按 W 巡访该村应探访的人")
            return
        items = self.attempt(self.eng.visits_due, as_of=self.app.today, village=village) or []
        people = list(dict.fromkeys((i.record_id, i.level) for i in due_window(items, self.app.today)))
        if not people:
            self.app.notify("该村 7 天内没有应探访的人")
            return
        self.app.visit_rounds(people, roles.short_village(self.eng.divisions, village))
