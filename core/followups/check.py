"""`followups:` sections checked when the form files load, like every other reference.

A rule naming a misspelt field, a kind the follow-up form does not list or a risk level field
the person form lacks would only show when a visit is saved — as a follow-up silently never
created. Found here instead, located at the value, by `carebook forms check`.
"""
from __future__ import annotations

from core.followups.rules import person_form_of, rules_of
from core.problems import Problem


def check_followups(files, doc, form) -> list[Problem]:
    """Problems of `form`'s `followups:` section; `files` is the loader's
    `core.formlang.viewcheck.FileChecker` (its forms and located-problem helpers)."""
    spec = rules_of(form)
    if not spec:
        return []
    at = ("followups",)
    target = files.forms.get(spec.get("form"))
    if target is None:
        broken = spec.get("form") in files.broken_forms
        return [doc.problem(at + ("form",), f"跟进事项表单 {spec.get('form')} "
                            + ("有错误，暂时无法核对跟进规则 (form)" if broken else "不存在或未能加载 (form)"),
                            severity="warning" if broken else "error", rule="form")]
    out: list[Problem] = []
    for i, item in enumerate(spec.get("items") or []):
        path = at + ("items", i)
        for key in ("when", "urgency", "detail"):
            out += files._expr(doc, path + (key,), item.get(key), form, ())
        out += files._in_choices(doc, path + ("kind",), item["kind"], target, "kind", "followups")
        out += files._in_choices(doc, path + ("owner",), item["owner"], target, "owner_level", "followups")
    risk = spec.get("risk")
    if risk:
        path = at + ("risk",)
        out += files._field(doc, path + ("field",), risk["field"], form, "followups")
        if not out:
            for key in ("up", "down"):
                out += files._in_choices(doc, path + (key,), risk[key], form, risk["field"], "followups")
        person = files.forms.get(person_form_of(target) or "")
        if person is not None:
            out += files._field(doc, path + ("target",), risk["target"], person, "followups")
        out += files._in_choices(doc, path + ("kind",), risk["kind"], target, "kind", "followups")
        out += files._in_choices(doc, path + ("owner",), risk["owner"], target, "owner_level", "followups")
    return out
