"""待补全: a person brought in from an office's sheet whose file lacks some required answers.

A village roster holds the name, ID number, phone and address, never the twenty-five items the
registration form requires (民族, 婚姻状况, 户籍性质 …). Refusing such rows loses the people;
storing them as 在册 would count half-empty files in the quarterly summary. The form declares a
status of its own (`incomplete: {field: status, value: 待补全}`): under it a missing answer, a
warning not yet explained, or a rule that cannot be checked for want of an input does not stop
the save. Everything else does (a wrong ID number, a date in the future, a duplicate). The person
is completed in the registration form and set to 在册, at which point the normal checks apply.
"""
from __future__ import annotations

from typing import Any, Iterable

from core.formlang.expressions import empty
from core.problems import Problem

MISSING_RULES = ("required", "minItems")


def marker(form) -> tuple[str, str] | None:
    """(status field, value) the form declares for incomplete files, or None."""
    inc = getattr(form, "incomplete", None) or {}
    return (inc["field"], str(inc["value"])) if inc.get("field") and inc.get("value") else None


def is_incomplete(form, data: dict) -> bool:
    mark = marker(form)
    return mark is not None and str(data.get(mark[0]) or "") == mark[1]


def deferrable(data: dict, problem: Problem) -> bool:
    """Whether a problem is something to complete later, not something wrong: a missing answer,
    a warning, or a rule whose input is still empty."""
    if problem.rule in MISSING_RULES or not problem.is_error:
        return True
    top = problem.path.split(".")[0]
    return bool(top) and problem.rule not in (None, "normalize", "type", "enum", "format", "unique") \
        and empty(data.get(top))


def blocking(form, data: dict, problems: list[Problem]) -> list[Problem]:
    """The problems that stop a save: all of them, or for an incomplete file only the wrong ones."""
    if not is_incomplete(form, data):
        return problems
    return [p for p in problems if not deferrable(data, p)]


def missing(problems: list[Problem]) -> list[str]:
    """What is left to fill in, as short phrases: 民族、婚姻状况、子女及其他赡养人 第 1 行：与老人关系.
    Rules and warnings are left to the form, where they show once the answers are there."""
    out = [p.message.replace(" 必须填写 (required)", "").replace(" (minItems)", "")
           for p in problems if p.rule in MISSING_RULES]
    return list(dict.fromkeys(out))


def incomplete_records(eng, form_id: str, ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Every stored record of the form still 待补全 (or those of `ids`: a roster page), with
    what it lacks."""
    form = eng.form(form_id)
    mark = marker(form)
    if mark is None:
        return []
    out = []
    rows = eng.index(form_id).rows
    for rid in (rows if ids is None else [i for i in ids if i in rows]):
        if str(rows[rid].get(mark[0]) or "") != mark[1]:
            continue
        record = eng.get(rid, form_id)
        if record is None:
            continue
        problems = eng.validate(form_id, record["data"], rid)
        out.append({"id": rid, "data": record["data"], "missing": missing(problems)})
    title = form.title_field or "name"
    return sorted(out, key=lambda r: (str(r["data"].get("village") or ""), str(r["data"].get(title) or "")))
