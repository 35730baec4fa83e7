"""Person file (一人一档): everything about one elder, their visits and every change made.

This is the one place where ID numbers and phones are shown in full. A person is never deleted:
退出 records a reason and a date through a normal save (so it lands in the history), and 恢复
puts them back on the ledger.
"""
from __future__ import annotations

from rich.cells import cell_len
from rich.console import Group
from rich.padding import Padding
from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import DataTable, Static, TabbedContent, TabPane

from core.engine import CarebookError, ValidationFailed

from .. import roles
from ..form_renderer import town_form
from ..keymap import bind
from ..literal import joined, marked
from ..widgets.fields import show_text
from ..widgets.followups import open_followup, risk_proposal_note, show_person_followups, with_last_contacts
from ..widgets.pagedtable import PagedTable, column
from .base import KeptScreen, after_backup
from .confirm import ConfirmScreen
from .prompt import Ask, PromptScreen


# What the visits tab lists, in this order (the visit form's list rows are kept small, so the
# columns come from the full records).
VISIT_COLUMNS = ("visit_date", "visit_level", "visit_method", "visitor", "risk_change", "next_visit_date")


class PersonScreen(KeptScreen):
    RELOAD_WHEN_LEDGER_CHANGES = True   # the file redrawn (another desk's save, a new day)
    BINDINGS = [
        bind("edit", "edit"),      # F2 修改 as in the quick visit; E is 导出 everywhere
        bind("visit", "visit"),
        bind("leave_ledger", "exit_ledger"),
        bind("restore", "restore"),
        bind("tab_info", "tab('info')", show=False),
        bind("tab_supporters", "tab('supporters')", show=False),
        bind("tab_visits", "tab('visits')", show=False),
        bind("tab_history", "tab('history')", show=False),
        bind("tab_followups", "tab('followups')", show=False),
    ]
    HELP_TEXT = ("数字键 1-5 切换：基本信息、子女及赡养人、探访记录、修改历史、跟进事项。"
                 "F2 修改登记表，V 登记探访，X 退出台账（需填写原因和日期），U 恢复已退出的人员。")

    def __init__(self, record_id: str | None) -> None:
        super().__init__()
        self.record_id = record_id          # None: built ahead for the first file (`CarebookApp.build_person_ahead`)
        self.record: dict | None = None
        self.filled: set[str] = set()       # tabs drawn from the record as last read
        self.shown_generation = -1

    def compose(self) -> ComposeResult:
        """The record is read here and the first tab built filled, so the file is laid out and
        drawn once; the other tabs are built when first shown (`show_tab`)."""
        if self.record_id is not None:
            self.read()
        yield from self.compose_header()
        yield Static(self.title_text(), id="person-title")
        with TabbedContent(id="person-tabs"):
            with TabPane("1 基本信息", id="info"):
                with VerticalScroll():
                    yield Static(self.info_text() if self.record else "", id="person-info")
            yield TabPane("2 子女及赡养人", id="supporters")
            yield TabPane("3 探访记录", id="visits")
            yield TabPane("4 修改历史", id="history")
            yield TabPane("5 跟进", id="followups")
        if self.record is not None:
            self.filled.add("info")
        yield from self.compose_footer()

    def show_person(self, record_id: str) -> None:
        """This screen again, for another person (`CarebookApp.open_person`). Nothing of the
        last person stays: the tables and the history are emptied, the first tab is shown from
        the top, focus goes where a new screen puts it; the file is read and drawn now, before
        the screen is shown, and the other tabs when shown."""
        self.record_id = record_id
        for table in self.query(PagedTable):
            table.clear()
        for history in self.query("#person-history"):
            history.update("")
        for scroll in self.query(VerticalScroll):
            scroll.scroll_home(animate=False)
        self.query_one(TabbedContent).active = "info"
        tabs = self.query_one("#person-tabs ContentTabs")
        if self.focused is not tabs:        # a new screen focuses the tabs
            self.set_focus(None)
        self.reload()

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        self.skip_restyle(event)             # see KeptScreen
        # Back from an edit or a visit: read again only when something was saved.
        if self.shown_generation != self.app.generation:
            self.reload()

    def read(self) -> None:
        """The record and the form it is shown with; every tab is now stale."""
        self.shown_generation = self.app.generation
        self.filled = set()
        self.record = self.attempt(self.eng.get, self.record_id, roles.PERSON_FORM)
        if self.record is not None:
            # The form as this person's town sees it: a town's own fields (overlays, plugins) show too.
            self.form = town_form(self.eng, roles.PERSON_FORM, self.record["version"], self.record["data"])

    def title_text(self) -> Content | str:
        if self.record is None:
            return "没有找到这份档案"
        data = self.record["data"]
        status = data.get(roles.status_field(self.form)) or ""
        title = data.get(self.form.title_field or "name") or ""
        risk = roles.display(self.form, roles.RISK, data.get(roles.RISK)) + risk_proposal_note(self.eng, self.record_id)
        return marked("[b]$title[/b]  $status  $risk  更新于 $updated  操作员 $operator", title=title,
                      status=status, risk=risk, updated=self.record["updated"][:16].replace("T", " "),
                      operator=self.record.get("operator") or "-")

    def reload(self) -> None:
        """Read again (after a save): the title and the tab on show are drawn now, the other
        tabs when next shown."""
        self.read()
        show_text(self.query_one("#person-title", Static), self.title_text())
        if self.record is None:
            show_text(self.query_one("#person-info", Static), "")
        active = self.query_one(TabbedContent).active or "info"
        if self.record is not None and self.query_one(f"#{active}", TabPane).children:
            self.fill_tab(active)

    async def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        await self.show_tab(event.pane.id)

    async def show_tab(self, tab: str) -> None:
        """A tab's widgets are made the first time it is shown, and filled when shown after a
        reload. Opening a file from the roster then builds and draws one tab, not four, and
        reads no visits and no history until they are asked for (a district ledger's visit
        file is ~100 ms cold, and a worker reading it slowed the drawing of the file)."""
        if self.record is None or tab in self.filled:
            return
        pane = self.query_one(f"#{tab}", TabPane)
        if not pane.children:
            if tab == "history":
                await pane.mount(VerticalScroll(Static("", id="person-history")))
            else:
                await pane.mount(PagedTable(id=f"person-{tab}", cursor_type="row"))
        self.fill_tab(tab)

    def fill_tab(self, tab: str) -> None:
        self.filled.add(tab)
        data = self.record["data"]
        if tab == "info":
            show_text(self.query_one("#person-info", Static), self.info_text())
        elif tab == "supporters":
            self.show_supporters(data)
        elif tab == "history":
            self.show_history()
        elif tab == "followups":
            show_person_followups(self.query_one("#person-followups", PagedTable), self.eng, self.record_id, self.app.today)
        elif tab == "visits":
            table = self.query_one("#person-visits", PagedTable)
            table.clear()
            table.border_title = "正在读取探访记录……"
            self.load_visits(self.record_id)

    @work(thread=True, exclusive=True, group="person-visits")
    def load_visits(self, record_id: str) -> None:
        """The visits come from the village's visit file (~100 ms cold on a district ledger):
        read in a worker when the tab is first shown, so the tab shows at once."""
        visits = self.app.attempt(self.eng.related, record_id, roles.VISIT_FORM)
        if visits is not None:
            self.app.call_from_thread(self.show_visits, visits, record_id)

    def info_text(self) -> Content:
        data = self.record["data"]
        divisions = self.eng.divisions
        reasons = self.record.get("meta", {}).get("reasons", {})
        lines = []
        for section in self.form.sections:
            rows = []
            for f in section.fields:
                if f.type == "repeat" or data.get(f.id) in (None, "", []):
                    continue
                value = roles.display(self.form, f.id, data.get(f.id), divisions)
                why = reasons.get(f.id)
                rows.append(f"  {f.label}：{value}" + (f"（{why}）" if why else ""))
            if rows:
                lines += [marked("[b]$title[/b]", title=section.title), *rows]
        return joined(lines)

    def show_supporters(self, data: dict) -> None:
        table = self.query_one("#person-supporters", PagedTable)
        group = next((f for f in self.form.top_fields() if f.type == "repeat"), None)
        if group is None:
            table.clear()
            return
        cols = [column(f.id, f.label, 12 if f.type != "cn-resident-id" else 18) for f in group.fields]
        rows = [{"id": str(i), **{f.id: roles.display(self.form, f.id, r.get(f.id)) for f in group.fields}}
                for i, r in enumerate(data.get(group.id) or [])]
        table.show_rows(*with_last_contacts(self.eng, self.record_id, cols, rows))

    def show_visits(self, visits: list[dict], record_id: str) -> None:
        """Newest first. Read through `engine.related` (the person's village file): a query
        over the list rows would walk every visit in the district (300,000) to find a handful."""
        vform = roles.form_or_none(self.eng, roles.VISIT_FORM)
        if vform is None or not self.is_mounted or record_id != self.record_id:
            return      # closed, or showing another person, before the worker finished
        ref = roles.ref_field(vform, roles.PERSON_FORM)
        day = roles.first_date_field(vform)
        visits.sort(key=lambda r: str(r["data"].get(day) or ""), reverse=True)
        keys = [k for k in VISIT_COLUMNS if vform.field(k)] or \
            [k for k in vform.list_fields if k != ref and vform.field(k)][:6]
        rows = [{"id": r["id"], **{k: roles.display(vform, k, r["data"].get(k)) for k in keys}} for r in visits]
        # Each column as wide as its header (风险等级变化) or its widest value, so nothing is cut.
        cols = [(k, vform.field(k).label, min(16, max([cell_len(vform.field(k).label)] +
                                                       [cell_len(row[k]) for row in rows])))
                for k in keys]
        table = self.query_one("#person-visits", PagedTable)
        table.border_title = f"共 {len(visits)} 次，最近的在前（回车打开）"
        table.show_rows(cols, rows)

    def show_history(self) -> None:
        """Every save, newest first: who, when, what changed, and the reasons typed (warnings
        accepted, 改判). Lines under a save are indented, and a long one (a reason) wraps under
        itself, not at the left edge where it would read as a save of its own. Built as Rich
        text, not markup: a "[" in a typed reason is shown as typed."""
        entries = self.attempt(self.eng.history, self.record_id, roles.PERSON_FORM) or []
        lines: list[Padding | Text] = []

        def under(text: str) -> None:
            lines.append(Padding(Text(text), (0, 0, 0, 2)))

        # An override stays on the record and is repeated by every later save: show it where it
        # was made or changed.
        before = [{}] + [e.get("overrides") or {} for e in entries[:-1]]
        for e, prev in reversed(list(zip(entries, before))):
            head = Text()
            head.append(f"{str(e.get('at', ''))[:16].replace('T', ' ')} {e.get('operator') or '-'} "
                        f"{e.get('action', '')}", style="bold")
            if e.get("note"):                   # the note as plain text after the bold heading
                head.append(f"  {e['note']}")
            lines.append(head)
            for ch in e.get("changes", [])[:30]:
                top = ch["path"].split(".")[0]
                f = self.form.field(top)
                label = f.label if f else ch["path"]
                old, new = (self.change_text(f, top, ch.get(k)) for k in ("old", "new"))
                under(f"{label}：{old or '（空）'} -> {new or '（空）'}")
            for fid, o in (e.get("overrides") or {}).items():
                if prev.get(fid) == o:
                    continue
                f = self.form.field(fid)
                under(f"改判{f.label if f else fid}为 {roles.display(self.form, fid, o.get('value'))}")
                under(f"理由：{o.get('reason', '')}")
            for r in e.get("reasons", []):
                under(f"理由：{r.get('reason', '')}")
        self.query_one("#person-history", Static).update(Group(*lines) if lines else "（无）")

    def change_text(self, field, top: str, value) -> str:
        """A value in the history as staff read it: rows of a group as `1 行：赵明`, never the
        stored dict with its field ids."""
        if isinstance(value, dict):
            value = [value]
        if isinstance(value, list) and any(isinstance(v, dict) for v in value):
            first = field.fields[0].id if field is not None and field.fields else None
            names = "、".join(str(v.get(first) or "") for v in value if isinstance(v, dict) and first)
            return f"{len(value)} 行" + (f"：{names}" if names.strip("、") else "")
        return roles.display(self.form, top, value)

    # ------------------------------------------------------------------ actions
    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def action_edit(self) -> None:
        self.app.open_form(roles.PERSON_FORM, self.record_id)

    def action_visit(self) -> None:
        self.app.open_visit(self.record_id)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "person-visits":
            self.app.open_form(roles.VISIT_FORM, event.row_key.value)
        elif event.data_table.id == "person-followups":
            open_followup(self.app, event.row_key.value)

    @after_backup
    def _save_status(self, changes: dict, drop: tuple[str, ...], note: str) -> None:
        data = {k: v for k, v in self.record["data"].items() if k not in drop}
        data.update(changes)
        try:
            self.eng.save(roles.PERSON_FORM, data, self.record_id, operator=self.app.operator or None,
                          note=note, base=self.record)
        except ValidationFailed as exc:
            errors = "\n".join(p.message for p in exc.problems[:6])
            self.app.show_error(f"档案有未填或有误的项目，请先按 F2 修改：\n{errors}")
            return
        except CarebookError as exc:
            self.app.show_error(exc)
            return
        self.app.ledger_changed()
        self.app.notify(note, timeout=4)
        self.reload()

    def action_exit_ledger(self) -> None:
        if self.record is None:
            return
        reasons = self.form.lists.get(roles.EXIT_REASON_LIST, [])

        def done(answer: dict | None) -> None:
            if answer:
                self._save_status({roles.status_field(self.form): roles.EXITED,
                                   roles.EXIT_REASON: answer["reason"], roles.EXIT_DATE: answer["date"]},
                                  (), f"退出台账：{answer['reason']}")

        self.app.push_screen(PromptScreen("退出台账", [
            Ask("reason", "退出原因", choices=reasons),
            Ask("date", "退出日期", self.app.today.isoformat(), placeholder="年-月-日"),
        ], note="人员不会被删除；退出后可按 U 恢复。"), done)

    def action_restore(self) -> None:
        """Only a person who left the ledger can come back, and only when staff say so: a
        stray U on an active person used to write 恢复在册 into the history."""
        if self.record is None:
            return
        if self.record["data"].get(roles.status_field(self.form)) != roles.EXITED:
            self.app.notify("此人在册，不需要恢复。")
            return

        def done(answer: str | None) -> None:
            if answer == "yes":
                self._save_status({roles.status_field(self.form): roles.ACTIVE},
                                  (roles.EXIT_REASON, roles.EXIT_DATE), "恢复在册")

        name = self.record["data"].get(self.form.title_field or "name") or ""
        self.app.push_screen(ConfirmScreen(f"把{name}恢复为在册？这会记入修改历史。",
                                           [("yes", "恢复在册"), ("no", "不恢复")], title="恢复在册"), done)
