"""What the meta-schema cannot see: cross-references inside a form file.

A file can be well-formed and still broken: a field type no plugin provides, a choice list that
does not exist, two fields with the same id, an expression naming a field that is not there.
These are found when the file loads — located at the offending value — so staff never meet them
while typing. The same walk checks overlay files against the form they extend.
"""
from __future__ import annotations

import difflib
import string
from dataclasses import dataclass, field
from typing import Any, Iterable

from core.formlang.calcdeps import cycle_problems
from core.formlang.expressions import ROW_NAMES, Evaluator, ExpressionError
from core.problems import Problem
from core.registry import Registry
from core.formlang.yamlload import YamlDoc

_FIELD_EXPRESSIONS = ("relevant", "calculate", "initial")


@dataclass
class Scope:
    """What a group of fields may refer to."""

    names: set[str]                          # field ids visible to expressions
    lists: set[str]                          # choice list names
    settings: dict[str, Any]
    seen: dict[str, str] = field(default_factory=dict)   # field id -> where it was first defined


class FormChecker:
    """Semantic checks of form and overlay files; each method returns located problems."""

    def __init__(self, registry: Registry, evaluator: Evaluator, shared_lists: Iterable[str] = ()):
        self.registry = registry
        self.evaluator = evaluator
        self.shared_lists = set(shared_lists)

    # --- expressions --------------------------------------------------------------------

    def expression(self, doc: YamlDoc, path: tuple, expr: Any, scope: Scope, row: bool = False) -> list[Problem]:
        if not isinstance(expr, str):
            return []
        known = scope.names | (ROW_NAMES if row else set())
        try:
            messages = self.evaluator.unknown_names(expr, known, scope.settings)
        except ExpressionError as exc:
            messages = [str(exc)]
        return [doc.problem(path, f"{m} (expression)", rule="expression") for m in messages]

    def _rules(self, doc: YamlDoc, rules: list, path: tuple, scope: Scope, row: bool,
               field_ids: set[str] | None = None) -> list[Problem]:
        out = []
        for i, rule in enumerate(rules or []):
            for key in ("check", "when"):
                out += self.expression(doc, path + (i, key), rule.get(key), scope, row)
            for j, fid in enumerate(rule.get("fields", [])):
                if field_ids is not None and fid not in field_ids:
                    out.append(doc.problem(path + (i, "fields", j), f"规则里写的字段 {fid} 不存在 (fields)",
                                           rule="fields"))
        return out

    # --- fields ---------------------------------------------------------------------------

    @staticmethod
    def collect_ids(fields: list, path: tuple) -> Iterable[tuple[str, tuple, list]]:
        """(id, path, children) for every field, repeat children included."""
        for i, f in enumerate(fields or []):
            yield f["id"], path + (i,), f.get("fields") or []
            yield from FormChecker.collect_ids(f.get("fields") or [], path + (i, "fields"))

    def duplicate_ids(self, doc: YamlDoc, fields_at: list[tuple[list, tuple]], scope: Scope) -> list[Problem]:
        out = []
        for fields, path in fields_at:
            for fid, fpath, _ in self.collect_ids(fields, path):
                if fid in scope.seen:
                    out.append(doc.problem(fpath + ("id",), f"字段 id “{fid}” 重复（{scope.seen[fid]}已用过）(duplicate id)",
                                           rule="duplicate-id"))
                else:
                    scope.seen[fid] = f"第 {doc.where(fpath + ('id',))[0]} 行"
        return out

    def fields(self, doc: YamlDoc, fields: list, path: tuple, scope: Scope, row: bool = False,
               local_lists: dict | None = None) -> list[Problem]:
        out: list[Problem] = []
        for i, f in enumerate(fields or []):
            fpath = path + (i,)
            out += self._field(doc, f, fpath, scope, row, local_lists or {})
            children = f.get("fields") or []
            if children:
                inner = Scope(scope.names | {c["id"] for c in children}, scope.lists, scope.settings, scope.seen)
                out += self.fields(doc, children, fpath + ("fields",), inner, True, local_lists)
        return out

    def _field(self, doc: YamlDoc, f: dict, path: tuple, scope: Scope, row: bool, local_lists: dict) -> list[Problem]:
        out: list[Problem] = []
        ft = self.registry.field_types.get(f["type"])
        if ft is None:
            known = "、".join(sorted(self.registry.field_types))
            out.append(doc.problem(path + ("type",), f"未知的字段类型 “{f['type']}”（可用：{known}）(type)", rule="type"))
        elif getattr(ft, "needs_choices", False) and "choices" not in f:
            out.append(doc.problem(path, f"{f['type']} 字段 {f['id']} 要写 choices：选项表名或选项列表 (choices)",
                                   rule="choices"))
        if isinstance(f.get("choices"), str) and f["choices"] not in scope.lists:
            out.append(doc.problem(path + ("choices",),
                                   f"找不到选项表 “{f['choices']}”：应在 lists/ 目录或本文件的 lists: 中定义 (choices)",
                                   rule="choices"))
        if f["type"] == "repeat" and not f.get("fields"):
            out.append(doc.problem(path, f"repeat 字段 {f['id']} 要写 fields：每行有哪些子字段 (fields)", rule="fields"))
        if f.get("fields") and f["type"] != "repeat":
            out.append(doc.problem(path + ("fields",), f"只有 repeat 字段可以有 fields，{f['id']} 是 {f['type']} (fields)",
                                   rule="fields"))
        for lo, hi in (("min", "max"), ("min_length", "max_length"), ("min_rows", "max_rows")):
            if f.get(lo) is not None and f.get(hi) is not None and f[lo] > f[hi]:
                out.append(doc.problem(path + (lo,), f"{lo} ({f[lo]}) 大于 {hi} ({f[hi]}) ({lo})", rule=lo))
        for key in _FIELD_EXPRESSIONS + ("required",):
            out += self.expression(doc, path + (key,), f.get(key), scope, row)
        if f.get("autonumber") is not None:
            out += self._autonumber(doc, path + ("autonumber",), f["autonumber"], scope, row)
        out += self._cases(doc, f, path, scope, row, local_lists)
        out += self._rules(doc, f.get("rules"), path + ("rules",), scope, row)
        return out

    @staticmethod
    def _autonumber(doc: YamlDoc, path: tuple, template: str, scope: Scope, row: bool) -> list[Problem]:
        """`"{village}-{seq:04d}"`: the meta-schema wants `{seq}` last; here the other parts must be the
        record's own fields, since the engine fills them from the record at save (rows have no number)."""
        if row:
            return [doc.problem(path, "重复组（repeat）里的字段不能自动编号 (autonumber)", rule="autonumber")]
        try:
            parts = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
        except ValueError as exc:
            return [doc.problem(path, f"编号模板写法不对（大括号不成对？）：{exc} (autonumber)", rule="autonumber")]
        return [doc.problem(path, f"编号模板里的 {{{name}}} 不是本表的字段{suggest(name, scope.names)} (autonumber)",
                            rule="autonumber")
                for name in dict.fromkeys(parts) if name != "seq" and name not in scope.names]

    def _cases(self, doc: YamlDoc, f: dict, path: tuple, scope: Scope, row: bool, local_lists: dict) -> list[Problem]:
        out = []
        cases = f.get("cases") or []
        values = self._choice_values(f, local_lists)
        for i, case in enumerate(cases):
            out += self.expression(doc, path + ("cases", i, "when"), case.get("when"), scope, row)
            if "when" not in case and i < len(cases) - 1:
                out.append(doc.problem(path + ("cases", i), "没有 when 的情形总会命中，它后面的情形永远用不到，应放在最后 (cases)",
                                       severity="warning", rule="cases"))
            if values is not None and str(case.get("value")) not in values:
                out.append(doc.problem(path + ("cases", i, "value"),
                                       f"“{case.get('value')}” 不在 {f['id']} 的选项中（{'、'.join(values)}）(cases)",
                                       rule="cases"))
        return out

    @staticmethod
    def _choice_values(f: dict, local_lists: dict) -> list[str] | None:
        """Values of inline or local choices (shared lists are checked after loading)."""
        items = f.get("choices")
        if isinstance(items, str):
            items = local_lists.get(items)
        if not isinstance(items, list):
            return None
        return [str(i.get("value")) if isinstance(i, dict) else str(i) for i in items]

    # --- whole files ---------------------------------------------------------------------------

    def form(self, doc: YamlDoc) -> list[Problem]:
        raw = doc.data
        local_lists = raw.get("lists") or {}
        sections = raw.get("sections") or []
        top_ids = {f["id"] for s in sections for f in s.get("fields", [])}
        scope = Scope(top_ids, self.shared_lists | set(local_lists), raw.get("settings") or {})
        out = self.duplicate_ids(doc, [(s.get("fields"), ("sections", i, "fields")) for i, s in enumerate(sections)], scope)
        seen_sections: dict[str, int] = {}
        for i, s in enumerate(sections):
            if s["id"] in seen_sections:
                out.append(doc.problem(("sections", i, "id"), f"分节 id “{s['id']}” 重复 (duplicate id)", rule="duplicate-id"))
            seen_sections.setdefault(s["id"], i)
            out += self.expression(doc, ("sections", i, "relevant"), s.get("relevant"), scope)
            out += self.fields(doc, s.get("fields"), ("sections", i, "fields"), scope, local_lists=local_lists)
        out += self._rules(doc, raw.get("rules"), ("rules",), scope, False, set(scope.seen))
        for key in ("partition", "title_field"):
            if raw.get(key) and raw[key] not in top_ids:
                out.append(doc.problem((key,), f"{key} 写的字段 {raw[key]} 不存在 ({key})", rule=key))
        for j, fid in enumerate(raw.get("list_fields") or []):
            if fid not in top_ids:
                out.append(doc.problem(("list_fields", j), f"list_fields 里的字段 {fid} 不存在 (list_fields)", rule="list_fields"))
        incomplete = raw.get("incomplete") or {}
        if incomplete and incomplete.get("field") not in top_ids:
            out.append(doc.problem(("incomplete", "field"), f"incomplete 写的字段 {incomplete.get('field')} 不存在 (incomplete)",
                                   rule="incomplete"))
        out += self.duplicate_rule_ids(doc, raw)
        out += self._rollup(doc, raw.get("rollup"), sections)
        out += cycle_problems(doc)
        return out

    @staticmethod
    def _rollup(doc: YamlDoc, spec: dict | None, sections: list) -> list[Problem]:
        """`rollup: {ref, key, date}` names the record-ref, the grouping field and the date field the
        engine keeps the latest date of; a wrong name would leave the due list silently empty."""
        if not spec:
            return []
        types = {f["id"]: f.get("type") for s in sections for f in s.get("fields", [])}
        want = {"ref": ("record-ref", "指向其他记录的 record-ref 字段"), "date": ("date", "日期字段"), "key": (None, "字段")}
        out = []
        for key, fid in spec.items():
            ftype, what = want.get(key, (None, "字段"))
            if fid not in types:
                out.append(doc.problem(("rollup", key), f"rollup 的 {key} 应是本表的{what}，没有字段 {fid}"
                                                        f"{suggest(fid, types)} (rollup)", rule="rollup"))
            elif ftype and types[fid] != ftype:
                out.append(doc.problem(("rollup", key), f"rollup 的 {key} 应是本表的{what}，{fid} 是 {types[fid]} (rollup)",
                                       rule="rollup"))
        return out

    def duplicate_rule_ids(self, doc: YamlDoc, raw: dict, taken: set[str] | None = None) -> list[Problem]:
        """Rule ids name accepted warnings in records, so they must be unique within a form."""
        seen = set(taken or ())
        out = []
        places = [(("rules",), raw.get("rules") or [])]
        for si, s in enumerate(raw.get("sections") or []):
            if isinstance(s, dict):
                for fid, fpath, _ in self.collect_ids(s.get("fields"), ("sections", si, "fields")):
                    f = _at(raw, fpath)
                    places.append((fpath + ("rules",), f.get("rules") or []))
        for path, rules in places:
            for i, r in enumerate(rules):
                if r["id"] in seen:
                    out.append(doc.problem(path + (i, "id"), f"规则 id “{r['id']}” 重复 (duplicate id)", rule="duplicate-id"))
                seen.add(r["id"])
        return out


def _at(raw: Any, path: tuple) -> Any:
    for p in path:
        raw = raw[p]
    return raw


def suggest(name: str, candidates: Iterable[str]) -> str:
    """"，是不是 X？" for the closest known name: most mistakes in form files are typos."""
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f"，是不是 {close[0]}？" if close else ""
