"""Follow-up records: created from a visit, listed with their state on a day, worked to the end.

Every change is an ordinary `Engine.save` of the follow-up record, so it is validated by
`forms/followup.yaml` and lands in the append-only history with who, when and a note. The
follow-up form's field ids (`kind`, `owner_level`, `status`, `steps`, `contacts`, ...) are the
contract between that file and this module, as `tui/roles.py` is for the registration form.

States on a day (`Item.state`): 已办结 is `closed`; past its 办理时限 it is `overdue` (the day
after the due date: an 应急 item is due the day it is found and overdue the next morning);
within the form's `due_soon_days` of it `due`; otherwise `open`.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Iterable

from core.followups.rules import Planned, person_form_of, plan_for, ref_to, rules_of
from core.problems import CarebookError

FORM = "followup"
OPEN, IN_PROGRESS, CLOSED = "待处理", "处理中", "已办结"
EMERGENCY = "应急"
STATE_LABELS = {"overdue": "已逾期", "due": "即将到期", "open": "办理中", "closed": "已办结"}


@dataclass
class Item:
    """A follow-up as lists show it (from its list row: no full record is read)."""

    id: str
    person: str
    name: str
    town: str
    village: str
    kind: str
    owner: str
    urgency: str
    opened_on: str
    due_date: str
    status: str
    closed_on: str
    visit: str
    proposed_risk: str
    state: str              # overdue | due | open | closed
    days_over: int          # days past the due date (0 when not overdue)

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]

    @property
    def is_emergency(self) -> bool:
        return self.urgency == EMERGENCY and self.state != "closed"


def _date(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def soon_days(eng) -> int:
    return int(eng.form(FORM).settings.get("due_soon_days", 3))


def item_of(rid: str, row: dict, day: dt.date, soon: int) -> Item:
    due = _date(row.get("due_date"))
    if row.get("status") == CLOSED:
        state = "closed"
    elif due is not None and day > due:
        state = "overdue"
    elif due is not None and (due - day).days <= soon:
        state = "due"
    else:
        state = "open"
    return Item(rid, row.get("person") or "", row.get("person_name") or "", row.get("town") or "",
                row.get("village") or row.get("_p") or "", row.get("kind") or "", row.get("owner_level") or "",
                row.get("urgency") or "", str(row.get("opened_on") or ""), str(row.get("due_date") or ""),
                row.get("status") or "", str(row.get("closed_on") or ""), row.get("visit") or "",
                row.get("proposed_risk") or "", state,
                (day - due).days if state == "overdue" else 0)


def items(eng, *, as_of: dt.date | None = None, town: str | None = None, village: str | None = None,
          level: str | None = None, person: str | None = None, kinds: Iterable[str] | None = None,
          open_only: bool = True, overdue: bool = False) -> list[Item]:
    """Follow-ups on `as_of` (default: the engine's today), most pressing first: open 应急
    items, then overdue (longest first), then by due date. Filters: a town or village, the
    owning level (村委会/街镇), one person, some kinds, overdue only."""
    if eng.forms.get(FORM) is None:
        return []
    day = as_of or eng.today()
    soon = soon_days(eng)
    wanted = set(kinds) if kinds else None
    out = []
    for rid, row in eng.index(FORM).rows.items():
        if ((town and row.get("town") != town) or (village and row.get("village") != village)
                or (level and row.get("owner_level") != level) or (person and row.get("person") != person)
                or (wanted is not None and row.get("kind") not in wanted)):
            continue
        it = item_of(rid, row, day, soon)
        if (open_only and it.state == "closed") or (overdue and it.state != "overdue"):
            continue
        out.append(it)
    out.sort(key=lambda i: (not i.is_emergency, i.state == "closed", -i.days_over, i.due_date, i.opened_on))
    return out


def emergencies(eng, *, as_of: dt.date | None = None, town: str | None = None) -> list[Item]:
    """Open 应急 follow-ups: marked on every screen until handled."""
    return [i for i in items(eng, as_of=as_of, town=town) if i.is_emergency]


# ---------------------------------------------------------------------------- creation
def create_for(eng, form_id: str, record: dict, operator: str = "") -> tuple[list[dict], list[str]]:
    """Store the follow-ups a saved record calls for and does not have yet.

    One per kind per source record: saving a visit again (an edit) adds what the edit newly
    calls for and never duplicates; what an edit no longer calls for stays, to be closed with
    a reason. Returns (records created, messages about rules that could not be applied)."""
    form = eng.form(form_id)
    spec = rules_of(form)
    if not spec or spec.get("form") != FORM or eng.readonly:
        return [], []
    fform = eng.form(FORM)
    person_form = person_form_of(fform)
    ref = ref_to(form, person_form) if person_form else None
    data = record["data"]
    person = eng.get(data.get(ref), person_form) if ref and data.get(ref) else None
    if person is None:
        return [], []
    planned, problems = plan_for(eng, form, data, person)
    have = {row.get("kind") for row in eng.index(FORM).rows.values() if row.get("visit") == record["id"]}
    created = []
    day = data.get(_date_field(form)) or eng.today().isoformat()
    for p in planned:
        if p.kind in have:
            continue
        new = _new_data(eng, p, person["id"], record["id"], str(day)[:10])
        try:
            created.append(eng.save(FORM, new, operator=operator or record.get("operator") or "",
                                    note=f"由{form.title or form_id}（{str(day)[:10]}）生成").record)
        except CarebookError as exc:
            problems.append(f"跟进事项“{p.kind}”未能生成：{exc}")
    return created, problems


def _date_field(form) -> str | None:
    rollup = (getattr(form, "raw", None) or {}).get("rollup") or {}
    if rollup.get("date"):
        return rollup["date"]
    return next((f.id for f in form.top_fields() if f.type == "date"), None)


def _new_data(eng, p: Planned, person_id: str, source_id: str, day: str) -> dict:
    data = {"person": person_id, "visit": source_id, "kind": p.kind, "owner_level": p.owner,
            "urgency": p.urgency, "opened_on": day, "detail": p.detail, "status": OPEN}
    if p.proposed_risk:
        data.update(proposed_risk=p.proposed_risk, current_risk=p.current_risk)
    return data


def sync(eng, form_id: str = "visit", operator: str = "") -> tuple[int, list[str]]:
    """Create what every stored record of `form_id` calls for and lacks (visits imported or
    generated in bulk, which skip the per-save step). Returns (created, messages)."""
    n, problems = 0, []
    for rec in list(eng.iter_records(form_id)):
        created, found = create_for(eng, form_id, rec, operator)
        n += len(created)
        problems += found
    return n, problems


# ---------------------------------------------------------------------------- working on one
def _load(eng, followup_id: str) -> dict:
    rec = eng.get(followup_id, FORM)
    if rec is None:
        found = [rid for rid in eng.index(FORM).rows if rid.startswith(followup_id)] if len(followup_id) >= 6 else []
        if len(found) == 1:
            rec = eng.get(found[0], FORM)
    if rec is None:
        raise CarebookError(f"没有找到跟进事项 {followup_id}")
    return rec


def _who(eng, operator: str | None) -> str:
    who = (operator or eng.operator or "").strip()
    if not who:
        raise CarebookError("请先填写操作员姓名：跟进事项要记下是谁办理的（carebook --operator 或界面中“操作员”）")
    return who


def _save(eng, rec: dict, data: dict, who: str, note: str) -> dict:
    return eng.save(FORM, data, rec["id"], operator=who, note=note).record


def _step(data: dict, day: str, who: str, status: str, text: str) -> dict:
    return {**data, "status": status,
            "steps": [*(data.get("steps") or []),
                      {"step_date": day, "step_by": who, "step_status": status, "step_text": text}]}


def _open(rec: dict) -> None:
    if rec["data"].get("status") == CLOSED:
        raise CarebookError(f"跟进事项已于 {rec['data'].get('closed_on')} 办结，不能再修改（如需继续跟进请新建）")


def advance(eng, followup_id: str, text: str, *, operator: str | None = None,
            on: dt.date | None = None) -> dict:
    """Something was done but the matter is not closed: 处理中, with what and by whom."""
    rec, who = _load(eng, followup_id), _who(eng, operator)
    _open(rec)
    if not (text or "").strip():
        raise CarebookError("请写明做了什么")
    day = (on or eng.today()).isoformat()
    return _save(eng, rec, _step(rec["data"], day, who, IN_PROGRESS, text.strip()), who, f"办理：{text.strip()}")


def close(eng, followup_id: str, result: str, *, operator: str | None = None,
          on: dt.date | None = None) -> dict:
    """办结: the result, the date and who closed it, also kept as the last step."""
    rec, who = _load(eng, followup_id), _who(eng, operator)
    _open(rec)
    result = (result or "").strip()
    if not result:
        raise CarebookError("办结要写明办理结果（--result）")
    day = (on or eng.today()).isoformat()
    data = {**_step(rec["data"], day, who, CLOSED, result), "result": result, "closed_on": day, "closed_by": who}
    return _save(eng, rec, data, who, f"办结：{result}")


def contact(eng, followup_id: str, row: int, outcome: str, *, channel: str = "电话", note: str = "",
            operator: str | None = None, on: dt.date | None = None) -> dict:
    """A contact with the person's child or supporter number `row` (1-based, as the person
    file's 子女及赡养人 tab numbers them), kept on the follow-up with that row's number."""
    rec, who = _load(eng, followup_id), _who(eng, operator)
    _open(rec)
    children = children_of(eng, rec)
    if not 1 <= row <= len(children):
        raise CarebookError(f"老人档案中没有第 {row} 位赡养人（共 {len(children)} 位）")
    name = children[row - 1].get("child_name") or f"第{row}位"
    day = (on or eng.today()).isoformat()
    line = {"contact_row": row, "contact_child": name, "contact_date": day, "contact_channel": channel,
            "contact_outcome": outcome, "contact_by": who}
    if note:
        line["contact_note"] = note
    data = {**rec["data"], "contacts": [*(rec["data"].get("contacts") or []), line]}
    if data.get("status") == OPEN:
        data["status"] = IN_PROGRESS
    return _save(eng, rec, data, who, f"联系{name}（{channel}）：{outcome}")


def children_of(eng, rec: dict) -> list[dict]:
    """The rows of the person's 子女及赡养人 group (the person form's first repeat group)."""
    pform_id = person_form_of(eng.form(FORM))
    person = eng.get(rec["data"].get("person"), pform_id) if pform_id else None
    if person is None:
        return []
    group = next((f for f in eng.form(pform_id).top_fields() if f.type == "repeat"), None)
    return list(person["data"].get(group.id) or []) if group else []


def _risk_target(eng) -> str:
    for form in eng.forms.forms.values():
        spec = rules_of(form) or {}
        if spec.get("form") == FORM and spec.get("risk"):
            return spec["risk"]["target"]
    raise CarebookError("表单文件没有声明风险等级变化的跟进规则（followups.risk）")


def accept_risk(eng, followup_id: str, *, operator: str | None = None, on: dt.date | None = None) -> dict:
    """Adopt a visit's proposed risk level: the person's level is overridden (an 改判 with the
    visit as its reason, in the person's history), and the follow-up is closed."""
    rec, who = _load(eng, followup_id), _who(eng, operator)
    _open(rec)
    data = rec["data"]
    level = data.get("proposed_risk")
    if not level:
        raise CarebookError("这条跟进事项不是风险等级复核，没有建议的风险等级")
    target = _risk_target(eng)
    pform_id = person_form_of(eng.form(FORM))
    person = eng.get(data.get("person"), pform_id)
    if person is None:
        raise CarebookError("找不到这条跟进事项所涉老人的档案")
    visit = eng.get(data["visit"]) if data.get("visit") else None
    source = (f"探访记录（{visit['data'].get('visit_date')}，{visit['data'].get('visitor') or ''}）"
              if visit else "跟进事项")
    reason = f"{source}：{data.get('detail') or ''}".strip("：")
    overrides = {**(person.get("meta", {}).get("overrides") or {}), target: {"value": level, "reason": reason}}
    eng.save(pform_id, person["data"], person["id"], operator=who, overrides=overrides,
             note=f"采纳探访提出的风险等级：{level}")
    return close(eng, rec["id"], f"已采纳：风险等级改为{level}", operator=who, on=on)


def refuse_risk(eng, followup_id: str, reason: str, *, operator: str | None = None,
                on: dt.date | None = None) -> dict:
    """Keep the person's level: the follow-up is closed with the reason it was not adopted."""
    if not (reason or "").strip():
        raise CarebookError("不采纳要写明理由")
    return close(eng, followup_id, f"不采纳：{reason.strip()}", operator=operator, on=on)
