"""Checking a form file against the form language's meta-schema, with Chinese, located messages.

jsonschema's own messages are English and point at JSON paths; admins need “第 12 行：未知的键
lable，是不是 label？”. Each error keyword is turned into a Chinese sentence here and placed at
the key (unknown or misspelt keys) or the value (wrong type, bad id) it is about. The document is
checked as YAML 1.1 would have read it, so a `no` or `010020` where a string is wanted is caught
with a hint to add quotes, although the safe loader kept the text.
"""
from __future__ import annotations

import copy
import difflib
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.problems import Problem
from core.registry import Registry
from core.formlang.yamlload import YamlDoc, cache_get, cache_put

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schemas" / "form.schema.json"

TYPE_NAMES = {"string": "文字", "integer": "整数", "number": "数字", "boolean": "true/false",
              "array": "列表", "object": "映射（键: 值）", "null": "空值"}


def type_name(value: Any) -> str:
    """The Chinese name of a loaded value's type, as shown in messages."""
    if value is None:
        return "空值"
    if isinstance(value, bool):
        return "布尔值 " + ("true" if value else "false")
    if isinstance(value, (int, float)):
        return f"数字 {value}"
    if isinstance(value, str):
        return f"文字 “{value}”"
    return "列表" if isinstance(value, list) else "映射"


@lru_cache(maxsize=1)
def _base_schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def meta_schema(registry: Registry | None = None) -> dict:
    """The meta-schema, with the extra keys plugin field types accept (``options``) allowed on fields."""
    schema = copy.deepcopy(_base_schema())
    props = schema["$defs"]["field"]["properties"]
    for ft in (registry.field_types.values() if registry else ()):
        for key, sub in (getattr(ft, "options", None) or {}).items():
            props.setdefault(key, sub)
    return schema


def meta_validator(registry: Registry | None = None) -> "Draft202012Validator":
    from jsonschema import Draft202012Validator   # ~110 ms to import: only when a check runs

    return Draft202012Validator(meta_schema(registry))


class MetaCheck:
    """`check_meta` for one registry, remembered by the checked text and the meta-schema.

    Checking the shipped forms against the meta-schema (and importing jsonschema to do it)
    was ~0.2 s of every start; the answer only changes when a file or the schema does.
    """

    def __init__(self, registry: Registry | None = None):
        self.registry = registry
        self._validator = None
        schema_text = json.dumps(meta_schema(registry), sort_keys=True, ensure_ascii=False)
        import hashlib

        self._schema_key = hashlib.sha256(schema_text.encode("utf-8")).hexdigest()[:16]

    @property
    def validator(self) -> "Draft202012Validator":
        if self._validator is None:
            self._validator = meta_validator(self.registry)
        return self._validator

    def __call__(self, doc: YamlDoc) -> list[Problem]:
        if not doc.digest:
            return check_meta(doc, self.validator)
        name = f"meta-{doc.digest[:32]}-{self._schema_key}"
        problems = cache_get(name)
        if isinstance(problems, list):
            return problems
        problems = check_meta(doc, self.validator)
        cache_put(name, problems)
        return problems


def _allowed_keys(schema: dict) -> list[str]:
    return sorted(schema.get("properties", {}))


def _translate(err, doc: YamlDoc, root: Any) -> Problem:
    path = tuple(err.absolute_path)
    kw, want, inst = err.validator, err.validator_value, err.instance
    at_key = False
    node = _get(root, path)
    if isinstance(node, dict) and isinstance(inst, str) and inst in node and kw != "required":
        path, at_key = path + (inst,), True       # propertyNames: the key itself is wrong
    desc = err.schema.get("description", "") if isinstance(err.schema, dict) else ""
    if kw == "additionalProperties":
        extra = [k for k in inst if k not in err.schema.get("properties", {})]
        key = extra[0] if extra else ""
        close = difflib.get_close_matches(key, _allowed_keys(err.schema), n=1, cutoff=0.6)
        guess = f"，是不是 {close[0]}？" if close else f"（可用的键：{'、'.join(_allowed_keys(err.schema))}）"
        return doc.problem(path + (key,), f"未知的键 “{key}”{guess} (additionalProperties)", key=True,
                           rule=kw)
    if kw == "required":
        # jsonschema reports each missing key as its own error, naming it in the English message.
        named = re.match(r"^'(.+)' is a required property", err.message)
        key = named[1] if named else next((k for k in want if k not in inst), "?")
        sub = err.schema.get("properties", {}).get(key, {})
        explain = {"version": "版本号，正整数；字段有变化时加 1"}.get(key) or sub.get("description", "")
        explain = f"（{explain}）" if explain else ""
        return doc.problem(path, f"缺少 {key}{explain} (required)", rule=kw)
    if kw == "type":
        wants = want if isinstance(want, list) else [want]
        msg = f"应为{'或'.join(TYPE_NAMES.get(w, w) for w in wants)}，实际是{type_name(inst)}"
        if path in doc.coerced:
            msg += "；" + doc.coerced[path].hint()
        elif "string" in wants and path in doc.plain:
            msg += "；如果这是文字，请加引号"
        return doc.problem(path, f"{msg} (type)", rule=kw)
    if kw in ("enum", "const"):
        options = want if kw == "enum" else [want]
        return doc.problem(path, f"只能是 {'、'.join(map(str, options))} 之一，实际是{type_name(inst)} ({kw})",
                           key=at_key, rule=kw)
    if kw == "pattern":
        why = f"：{desc}" if desc else f"（应匹配 {want}）"
        return doc.problem(path, f"“{inst}” 写法不对{why} (pattern)", key=at_key, rule=kw)
    templates = {
        "minimum": "不能小于 {want}", "maximum": "不能大于 {want}",
        "minItems": "至少要有 {want} 项", "maxItems": "最多 {want} 项",
        "minProperties": "至少要写 {want} 个键",
        "minLength": "不能为空" if want == 1 else "至少 {want} 个字", "maxLength": "最多 {want} 个字",
        "uniqueItems": "有重复的项",
    }
    text = templates.get(kw, "不符合表单语言的要求").format(want=want)
    return doc.problem(path, f"{text} ({kw})", key=at_key, rule=kw)


def _get(root: Any, path: tuple) -> Any:
    node = root
    for p in path:
        try:
            node = node[p]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def check_meta(doc: YamlDoc, validator: "Draft202012Validator") -> list[Problem]:
    """Meta-schema problems of a loaded document, plus warnings for YAML 1.1 look-alikes kept as text."""
    view = doc.yaml11_view()
    problems = []
    failed: set[tuple] = set()
    for err in validator.iter_errors(view):
        problems.append(_translate(err, doc, view))
        failed.add(tuple(err.absolute_path))
    for path, c in doc.coerced.items():
        if path not in failed and not any(path[:len(f)] == f and f for f in failed):
            problems.append(doc.problem(
                path, f"这里按文字 “{c.text}” 处理；{c.hint()}，如要{c.kind}请写 "
                      f"{'true/false' if c.kind == '布尔值' else '不带前导零的数字'} (yaml-1.1)",
                severity="warning", rule="yaml-1.1"))
    return sorted(problems, key=lambda p: (p.line or 0, p.col or 0))
