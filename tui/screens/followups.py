"""The follow-up list, the town's referral view, and one follow-up worked to the end.

- `FollowupsScreen`: open follow-ups, most pressing first, for the operator's level (L cycles
  村委会 / 街镇 / 全部, kept as a ledger setting); G shows overdue only, H closed ones too.
- `FollowupsScreen(town_view=True)`: what the villages reported or referred to the town (上报街镇,
  转介部门, 应急处置), with each village named; on one desk every town's.
- `FollowupScreen`: one item — source visit, due date, what was done, contacts with the
  children — with keys to record a step, a contact, the close-out, or to accept or refuse a
  proposed risk level. Every key is one engine call; a refusal is a message, never a traceback.
"""
from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import DataTable, Static

from core.engine import CarebookError

from .. import roles
from ..keymap import bind, key_of
from ..literal import joined, marked
from ..widgets import followups as fw
from ..widgets.pagedtable import PagedTable
from .base import BaseScreen, after_backup
from .prompt import Ask, PromptScreen

TOWN_KINDS = ("应急处置", "上报街镇", "转介部门")
CLOSED = "已办结"


class FollowupsScreen(BaseScreen):
    BINDINGS = [
        bind("level", "level"),
        bind("overdue", "overdue"),
        bind("with_closed", "closed"),
        bind("referrals", "app.go('referrals')", show=False),
    ]
    HELP_TEXT = ("跟进事项：探访发现问题、上报或转介、风险等级变化时自动生成。最紧急的在前：应急、逾期最久、"
                 f"时限最近。回车打开一件办理；{key_of('level')} 切换负责层级（村委会 / 街镇 / 全部），"
                 f"{key_of('overdue')} 只看逾期，{key_of('with_closed')} 连同已办结，{key_of('referrals')} 街镇转介清单。")

    DEFAULT_CSS = """
    #followups-filter { height: 1; padding: 0 1; background: $boost; }
    #followups-table { height: 1fr; }
    """

    def __init__(self, town_view: bool = False) -> None:
        super().__init__()
        self.town_view = town_view
        self.only_overdue = False
        self.with_closed = False

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        yield Static("", id="followups-filter", markup=False)
        yield PagedTable(id="followups-table", cursor_type="row", zebra_stripes=True)
        yield from self.compose_footer()

    def on_mount(self) -> None:
        self.shown_generation = -1
        self.reload()
        self.query_one(PagedTable).focus()

    def on_screen_resume(self) -> None:
        if self.shown_generation != self.app.generation:
            self.reload()

    def reload(self) -> None:
        self.shown_generation = self.app.generation
        level = None if self.town_view else (fw.operator_level(self.eng) or None)
        items = self.attempt(self.eng.followups, as_of=self.app.today, level=level,
                             kinds=TOWN_KINDS if self.town_view else None,
                             open_only=not self.with_closed, overdue=self.only_overdue) or []
        what = "街镇收到的上报、转介和应急（各村）" if self.town_view else f"负责层级：{level or '全部'}"
        flags = [f for f, on in (("仅逾期", self.only_overdue), ("含已办结", self.with_closed)) if on]
        self.query_one("#followups-filter", Static).update(
            f"{what}  {'、'.join(flags) or '未办结'}  共 {len(items)} 件")
        table = self.query_one(PagedTable)
        table.border_title = "回车：打开办理"
        table.show_rows(fw.COLUMNS, fw.rows(items, self.eng.divisions))

    def action_level(self) -> None:
        if self.town_view:
            return
        order = ["", *fw.LEVELS]
        now = fw.operator_level(self.eng)
        self.attempt(self.eng.settings.set, fw.LEVEL_SETTING, order[(order.index(now) + 1) % len(order)])
        if fw.operator_level(self.eng) == now:
            self.app.notify(f"负责层级由登录账号决定：{now or '全部'}", timeout=4)
            return
        self.app.ledger_changed()
        self.reload()

    def action_overdue(self) -> None:
        self.only_overdue = not self.only_overdue
        self.reload()

    def action_closed(self) -> None:
        self.with_closed = not self.with_closed
        self.reload()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.app.push_screen(FollowupScreen(event.row_key.value))


class FollowupScreen(BaseScreen):
    BINDINGS = [
        bind("step", "step"),
        bind("contact", "contact"),
        bind("close", "close"),
        bind("accept", "accept"),
        bind("refuse", "refuse"),
        bind("open_file", "person", "老人档案"),
    ]
    HELP_TEXT = (f"一件跟进事项：{key_of('step')} 记一次办理经过（状态改为处理中），{key_of('contact')} 记一次联系子女"
                 f"（哪一位、方式、结果），{key_of('close')} 办结（写明办理结果）。风险等级复核：{key_of('accept')} 采纳"
                 f"建议的等级（记入老人档案历史），{key_of('refuse')} 不采纳（写理由）。{key_of('open_file')} 打开老人档案。")

    DEFAULT_CSS = """
    #followup-body { height: 1fr; padding: 0 1; }
    """

    def __init__(self, followup_id: str) -> None:
        super().__init__()
        self.followup_id = followup_id
        self.record: dict | None = None

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        with VerticalScroll(id="followup-body"):
            yield Static("", id="followup-text")
        yield from self.compose_footer()

    def on_mount(self) -> None:
        self.reload()

    def reload(self) -> None:
        self.record = self.attempt(self.eng.get, self.followup_id, "followup")
        self.query_one("#followup-text", Static).update(self.text() if self.record else "没有找到这件跟进事项")
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        """Keys shown only where they apply: nothing to do on a closed item, Y/N only on a
        risk proposal (80 columns have no room for keys that would only say no)."""
        data = (self.record or {}).get("data") or {}
        closed = data.get("status") == CLOSED
        if action in ("step", "contact", "close"):
            return not closed and self.record is not None
        if action in ("accept", "refuse"):
            return bool(data.get("proposed_risk")) and not closed
        return True

    def text(self) -> Content:
        """The item as Content: its headings bold, everything typed shown as typed (`tui.literal`)."""
        d = self.record["data"]
        form = roles.form_or_none(self.eng, "followup")
        divisions = self.eng.divisions
        item = next((i for i in self.eng.followups(as_of=self.app.today, open_only=False)
                     if i.id == self.followup_id), None)
        state = fw.state_text(item) if item else d.get("status", "")
        lines: list[Content | str] = [
            marked("[b]$kind[/b]  $urgency  $state  负责：$owner", kind=d.get("kind", ""),
                   urgency=d.get("urgency", ""), state=state, owner=d.get("owner_level", "")),
            f"老人：{d.get('person_name', '')}  {roles.display(form, 'village', d.get('village'), divisions)}",
            f"生成：{d.get('opened_on', '')}  办理时限：{d.get('due_date', '')}  状态：{d.get('status', '')}"]
        if d.get("detail"):
            lines.append(f"事项说明：{d['detail']}")
        if d.get("proposed_risk"):
            lines.append(f"建议风险等级：{d.get('current_risk') or '-'} -> {d['proposed_risk']}"
                         + (f"（{key_of('accept')} 采纳 / {key_of('refuse')} 不采纳）" if d.get("status") != CLOSED else ""))
        visit = self.eng.get(d["visit"], "visit") if d.get("visit") else None
        if visit:
            v = visit["data"]
            lines.append(f"来源探访：{v.get('visit_date', '')} {v.get('visit_level', '')} {v.get('visitor', '')}")
        lines.append(marked("[b]办理经过[/b]"))
        lines += [f"  {s.get('step_date')} {s.get('step_by')}：{s.get('step_text')}（{s.get('step_status')}）"
                  for s in d.get("steps") or []] or ["  （尚无）"]
        lines.append(marked("[b]联系子女[/b]"))
        lines += [f"  {c.get('contact_date')} 第{c.get('contact_row') or '-'}位 {c.get('contact_child')} "
                  f"{c.get('contact_channel')}：{c.get('contact_outcome')}"
                  + (f"，{c['contact_note']}" if c.get("contact_note") else "")
                  for c in d.get("contacts") or []] or ["  （尚无）"]
        if d.get("status") == CLOSED:
            lines.append(f"[办结] {d.get('closed_on')} {d.get('closed_by')}：{d.get('result')}")
        return joined(lines)

    # ------------------------------------------------------------------ actions
    @after_backup
    def _do(self, fn, *args, done: str, **kwargs) -> None:
        try:
            fn(self.followup_id, *args, operator=self.app.operator or None, on=self.app.today, **kwargs)
        except CarebookError as exc:
            self.app.show_error(exc)
            return
        self.app.ledger_changed()
        self.app.notify(done, timeout=4)
        self.reload()

    def _ask(self, title: str, asks: list[Ask], then, note: str = "") -> None:
        if self.record is None:
            return
        self.app.push_screen(PromptScreen(title, asks, note=note), lambda answer: answer and then(answer))

    def action_step(self) -> None:
        self._ask("记一次办理经过", [Ask("text", "做了什么")],
                  lambda a: self._do(self.eng.followup_advance, a["text"], done="已记录办理经过"))

    def action_close(self) -> None:
        self._ask("办结", [Ask("result", "办理结果")],
                  lambda a: self._do(self.eng.followup_close, a["result"], done="已办结"),
                  note=f"办结人：{self.app.operator or '（请先设置操作员）'}，办结日期：{self.app.today.isoformat()}")

    def action_contact(self) -> None:
        from core.engine import children_of

        children = children_of(self.eng, self.record) if self.record else []
        if not children:
            self.app.show_error("老人档案中没有登记子女或其他赡养人")
            return
        who = [(str(n), f"{n}. {c.get('child_name') or '-'}（{c.get('child_relation') or ''}）")
               for n, c in enumerate(children, 1)]
        form = roles.form_or_none(self.eng, "followup")
        self._ask("联系子女或其他赡养人", [
            Ask("row", "联系谁", "1", choices=who),
            Ask("channel", "联系方式", "电话", choices=list(form.lists.get("contact_channel", []))),
            Ask("outcome", "联系结果", choices=list(form.lists.get("contact_outcome", []))),
            Ask("note", "说明", required=False),
        ], lambda a: self._do(self.eng.followup_contact, int(a["row"]), a["outcome"], channel=a["channel"],
                              note=a["note"], done="已记录联系情况"))

    def action_accept(self) -> None:
        if self.record and self.record["data"].get("proposed_risk"):
            self._do(self.eng.followup_accept_risk, done="已采纳，老人档案的风险等级已改判")

    def action_refuse(self) -> None:
        if self.record and self.record["data"].get("proposed_risk"):
            self._ask("不采纳建议的风险等级", [Ask("reason", "理由")],
                      lambda a: self._do(self.eng.followup_refuse_risk, a["reason"], done="已办结：不采纳"))

    def action_person(self) -> None:
        if self.record:
            self.app.open_person(self.record["data"]["person"])
