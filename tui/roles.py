"""Which form fields play which part in the screens (status, town, the visit's person...).

Forms are the admin's, so the UI never hard-codes a form's layout; but a few screens need to
know, say, which field is the person's status to offer 退出/恢复. Those facts are found from
the form file where the form language says them (division levels, record references, choice
lists) and fall back to the shipped Binhai field ids. Keeping them here means a renamed field
is fixed in one place.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from carebook import mask_value
from core.engine import CarebookError
from core.engine import pii_kind   # one masking rule for lists, exports and the CLI

PERSON_FORM = "registration"
VISIT_FORM = "visit"

STATUS = "status"            # 档案状态 在册/退出 (list `record_status`)
ACTIVE, EXITED = "在册", "退出"
EXIT_REASON = "exit_reason"
EXIT_DATE = "exit_date"
RISK = "risk_level"
ELIGIBLE, ELIGIBLE_YES = "eligible", "是"    # 认定结果: who the exported 花名册 lists (forms/roster.yaml)
STATUS_LIST = "record_status"
EXIT_REASON_LIST = "exit_reason"

# What the people search finds (core.records.recordindex), in the search boxes that use it.
SEARCH_HINT = "查找：姓名 / 拼音全拼或首字母 / 整个身份证号或电话"

CREATED_SETTING = "ledger_created"   # set when staff chose 新建空台账, so the choice is asked once

# Field types whose values are personal and shown masked outside the person's own file.


def form_or_none(engine: Any, form_id: str):
    try:
        return engine.form(form_id)
    except CarebookError:
        return None


def ledger_is_empty(engine: Any) -> bool:
    """No person registered yet: the start screen offers an empty ledger or the demo."""
    try:
        return not engine.has_records(PERSON_FORM)
    except CarebookError:
        return True


def status_field(form) -> str:
    """The field that holds 在册/退出 (a choice field using the `record_status` list)."""
    for f in form.fields_flat():
        if f.choices == STATUS_LIST:
            return f.id
    return STATUS


def division_fields(form) -> tuple[str | None, str | None]:
    """(town field id, village field id) from the `division` fields' levels."""
    town = village = None
    for f in form.top_fields():
        if f.type == "division":
            level = f.options.get("level")
            if level == "town" and town is None:
                town = f.id
            elif level == "village" and village is None:
                village = f.id
    return town, village


def ref_field(form, target: str) -> str | None:
    """The visit form's field that points at a person record."""
    for f in form.top_fields():
        if f.type == "record-ref" and f.options.get("form", target) == target:
            return f.id
    return None


def first_date_field(form) -> str | None:
    for f in form.top_fields():
        if f.type == "date" and not f.computed:
            return f.id
    return None


def masked(form, field_id: str, value: Any, divisions: Any = None) -> str:
    """A list cell: personal values masked, codes turned into names, None blank."""
    if value is None:
        return ""
    f = form.field(field_id) if form else None
    kind = pii_kind(f)
    if kind:
        return str(mask_value(kind, value))
    return display(form, field_id, value, divisions)


def short_village(divisions: Any, code: Any) -> str:
    """A village's name without its town's: 小王庄镇第208村 -> 第208村 in an 80-column list.

    Lists already group by town (or show the town beside it), so the prefix only costs width.
    """
    if code in (None, ""):
        return ""
    name = (divisions.name(code) if divisions is not None else None) or str(code)
    town = divisions.name(divisions.town_of(code)) if divisions is not None and divisions.town_of(code) else None
    if town and name.startswith(town) and len(name) > len(town):
        return name[len(town):]
    return name


def display(form, field_id: str, value: Any, divisions: Any = None) -> str:
    """A stored value as staff read it: choice labels, division names, 是/否, lists joined."""
    if value is None or value == "":
        return ""
    f = form.field(field_id) if form else None
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list):
        return "、".join(display(form, field_id, v, divisions) for v in value)
    if f is not None and f.type == "division" and divisions is not None:
        return divisions.name(value) or str(value)
    if f is not None and f.choices is not None:
        labels = dict(form.choices_for(f))
        return labels.get(str(value), str(value))
    return str(value)


def carried_values(engine: Any, form, person_id: str) -> dict:
    """Read-only fields a visit copies from its person: same-id fields and the person's title.

    The visit form marks them `readonly` ("从所选老人的登记表带出"), so staff never retype them.
    """
    person = engine.get(person_id, PERSON_FORM)
    person_form = form_or_none(engine, PERSON_FORM)
    if person is None or person_form is None:
        return {}
    data = person["data"]
    out = {}
    for f in form.top_fields():
        if f.readonly and f.id in data:
            out[f.id] = data[f.id]
    if form.title_field and form.field(form.title_field) and form.field(form.title_field).readonly:
        out[form.title_field] = data.get(person_form.title_field or "name")
    return out


# Fields that name who fills the form in or who visits: a new record starts with the operator.
OPERATOR_FIELDS = ("filler", "visitor")
VISIT_LEVEL, VISIT_METHOD = "visit_level", "visit_method"
# A routine visit, as the due list's visits mostly are: the clerk saw the elder, found nothing
# wrong and changed nothing. The quick visit shows these words before saving them; anything
# else goes on the full visit form. Only values the visit form offers are used.
ROUTINE_VISIT = {"saw_person": "是", "physical": "良好", "mental": "良好", "daily_care": "正常",
                 "hazards": ["无"], "referral": "否", "risk_change": "无"}


def operator_context(form, operator: str) -> dict:
    """{filler/visitor: operator} for the fields of `form` that name who is filling it in."""
    return {fid: operator for fid in OPERATOR_FIELDS if operator and form.field(fid) is not None}


def offered(form, field_id: str, value: Any) -> bool:
    """Whether `value` (or every item of a list) is one of the field's choices."""
    f = form.field(field_id)
    if f is None:
        return False
    if f.choices is None:
        return True
    values = {v for v, _ in form.choices_for(f)}
    return all(v in values for v in value) if isinstance(value, list) else value in values


def routine_values(form) -> dict:
    """ROUTINE_VISIT as far as the visit form has those fields and choices."""
    return {k: v for k, v in ROUTINE_VISIT.items() if offered(form, k, v)}


def visit_context(engine: Any, person_id: str, today: dt.date, operator: str = "",
                  level: str | None = None) -> dict:
    """A new visit starts filled in: which person, today's date, the person's town and village,
    the operator as visitor, the level the due list asked for and the form's first method."""
    form = form_or_none(engine, VISIT_FORM)
    if form is None:
        return {}
    ctx: dict[str, Any] = carried_values(engine, form, person_id)
    ctx.update(operator_context(form, operator))
    if level and offered(form, VISIT_LEVEL, level):
        ctx[VISIT_LEVEL] = level
    method = form.field(VISIT_METHOD)
    if method is not None and form.choices_for(method):
        ctx[VISIT_METHOD] = form.choices_for(method)[0][0]
    ref = ref_field(form, PERSON_FORM)
    if ref:
        ctx[ref] = person_id
    day = first_date_field(form)
    if day:
        ctx[day] = today.isoformat()
    return ctx
