"""Which follow-ups one saved record calls for, read from its form's `followups:` section.

The rules are the admin's (`forms/visit.yaml`, end of file): each item names a kind, a
condition over the visit's fields, the level that owns it, an urgency and a description, all
expressions; `risk:` turns 风险等级变化 升高/降低 into a proposed new level on the person's file.
Nothing here writes: `plan_for` only says what should exist, so the same plan serves a new
visit, an edited one and a re-scan of imported visits (`tracking.sync`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.formlang.expressions import ExpressionError

DEFAULT_URGENCY = "一般"


@dataclass(frozen=True)
class Planned:
    """One follow-up a record calls for (not yet stored)."""

    kind: str
    owner: str
    urgency: str
    detail: str = ""
    proposed_risk: str | None = None
    current_risk: str | None = None


def rules_of(form) -> dict | None:
    """The form's `followups:` section, or None when saving it creates nothing."""
    return (getattr(form, "raw", None) or {}).get("followups")


def ref_to(form, target_form: str) -> str | None:
    """The form's field that points at a record of `target_form` (a visit's person)."""
    for f in form.top_fields():
        if f.type == "record-ref" and f.options.get("form") == target_form:
            return f.id
    return None


def person_form_of(followup_form) -> str | None:
    """The form of the people follow-ups are about: the target of the follow-up form's first
    record-ref whose field is required (its `person`; the source visit is optional)."""
    for f in followup_form.top_fields():
        if f.type == "record-ref" and f.required is True:
            return f.options.get("form")
    return None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return "、".join(str(v) for v in value if v not in (None, ""))
    return str(value)


def plan_for(eng, form, data: dict, person: dict | None) -> tuple[list[Planned], list[str]]:
    """(the follow-ups `data` calls for, messages for rules that could not be evaluated).

    `person` is the referenced person's stored record (for the risk proposal), or None."""
    spec = rules_of(form)
    if not spec:
        return [], []
    run = eng.evaluator.eval
    names = eng.validator(form.id, town=data.get("town")).names(data)
    planned: list[Planned] = []
    problems: list[str] = []

    def value(expr: str | None, what: str, kind: str) -> Any:
        if not expr:
            return None
        try:
            return run(expr, names)
        except ExpressionError as exc:
            problems.append(f"跟进规则“{kind}”的 {what} 无法计算：{exc}（{form.id} 表单 followups）")
            return None

    for item in spec.get("items") or []:
        if not value(item["when"], "when", item["kind"]):
            continue
        urgency = _text(value(item.get("urgency"), "urgency", item["kind"])) or DEFAULT_URGENCY
        planned.append(Planned(item["kind"], item["owner"], urgency,
                               _text(value(item.get("detail"), "detail", item["kind"]))[:500]))
    risk = spec.get("risk")
    if risk and person is not None:
        found = risk_proposal(eng, risk, data.get(risk["field"]), person)
        if found is not None:
            planned.append(Planned(risk["kind"], risk["owner"], risk.get("urgency") or DEFAULT_URGENCY,
                                   f"风险等级{data.get(risk['field'])}，建议由“{found[0]}”改为“{found[1]}”",
                                   proposed_risk=found[1], current_risk=found[0]))
    return planned, problems


def risk_proposal(eng, risk: dict, change: Any, person: dict) -> tuple[str, str] | None:
    """(current level, proposed level) when `change` is 升高/降低 and there is a level to move
    to; the levels' order is the choice list's (高, 中, 低: the first is the highest)."""
    if change not in (risk["up"], risk["down"]):
        return None
    pform = eng.form(person["form"])
    levels = [v for v, _ in pform.choices_for(risk["target"])]
    current = person["data"].get(risk["target"])
    if current not in levels:
        return None
    i = levels.index(current) + (-1 if change == risk["up"] else 1)
    if not 0 <= i < len(levels):
        return None            # already the highest (or lowest): nothing to propose
    return current, levels[i]
