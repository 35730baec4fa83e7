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
    functions: dict[str, Callable[..., Any]] = field(default_factory=dict)
    exporters: dict[str, Any] = field(default_factory=dict)
    reports: dict[str, Callable[..., Any]] = field(default_factory=dict)
    data: dict[str, Callable[[], Any]] = field(default_factory=dict)   # "divisions" -> reader
    provided_by: dict[str, str] = field(default_factory=dict)   # "field_type:phone" -> plugin
    problems: list[str] = field(default_factory=list)           # Chinese, naming the plugin
    notes: list[str] = field(default_factory=list)              # replacements: shown, not failures

    def _note(self, kind: str, name: str, plugin: str) -> bool:
        """True when `plugin` is the one that keeps `name`.

        Hooks are called in pluggy's order, the latest registration first, so the first plugin
        to give a name keeps it: a local-folder plugin overrides a package, a package overrides
        a built-in. The replacement is noted, never hidden.
        """
        key = f"{kind}:{name}"
        holder = self.provided_by.get(key)
        if holder is not None and holder != plugin:
            self.notes.append(f"插件 {holder} 替换了 {plugin} 提供的 {kind} “{name}”")
            return False
        self.provided_by[key] = plugin
        return True

    def add_field_type(self, ft: Any, plugin: str) -> None:
        name = getattr(ft, "name", None)
        widget = getattr(ft, "widget", None)
        if not isinstance(name, str) or widget not in WIDGETS:
            self.problems.append(f"插件 {plugin} 注册的字段类型无效：name={name!r} widget={widget!r}"
                                 f"（widget 应为 {'、'.join(sorted(WIDGETS))} 之一）")
            return
        if self._note("field_type", name, plugin):
            self.field_types[name] = ft

    def add_format(self, name: str, check: Callable[[Any], bool], message: str, plugin: str) -> None:
        if not isinstance(name, str) or not callable(check) or not isinstance(message, str):
            self.problems.append(f"插件 {plugin} 注册的格式无效：应为 register(名称, 检查函数, 中文提示)，"
                                 f"收到 name={name!r}")
            return
        if self._note("format", name, plugin):
            self.formats[name] = FormatEntry(name, check, message, plugin)

    def add_function(self, name: str, fn: Callable[..., Any], plugin: str) -> None:
        if not isinstance(name, str) or not callable(fn):
            self.problems.append(f"插件 {plugin} 注册的函数 {name!r} 无效（应为 register(名称, 可调用对象)）")
            return
        if self._note("function", name, plugin):
            self.functions[name] = fn

    def add_data(self, name: str, get: Callable[[], Any], plugin: str) -> None:
        if not isinstance(name, str) or not callable(get):
            self.problems.append(f"插件 {plugin} 注册的数据 {name!r} 无效（应为 register(名称, 读取函数)）")
            return
        if self._note("data", name, plugin):
            self.data[name] = get

    def add_exporter(self, exp: Any, plugin: str) -> None:
        name = getattr(exp, "name", None)
        if not isinstance(name, str) or not callable(getattr(exp, "export", None)):
            self.problems.append(f"插件 {plugin} 注册的导出器无效（需要 name 和 export(job)）：{exp!r}")
            return
        if self._note("exporter", name, plugin):
            self.exporters[name] = exp

    def add_report(self, name: str, build: Callable[..., Any], plugin: str) -> None:
        if not isinstance(name, str) or not callable(build):
            self.problems.append(f"插件 {plugin} 注册的报表 {name!r} 无效（应为 register(名称, 构建函数)）")
            return
        if self._note("report", name, plugin):
            self.reports[name] = build
