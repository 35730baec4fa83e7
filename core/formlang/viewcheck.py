"""What the meta-schema cannot see in view, report and schedule files: their references to forms.

A roster column naming a field that was renamed, a summary count whose expression misspells a
field, an identity about a column that was deleted, a schedule keyed on a risk level the form
does not have: each is well-formed YAML, and each would only show when the report runs — as an
empty column, a silently wrong count, or a cadence that quietly falls back to monthly. They are
found when the files load instead, located at the offending value, worded like the form-file
problems, so `carebook forms check` catches them before a quarter's summary goes out.

Runs after the forms have loaded (it needs their fields, choices and settings); a file whose form
is missing or broken gets one problem saying so instead of one per column.
"""
from __future__ import annotations

import ast
from typing import Any, Iterable

from core.formlang.expressions import ExpressionError
from core.formlang.formcheck import FormChecker, Scope, suggest
from core.formlang.formmodel import Form
from core.problems import Problem
from core.formlang.yamlload import YamlDoc

# Names the builders in core/reporting/reports.py add to a record's fields (besides settings and today).
VIEW_NAMES = frozenset({"as_of"})
VIEW_CELL_NAMES = VIEW_NAMES | {"row_number"}      # row_number is known only once a row is chosen
REPORT_NAMES = frozenset({"q_start", "q_end", "report_date"})
_CONSTANTS = frozenset({"True", "False", "None"})


def free_names(node: ast.AST) -> list[str]:
    """Names an expression reads, in order: comprehension variables and called names left out."""
    bound = {n.id for c in ast.walk(node) if isinstance(c, ast.comprehension)
             for n in ast.walk(c.target) if isinstance(n, ast.Name)}
    called = {id(c.func) for c in ast.walk(node) if isinstance(c, ast.Call)}
    names = [n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
             and id(n) not in called and n.id not in bound]
    return list(dict.fromkeys(names))


class FileChecker:
    """Semantic checks of `kind: view | report | schedule` files against the loaded forms."""

    def __init__(self, checker: FormChecker, forms: dict[str, Form], broken_forms: Iterable[str] = ()):
        self.checker = checker
        self.evaluator = checker.evaluator
        self.forms = forms
        self.broken_forms = set(broken_forms)

    def check(self, doc: YamlDoc) -> list[Problem]:
        """All three kinds read one form's records (`form:`, default registration); without it
        nothing else can be checked, so a missing form is the one problem reported."""
        method = {"view": self.view, "report": self.report, "schedule": self.schedule}.get(doc.data.get("kind"))
        if method is None:
            return []
        form, out = self._form(doc, "form", "registration")
        return out if form is None else method(doc, doc.data, form)

    # --- shared pieces ------------------------------------------------------------------------

    def _form(self, doc: YamlDoc, key: str, default: str) -> tuple[Form | None, list[Problem]]:
        """The form a file names under `key` (or the builders' default when it names none)."""
        fid = doc.data.get(key, default)
        form = self.forms.get(fid)
        if form is not None:
            return form, []
        said = f"{key} 写的" if key in doc.data else f"没写 {key}，默认的"
        return None, [doc.problem((key,) if key in doc.data else (),
                                  f"{said}表单 “{fid}” 不存在或未能加载{suggest(fid, self.forms)} ({key})", rule=key)]

    @staticmethod
    def _top_ids(form: Form) -> set[str]:
        return {f.id for f in form.top_fields()}

    def _field(self, doc: YamlDoc, path: tuple, fid: Any, form: Form, rule: str, *, key: bool = False) -> list[Problem]:
        """A field id must be one of the form's own fields (repeat children are not columns)."""
        ids = self._top_ids(form)
        if fid in ids:
            return []
        return [doc.problem(path, f"表单 {form.id} 没有字段 “{fid}”{suggest(str(fid), ids)} ({rule})", key=key, rule=rule)]

    def _expr(self, doc: YamlDoc, path: tuple, expr: Any, form: Form, extra: Iterable[str]) -> list[Problem]:
        scope = Scope(self._top_ids(form) | set(extra), set(), form.settings)
        return self.checker.expression(doc, path, expr, scope)

    def _in_choices(self, doc: YamlDoc, path: tuple, value: Any, form: Form, fid: str, rule: str,
                    *, key: bool = False) -> list[Problem]:
        """A value a file compares with a choice field must be one of its choices (when it has any)."""
        field = form.field(fid)
        values = [v for v, _ in form.choices_for(field)] if field is not None else []
        if not values or str(value) in values:
            return []
        return [doc.problem(path, f"“{value}” 不在 {form.id} 的字段 {fid} 的选项中（{'、'.join(values)}）({rule})",
                            key=key, rule=rule)]

    @staticmethod
    def _unique_keys(doc: YamlDoc, columns: list) -> list[Problem]:
        seen: dict[str, int] = {}
        out = []
        for i, col in enumerate(columns):
            if col["key"] in seen:
                out.append(doc.problem(("columns", i, "key"),
                                       f"列 key “{col['key']}” 重复（第 {doc.where(('columns', seen[col['key']], 'key'))[0]} 行已用过）"
                                       f" (duplicate id)", rule="duplicate-id"))
            seen.setdefault(col["key"], i)
        return out

    # --- record-ref fields of forms -------------------------------------------------------------

    def references(self, doc: YamlDoc, form: Form) -> list[Problem]:
        """A record-ref's `form:` must exist, and its `copy: {mine: theirs}` must name fields of both
        forms: the engine copies at save, so a misspelt name would silently copy nothing."""
        out = []
        for f in form.top_fields():
            if f.type != "record-ref":
                continue
            target = self.forms.get(f.options.get("form"))
            if target is None and f.options.get("form") in self.broken_forms:
                # Its own file's errors are listed there; visits already saved stay usable meanwhile.
                out.append(doc.problem(f.source + ("form",), f"表单 {f.options['form']} 有错误，暂时无法核对 {f.id} 的 "
                                                             f"copy: 字段 (form)", severity="warning", rule="form"))
                continue
            if target is None:
                out.append(doc.problem(f.source + (("form",) if "form" in f.options else ()),
                                       f"record-ref 字段 {f.id} 要用 form: 写明指向哪张表单；“{f.options.get('form')}” "
                                       f"不存在或未能加载{suggest(str(f.options.get('form')), self.forms)} (form)", rule="form"))
                continue
            for mine, theirs in (f.options.get("copy") or {}).items():
                at = f.source + ("copy", mine)
                out += self._field(doc, at, mine, form, "copy", key=True)
                out += self._field(doc, at, theirs, target, "copy")
        from core.followups.check import check_followups   # the form's `followups:` rules (issue 16)

        return out + check_followups(self, doc, form)

    # --- view (roster) ------------------------------------------------------------------------

    def view(self, doc: YamlDoc, raw: dict, form: Form) -> list[Problem]:
        out: list[Problem] = []
        out += self._expr(doc, ("where",), raw.get("where"), form, VIEW_NAMES)
        for key in ("sort", "filters"):
            for j, fid in enumerate(raw.get(key) or []):
                out += self._field(doc, (key, j), fid, form, key)
        columns = raw.get("columns") or []
        out += self._unique_keys(doc, columns)
        for i, col in enumerate(columns):
            path = ("columns", i)
            if "field" in col and "expr" in col:
                out.append(doc.problem(path + ("expr",), f"列 {col['key']} 的 field 和 expr 只能写一个 (columns)",
                                       rule="columns"))
            elif "field" not in col and "expr" not in col:
                out.append(doc.problem(path, f"列 {col['key']} 要写 field（取哪个字段）或 expr（怎么算）(columns)",
                                       rule="columns"))
            if "field" in col:
                out += self._field(doc, path + ("field",), col["field"], form, "field")
            out += self._expr(doc, path + ("expr",), col.get("expr"), form, VIEW_CELL_NAMES)
        return out

    # --- report (summary) ---------------------------------------------------------------------

    def report(self, doc: YamlDoc, raw: dict, form: Form) -> list[Problem]:
        out: list[Problem] = []
        columns = raw.get("columns") or []
        visit_id = raw.get("visit_form", "visit")
        visits = None
        if "visit_form" in raw or any(c.get("over") == visit_id for c in columns):
            visits, missing = self._form(doc, "visit_form", "visit")
            out += missing
        if visits is not None and "visit_date_field" in raw:
            out += self._field(doc, ("visit_date_field",), raw["visit_date_field"], visits, "visit_date_field")
        out += self._expr(doc, ("base",), raw.get("base"), form, REPORT_NAMES)
        out += self._unique_keys(doc, columns)
        counted = {form.id: form, visit_id: visits}
        for i, col in enumerate(columns):
            path = ("columns", i)
            over = col.get("over", form.id)
            if over not in counted:
                out.append(doc.problem(path + ("over",), f"over 只能是 {form.id}（数人）或 {visit_id}（数本季度的探访记录），"
                                                         f"不能是 “{over}” (over)", rule="over"))
                continue
            if counted[over] is None:
                continue                       # the missing visit form is reported once, above
            # Visit counts see the visit's fields, with the registration form's settings.
            target = counted[over]
            scope = Scope(self._top_ids(target) | REPORT_NAMES, set(), form.settings)
            out += self.checker.expression(doc, path + ("count",), col["count"], scope)
        keys = [c["key"] for c in columns]
        for j, item in enumerate(raw.get("identities") or []):
            path = ("identities", j) + (("check",) if isinstance(item, dict) else ())
            out += self._identity(doc, path, item["check"] if isinstance(item, dict) else item, keys)
        return out

    def _identity(self, doc: YamlDoc, path: tuple, expr: str, keys: list[str]) -> list[Problem]:
        """An identity is about the table's columns: every name in it must be a column key."""
        try:
            node = self.evaluator.parse(expr)
        except ExpressionError as exc:
            return [doc.problem(path, f"{exc} (expression)", rule="expression")]
        names = free_names(node)
        out = [doc.problem(path, f"勾稽关系里的 {n} 不是本表的栏（columns 里没有 key: {n}）{suggest(n, keys)} (identities)",
                           rule="identities")
               for n in names if n not in keys and n not in _CONSTANTS]
        # Functions and method calls are checked as in any expression; the names were handled above.
        out += [doc.problem(path, f"{m} (expression)", rule="expression")
                for m in self.evaluator.unknown_names(expr, set(keys) | set(names))]
        return out

    # --- schedule -----------------------------------------------------------------------------

    def schedule(self, doc: YamlDoc, raw: dict, form: Form) -> list[Problem]:
        visits, out = self._form(doc, "visit_form", "visit")
        if visits is None:
            return out
        field = {k: raw.get(k, d) for k, d in (
            ("person_field", "person"), ("date_field", "visit_date"), ("level_field", "visit_level"),
            ("risk_field", "risk_level"), ("status_field", "status"), ("start_field", "filing_date"))}
        for key in ("person_field", "date_field", "level_field"):
            out += self._named_field(doc, key, field[key], visits, raw)
        for key in ("risk_field", "status_field", "start_field"):
            out += self._named_field(doc, key, field[key], form, raw)
        person = visits.field(field["person_field"])
        if person is not None and (person.type != "record-ref" or person.options.get("form") != form.id):
            out.append(doc.problem(("person_field",) if "person_field" in raw else (),
                                   f"探访记录的字段 {person.id} 应是指向 {form.id} 的 record-ref（type: record-ref, "
                                   f"form: {form.id}）(person_field)", rule="person_field"))
        for key in ("date_field", "start_field"):
            f = (visits if key == "date_field" else form).field(field[key])
            if f is not None and f.type != "date":
                out.append(doc.problem((key,) if key in raw else (), f"{key} 应是日期字段，{f.id} 是 {f.type} ({key})", rule=key))
        if "active_status" in raw:
            out += self._in_choices(doc, ("active_status",), raw["active_status"], form, field["status_field"],
                                    "active_status")
        seen: dict[str, int] = {}
        for i, level in enumerate(raw.get("levels") or []):
            path = ("levels", i)
            if level["id"] in seen:
                out.append(doc.problem(path + ("id",), f"层级 id “{level['id']}” 重复 (duplicate id)", rule="duplicate-id"))
            seen.setdefault(level["id"], i)
            out += self._in_choices(doc, path + ("value",), level["value"], visits, field["level_field"], "value")
            cadence = [k for k in ("every", "default", "floor") if k in level]
            if level.get("per") and cadence:
                out.append(doc.problem(path + (cadence[0],), f"层级 {level['id']} 已写 per: {level['per']}，"
                                                             f"{'、'.join(cadence)} 不会生效，请只写一种 (per)", rule="per"))
            elif not level.get("per") and not cadence:
                out.append(doc.problem(path, f"层级 {level['id']} 要写 every（按风险等级的周期）、default，"
                                             f"或 per: quarter（每季度一次）(every)", rule="every"))
            for risk in level.get("every") or {}:
                out += self._in_choices(doc, path + ("every", risk), risk, form, field["risk_field"], "every", key=True)
        return out

    def _named_field(self, doc: YamlDoc, key: str, fid: str, form: Form, raw: dict) -> list[Problem]:
        """A `*_field` key, or its default when the file leaves it out, must name a field."""
        if fid in self._top_ids(form):
            return []
        if key in raw:
            return self._field(doc, (key,), fid, form, key)
        return [doc.problem((), f"没写 {key}，默认的字段 {fid} 在表单 {form.id} 中不存在，请写 {key}: 字段id ({key})",
                            rule=key)]
