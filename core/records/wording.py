"""A validation problem in a village clerk's words: no rule keys, the label once, and a field the
clerk cannot edit (a computed one) never blamed — the input it is computed from is named instead.

`core.records.validation` writes messages for every reader (CLI, import report, logs): they start
with the field's label and end with the rule's key in brackets, `(normalize)`, `(required)`.
Staff screens show a message beside its field or under its label, so both are noise there, and
"性别 不符" on a grey field nobody can type into sends the clerk looking for a mistake they cannot
fix. The UI asks this module, not the validator, so the CLI keeps its located, keyed lines.
"""
from __future__ import annotations

import re
from typing import Any

RULE_KEY = re.compile(r"\s*[(（][A-Za-z][A-Za-z0-9_]*(?:: [^)）]*)?[)）]\s*$")
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def plain(message: str, label: str | None = None) -> str:
    """`公民身份号码：公民身份号码：校验码不符 (normalize)` -> `校验码不符` for a message shown at
    (or under) the field labelled `label`: the rule key dropped, leading copies of the label too."""
    text = RULE_KEY.sub("", message).strip()
    if label:
        while True:
            for sep in ("：", ":", " "):
                if text.startswith(label + sep):
                    text = text[len(label) + len(sep):].lstrip()
                    break
            else:
                break
    if label and text.startswith("必须填写"):
        return "必须填写"
    return text or message


def inputs_of(form: Any, field_id: str, _seen: frozenset = frozenset()) -> list[str]:
    """The fields staff type into that a computed field is worked out from, in form order
    (`sex` -> [`id_number`]); [] for an input field or one computed from nothing typed."""
    f = form.field(field_id)
    if f is None or not f.computed or field_id in _seen:
        return []
    text = " ".join([f.calculate or ""] + [c.when or "" for c in f.cases])
    out: list[str] = []
    for name in dict.fromkeys(NAME.findall(text)):
        g = form.field(name)
        if g is None or name == field_id:
            continue
        for found in (inputs_of(form, name, _seen | {field_id}) if g.computed else [name]):
            if found not in out:
                out.append(found)
    order = {f.id: i for i, f in enumerate(form.fields_flat())}
    return sorted(out, key=lambda n: order.get(n, 0))


def where_to_fix(form: Any, field_id: str) -> tuple[str, str]:
    """(field to put the message on, text to put before it): the field itself, or for a computed
    field its first input with `性别由公民身份号码算出：`, so the clerk knows what to correct."""
    f = form.field(field_id)
    if f is None or not f.computed:
        return field_id, ""
    sources = inputs_of(form, field_id)
    if not sources:
        return field_id, ""
    names = "、".join(form.field(s).label for s in sources)
    return sources[0], f"{f.label}由{names}算出，请核对{names}："


def clerk_problem(form: Any, problem: Any) -> tuple[str, str]:
    """(field id the clerk should fix, message for under that field) for one Problem; the field
    id is '' when the problem names no field of the form."""
    top = (problem.path or "").split(".")[0].split("[")[0]
    f = form.field(top) if top else None
    if f is None:
        return "", plain(problem.message)
    target, before = where_to_fix(form, top)
    text = plain(problem.message, f.label)
    row = re.match(r"^[^.]+\.(\d+)\.([^.]+)", problem.path or "")
    if row and f.fields:            # a repeat row: say which row and which column
        child = next((c for c in f.fields if c.id == row[2]), None)
        where = f"第 {int(row[1]) + 1} 行"
        text = plain(text, child.label) if child else text
        text = re.sub(rf"^{re.escape(where)}[：:]\s*", "", text)
        text = f"{where}{child.label if child else ''}：{plain(text, child.label if child else None)}"
    if not problem.is_error:
        text = "提醒：" + text
    return target, before + text
