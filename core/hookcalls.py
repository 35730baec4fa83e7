"""The engine's calls into record hooks, failing closed.

A record must never be saved without every check that applies to it. So when a plugin's
``extend_form``, ``validate_record`` or ``before_save`` raises, answers with the wrong type, or
adds fields that do not check, the save stops with a Chinese message naming the action, the
plugin, the hook and how to block the plugin. ``after_save`` runs once the record is stored: its
errors are returned for the caller to show (the record stays saved).
"""
from __future__ import annotations

from typing import Any

from core.plugins import PluginFailed, PluginSet
from core.problems import Problem, ValidationFailed

PLUGIN_RULE = "plugin"


def as_problem(exc: PluginFailed) -> Problem:
    """A plugin failure as a blocking problem (rule ``plugin:<name>``, never acceptable)."""
    return Problem(str(exc), severity="error", rule=f"{PLUGIN_RULE}:{exc.plugin}")


def town_additions(plugins: PluginSet, forms: Any, form_id: str, town: str | None,
                   action: str = "打开表单") -> list[dict[str, Any]]:
    """Every plugin's `extend_form` answer for a form and town, each checked like an overlay
    file; raises `PluginFailed` for a raise, a non-dict answer or additions that do not check."""
    out = []
    for plugin, res in plugins.call("extend_form", action=action, form_id=form_id, town=town):
        if res is None:
            continue
        if not isinstance(res, dict):
            raise PluginFailed(plugin, "extend_form", f"应返回字典或 None，实际返回了 {type(res).__name__}", action)
        source = f"插件 {plugin} 的 extend_form({form_id}, {town})"
        bad = [p for p in forms.check_additions(form_id, res, source) if p.is_error]
        if bad:
            detail = "；".join(f"{p.path}: {p.message}" if p.path else p.message for p in bad)
            raise PluginFailed(plugin, "extend_form", f"增加的内容有误：{detail}", action)
        out.append(res)
    return out


def record_problems(plugins: PluginSet, form_id: str, data: dict[str, Any], record_id: str | None,
                    accepted: dict[str, str]) -> list[Problem]:
    """Problems from every `validate_record`; a broken plugin is itself a blocking problem."""
    try:
        results = plugins.call("validate_record", action="检查记录", form_id=form_id, data=data,
                               record_id=record_id)
    except PluginFailed as exc:
        return [as_problem(exc)]
    out: list[Problem] = []
    for plugin, res in results:
        items = [] if res is None else res
        if not isinstance(items, (list, tuple)) or not all(isinstance(p, Problem) for p in items):
            got = type(res).__name__ if not isinstance(items, (list, tuple)) else \
                "、".join(sorted({type(p).__name__ for p in items if not isinstance(p, Problem)}))
            out.append(as_problem(PluginFailed(plugin, "validate_record",
                                               f"应返回 Problem 列表或 None，实际返回了 {got}", "检查记录")))
            continue
        out.extend(p for p in items if p.is_error or p.rule not in accepted)
    return out


def before_save(plugins: PluginSet, form_id: str, data: dict[str, Any], record_id: str | None) -> dict[str, Any]:
    """`before_save` implementations in call order, each seeing the previous one's result;
    raises `ValidationFailed` (the record is not saved) naming a plugin that fails."""
    action = "保存记录"
    value = data
    try:
        for plugin, res in plugins.each("before_save", action=action, bind=lambda _: {"data": value},
                                        form_id=form_id, record_id=record_id):
            if res is None:
                continue
            if not isinstance(res, dict):
                raise PluginFailed(plugin, "before_save", f"应返回字典或 None，实际返回了 {type(res).__name__}",
                                   action)
            value = res
    except PluginFailed as exc:
        raise ValidationFailed([as_problem(exc)]) from exc
    return value


def after_save(plugins: PluginSet, form_id: str, record: dict[str, Any]) -> list[str]:
    """Run `after_save`; each failure as a message saying the record is saved but the plugin's
    follow-up did not happen (the remaining plugins still run)."""
    before = len(plugins.problems)
    plugins.call("after_save", action=f"记录 {record['id']} 已保存，但保存后的处理未完成", strict=False,
                 form_id=form_id, record=record)
    errors = plugins.problems[before:]
    del plugins.problems[before:]
    return errors


def check_extensions(plugins: PluginSet, forms: Any, towns: list[str]) -> list[str]:
    """What every plugin's `extend_form` adds, for every form and town, checked as a save would
    (``carebook forms check``): one message per broken answer."""
    out = []
    for form_id in sorted(forms.forms):
        for town in [None, *towns]:
            try:
                town_additions(plugins, forms, form_id, town, action="检查表单")
            except PluginFailed as exc:
                out.append(str(exc))
    return list(dict.fromkeys(out))
