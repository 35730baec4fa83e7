"""Finding plugins and asking them what they provide.

Three sources, in this order: the built-ins (by module name, through the same hooks a third
party uses), installed packages (entry-point group ``carebook``) and a local folder of ``*.py``
files (site code; ``<data>/plugins`` and ``CAREBOOK_PLUGINS_DIR``). Each plugin is loaded on its
own, so one broken plugin is reported by name and skipped instead of stopping the rest
(pluggy's own ``load_setuptools_entrypoints`` stops at the first failure).

Environment switches:
- ``CAREBOOK_PLUGINS_ALLOW`` — comma list; when set, only these (plus the built-ins) load;
- ``CAREBOOK_PLUGINS_BLOCK`` — comma list of plugin names never loaded (built-ins included);
- ``CAREBOOK_PLUGINS_TRACE=1`` — log every hook call to stderr (pluggy tracing).
"""
from __future__ import annotations

import importlib
import importlib.metadata as md
import importlib.util
import os
import sys
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pluggy

from core import hookspecs
from core.registry import Registry

BUILTIN_PLUGINS = (
    "plugins.basic_types",
    "plugins.cn_types",
    "plugins.functions",
    "plugins.export_tabular",
    "plugins.export_xlsx",
    "plugins.export_print",
)
ENTRY_POINT_GROUP = "carebook"


@dataclass
class PluginInfo:
    name: str
    source: str                  # 内置 / 已安装包 / 本地目录
    version: str = ""
    hooks: list[str] = field(default_factory=list)
    location: str = ""


@dataclass
class PluginSet:
    """The plugin manager plus what loading it said."""

    pm: pluggy.PluginManager
    infos: dict[str, PluginInfo] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def call_each(self, hook_name: str, **kwargs) -> list[tuple[str, Any]]:
        """Call every implementation of a hook separately; a raising plugin is reported, not fatal."""
        results = []
        hook = getattr(self.pm.hook, hook_name)
        for impl in reversed(hook.get_hookimpls()):  # registration order
            plugin = impl.plugin_name
            # Implementations are called directly, so pluggy's own tracing never sees them.
            self.pm.trace.root.get("hook")(hook_name, "→", plugin)
            try:
                argnames = impl.argnames
                res = impl.function(**{k: v for k, v in kwargs.items() if k in argnames})
            except Exception as exc:  # noqa: BLE001 - a plugin must not take the app down
                self.problems.append(f"插件 {plugin} 在 {hook_name} 中出错：{type(exc).__name__}: {exc}")
                continue
            results.append((plugin, res))
        return results


    def chain(self, hook_name: str, value_key: str, value: Any, **kwargs) -> Any:
        """Call implementations in order, each seeing the previous one's result (``before_save``).

        An implementation returning ``None`` leaves the value as it was.
        """
        for impl in reversed(getattr(self.pm.hook, hook_name).get_hookimpls()):
            args = {**kwargs, value_key: value}
            try:
                res = impl.function(**{k: v for k, v in args.items() if k in impl.argnames})
            except Exception as exc:  # noqa: BLE001
                self.problems.append(f"插件 {impl.plugin_name} 在 {hook_name} 中出错：{type(exc).__name__}: {exc}")
                continue
            if res is not None:
                value = res
        return value


def _env_list(name: str) -> set[str]:
    return {p.strip() for p in os.environ.get(name, "").split(",") if p.strip()}


def _hooks_of(pm: pluggy.PluginManager, plugin: object) -> list[str]:
    return sorted(c.name for c in pm.get_hookcallers(plugin) or [])


def load_plugins(local_dir: Path | None = None, extra: list[object] | None = None) -> PluginSet:
    """Build the plugin manager: built-ins, entry points, the local folder, then ``extra``."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    ps = PluginSet(pm)
    allow, block = _env_list("CAREBOOK_PLUGINS_ALLOW"), _env_list("CAREBOOK_PLUGINS_BLOCK")

    def add(name: str, obj: object, source: str, version: str = "", location: str = "") -> None:
        if name in block:
            ps.infos[name] = PluginInfo(name, source + "（已屏蔽）", version, [], location)
            return
        try:
            pm.register(obj, name=name)
        except Exception as exc:  # noqa: BLE001 - e.g. a hookimpl whose arguments do not fit
            ps.problems.append(f"插件 {name} 无法注册：{exc}")
            return
        ps.infos[name] = PluginInfo(name, source, version, _hooks_of(pm, obj), location)

    for modname in BUILTIN_PLUGINS:
        try:
            mod = importlib.import_module(modname)
        except Exception as exc:  # noqa: BLE001
            ps.problems.append(f"内置插件 {modname} 加载失败：{type(exc).__name__}: {exc}")
            continue
        add(modname, mod, "内置")

    for ep in md.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in block or (allow and ep.name not in allow):
            ps.infos[ep.name] = PluginInfo(ep.name, "已安装包（未启用）")
            continue
        try:
            obj = ep.load()
        except Exception as exc:  # noqa: BLE001
            ps.problems.append(f"插件 {ep.name} 加载失败，已跳过：{type(exc).__name__}: {exc}")
            continue
        dist = getattr(ep, "dist", None)
        add(ep.name, obj, "已安装包", dist.version if dist else "", ep.value)

    # Both folders: the engine always passes <data>/plugins, and the env folder must still count.
    env_dir = os.environ.get("CAREBOOK_PLUGINS_DIR")
    folders = [f for f in dict.fromkeys(Path(d).resolve() for d in (local_dir, env_dir) if d) if f.is_dir()]
    for folder in folders:
        for path in sorted(folder.glob("*.py")):
            name = path.stem
            if name.startswith("_") or (allow and name not in allow):
                continue
            if name in ps.infos:
                ps.problems.append(f"本地插件 {path} 与已加载的插件 {name} 同名，已跳过")
                continue
            if name in block:               # noted as blocked, never executed
                add(name, None, "本地目录", "", str(path))
                continue
            try:
                spec = importlib.util.spec_from_file_location(f"carebook_local_{name}", path)
                mod = importlib.util.module_from_spec(spec)
                sys.modules[spec.name] = mod
                spec.loader.exec_module(mod)
            except Exception as exc:  # noqa: BLE001
                ps.problems.append(f"本地插件 {path.name} 加载失败，已跳过：{type(exc).__name__}: {exc}")
                continue
            add(name, mod, "本地目录", "", str(path))

    for i, obj in enumerate(extra or []):
        add(getattr(obj, "__name__", f"extra{i}"), obj, "程序传入")

    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        ps.problems.append(f"插件实现了不存在的钩子（拼写错误？）：{exc}")

    if os.environ.get("CAREBOOK_PLUGINS_TRACE"):
        pm.trace.root.setwriter(sys.stderr.write)
        pm.enable_tracing()
    return ps


def build_registry(ps: PluginSet) -> Registry:
    """Ask every plugin for its field types, formats, functions, exporters and reports."""
    reg = Registry()

    def each(hook: str, adder):
        for impl in reversed(getattr(ps.pm.hook, hook).get_hookimpls()):
            plugin = impl.plugin_name
            ps.pm.trace.root.get("hook")(hook, "→", plugin)   # CAREBOOK_PLUGINS_TRACE
            try:
                impl.function(register=partial(adder, plugin=plugin))
            except Exception as exc:  # noqa: BLE001
                reg.problems.append(f"插件 {plugin} 在 {hook} 中出错：{type(exc).__name__}: {exc}")

    each("register_field_types", lambda ft, plugin: reg.add_field_type(ft, plugin))
    each("register_formats", lambda name, check, message, plugin: reg.add_format(name, check, message, plugin))
    each("register_functions", lambda name, fn, plugin: reg.add_function(name, fn, plugin))
    each("register_exporters", lambda exp, plugin: reg.add_exporter(exp, plugin))
    each("register_reports", lambda name, build, plugin: reg.add_report(name, build, plugin))
    reg.problems[:0] = ps.problems
    return reg
