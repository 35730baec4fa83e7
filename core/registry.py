"""What plugins registered, collected once per engine.

The registry is filled by calling the `register_*` hooks with callbacks that check each object
as it arrives and note which plugin gave it, so an error can name the plugin and
`carebook plugins list` can say who provides what.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

# Widget hints a field type may name. The TUI knows how to draw each; plugins never carry
# Textual objects.
WIDGETS = frozenset(
    "text textarea integer decimal date checkbox select multiselect division repeat reference".split()
)


@dataclass
class FormatEntry:
    name: str
    check: Callable[[Any], bool]
    message: str
    plugin: str


@dataclass
class Registry:
    field_types: dict[str, Any] = field(default_factory=dict)
    formats: dict[str, FormatEntry] = field(default_factory=dict)
    functions: dict[str, Callable] = field(default_factory=dict)
    exporters: dict[str, Any] = field(default_factory=dict)
    reports: dict[str, Callable] = field(default_factory=dict)
    provided_by: dict[str, str] = field(default_factory=dict)   # "field_type:phone" -> plugin
    problems: list[str] = field(default_factory=list)           # Chinese, naming the plugin

    def _note(self, kind: str, name: str, plugin: str) -> bool:
        key = f"{kind}:{name}"
        if key in self.provided_by and self.provided_by[key] != plugin:
            # Later plugins may deliberately replace a built-in; say so instead of hiding it.
            self.problems.append(
                f"插件 {plugin} 替换了 {self.provided_by[key]} 提供的 {kind} “{name}”"
            )
        self.provided_by[key] = plugin
        return True

    def add_field_type(self, ft: Any, plugin: str) -> None:
        name = getattr(ft, "name", None)
        widget = getattr(ft, "widget", None)
        if not isinstance(name, str) or widget not in WIDGETS:
            self.problems.append(f"插件 {plugin} 注册的字段类型无效：name={name!r} widget={widget!r}")
            return
        self._note("field_type", name, plugin)
        self.field_types[name] = ft

    def add_format(self, name: str, check: Callable, message: str, plugin: str) -> None:
        self._note("format", name, plugin)
        self.formats[name] = FormatEntry(name, check, message, plugin)

    def add_function(self, name: str, fn: Callable, plugin: str) -> None:
        if not callable(fn):
            self.problems.append(f"插件 {plugin} 注册的函数 {name} 不可调用")
            return
        self._note("function", name, plugin)
        self.functions[name] = fn

    def add_exporter(self, exp: Any, plugin: str) -> None:
        name = getattr(exp, "name", None)
        if not isinstance(name, str) or not callable(getattr(exp, "export", None)):
            self.problems.append(f"插件 {plugin} 注册的导出器无效：{exp!r}")
            return
        self._note("exporter", name, plugin)
        self.exporters[name] = exp

    def add_report(self, name: str, build: Callable, plugin: str) -> None:
        self._note("report", name, plugin)
        self.reports[name] = build
