"""Follow-ups as screens show them: the home panel, list rows, the emergency mark.

What a follow-up is, its state on a day and how it changes are the engine's
(`Engine.followups`, `core.followups`); this module only turns those items into the text and
rows staff read at 80 columns. The operator's level (村委会 / 街镇) is their server account's
role, or on one desk a ledger setting (L on the follow-up list), so a town office shows the
town's items and a village clerk the village's.
"""
from __future__ import annotations

from typing import Any

from textual.content import Content
from textual.widgets import Static

from core.engine import LEVEL_SETTING, ROLE_LEVELS  # noqa: F401 - the setting screens change

from ..literal import joined, marked
from ..roles import short_village

LEVELS = tuple(ROLE_LEVELS.values())   # 村委会, 街镇 (the setting may also be "": every level)
PANEL_ITEMS = 2                        # items named on home under the counts

COLUMNS = (("urgent", "应急", 4), ("state", "状态", 8), ("kind", "事项", 16), ("name", "姓名", 8),
           ("village", "村", 10), ("owner", "负责", 6), ("due", "办理时限", 10))


def operator_level(engine: Any) -> str:
    """The operator's level (a server account's role, else the ledger's setting)."""
    return engine.followup_level()


def state_text(item) -> str:
    """逾期N天 / 即将到期 / 已办结, else where the work stands (待处理, 处理中)."""
    if item.state == "overdue":
        return f"逾期{item.days_over}天"
    if item.state == "open":
        return item.status
    return item.state_label


def emergency_prefix(item) -> str:
    return "应急 " if item.is_emergency else ""


def rows(items: list, divisions: Any) -> list[dict]:
    """Table rows, the most pressing first (the engine's order)."""
    return [{"id": i.id, "urgent": "应急" if i.is_emergency else "", "state": state_text(i), "kind": i.kind,
             "name": i.name, "village": short_village(divisions, i.village), "owner": i.owner, "due": i.due_date}
            for i in items]


def panel_text(items: list, level: str) -> Content:
    """Home's follow-up lines: counts for the operator's level, then the most pressing items."""
    overdue = [i for i in items if i.state == "overdue"]
    due = [i for i in items if i.state == "due"]
    urgent = [i for i in items if i.is_emergency]
    head = "[b]跟进事项[/b]（$level）  已逾期 $overdue 件  即将到期 $due 件"
    if urgent:
        head += f"  [b red]应急 {len(urgent)} 件[/]"
    lines: list[Content | str] = [marked(head + "   F 查看", level=level or "全部层级", overdue=len(overdue),
                                         due=len(due))]
    for i in [i for i in items if i.state in ("overdue", "due") or i.is_emergency][:PANEL_ITEMS]:
        lines.append(f"  {emergency_prefix(i)}{state_text(i)}  {i.name}  {i.kind}  时限 {i.due_date}")
    if len(lines) == 1:
        lines.append("  没有到期或逾期的跟进事项")
    return joined(lines)


def emergency_mark(engine: Any) -> str:
    """The header's mark while an 应急 follow-up is open (every full screen shows the header)."""
    try:
        n = len(engine.followup_emergencies())
    except Exception:  # noqa: BLE001 - a mark in the header must never stop a screen
        return ""
    return f"应急未办结 {n} 件" if n else ""


class FollowupsPanel(Static):
    """Home's follow-up lines, filled by home's worker (`show`)."""

    DEFAULT_CSS = """
    FollowupsPanel { height: auto; max-height: 5; padding: 0 1; border: round $warning; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("正在读取跟进事项……", id="home-followups", **kwargs)

    @staticmethod
    def text_for(engine: Any, today) -> Content:
        """Worker side: the text for the operator's level on `today`."""
        level = operator_level(engine)
        return panel_text(engine.followups(as_of=today, level=level or None), level)

    @staticmethod
    def fill(screen: Any, text: Content | None) -> None:
        """UI side: the screen's panel shows `text` (unless the screen closed meanwhile)."""
        if screen.is_mounted:
            screen.query_one(FollowupsPanel).update(text or "无法读取跟进事项")


def show_person_followups(table: Any, engine: Any, person_id: str, today) -> None:
    """The person file's 跟进 tab: every follow-up of this person, open ones first."""
    items = engine.followups(as_of=today, person=person_id, open_only=False)
    open_n = sum(1 for i in items if i.state != "closed")
    table.border_title = f"共 {len(items)} 件，未办结 {open_n} 件（回车打开办理）"
    table.show_rows([c for c in COLUMNS if c[0] not in ("name", "village")] + [("opened", "生成日期", 10)],
                    [{**row, "opened": i.opened_on} for row, i in zip(rows(items, None), items)])


def open_followup(app: Any, followup_id: str) -> None:
    from ..screens.followups import FollowupScreen

    app.push_screen(FollowupScreen(followup_id))


def risk_proposal_note(engine: Any, person_id: str) -> str:
    """"（探访建议：高，5 跟进）" beside the level on a person file while a proposal is open."""
    try:
        found = [i for i in engine.followups(person=person_id) if i.proposed_risk]
    except Exception:  # noqa: BLE001 - a note in a title must never stop the file opening
        return ""
    return f"（探访建议：{found[0].proposed_risk}，5 跟进）" if found else ""


def followups_note(result: Any) -> str:
    """"；已生成跟进事项：上报街镇、通知子女督促照顾" after a save that created some."""
    made = [r["data"].get("kind", "") for r in (getattr(result, "followups", None) or [])]
    return f"；已生成跟进事项：{'、'.join(made)}（首页 F 查看）" if made else ""


def with_last_contacts(engine: Any, person_id: str, cols: list, rows: list[dict]) -> tuple[list, list[dict]]:
    """The person file's 子女及赡养人 table with each row's latest contact from the follow-ups
    ("11-30 电话 未接通"), so staff see whom they reached without opening every follow-up."""
    try:   # the person's few follow-ups, found from the list rows held in memory
        records = [engine.get(i.id, "followup") or {} for i in engine.followups(person=person_id, open_only=False)]
    except Exception:  # noqa: BLE001 - the children's table shows without it
        return cols, rows
    latest: dict[int, tuple] = {}
    for rec in records:
        for c in (rec.get("data") or {}).get("contacts") or []:
            key = (str(c.get("contact_date") or ""), rec.get("updated") or "")
            row = c.get("contact_row")
            if isinstance(row, int) and (row not in latest or key >= latest[row][0]):   # later in the list wins a tie
                latest[row] = (key, f"{key[0][5:]} {c.get('contact_channel') or ''} {c.get('contact_outcome') or ''}")
    if not latest:
        return cols, rows
    # Beside the name: the row is wider than 80 columns, and this is what staff look for.
    return ([*cols[:1], ("last_contact", "最近联系", 18), *cols[1:]],
            [{**r, "last_contact": latest[int(r["id"]) + 1][1] if int(r["id"]) + 1 in latest else ""} for r in rows])
