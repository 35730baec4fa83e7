"""Finding plugins and asking them what they provide.

Three sources, registered in this order: the built-ins (by module name, through the same hooks
a third party uses), installed packages (entry-point group ``carebook``) and the configured
local plugins folder (``CAREBOOK_PLUGINS_DIR`` or the ``plugins_dir`` the engine is given —
never the ledger's data folder: a file dropped there would run on every command). Each plugin is
loaded on its own, so one broken plugin is reported by name and skipped instead of stopping the
rest (pluggy's own ``load_setuptools_entrypoints`` stops at the first failure).

Every hook is called through one helper, `PluginSet.call`, in pluggy's own order: ``tryfirst``
implementations first, then the latest registration first (local folder, then packages, then
built-ins), ``trylast`` last. Where several plugins give the same name (an exporter, a field
type) the first one called keeps it — so a later registration overrides an earlier one.

Environment switches:
- ``CAREBOOK_PLUGINS_ALLOW`` — comma list; when set, only these (plus the built-ins) load;
- ``CAREBOOK_PLUGINS_BLOCK`` — comma list of plugin names never loaded (built-ins included);
- ``CAREBOOK_PLUGINS_TRACE=1`` — log every hook call to stderr (pluggy tracing);
- ``CAREBOOK_PLUGINS_DIR`` — the local plugins folder;
- ``CAREBOOK_PLUGINS_TIMEOUT`` — seconds a record hook may take before the save stops (10).
"""
from __future__ import annotations

import difflib
import importlib
import importlib.metadata as md
import importlib.util
import os
import sys
import threading
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterator

import pluggy

from core import hookspecs
from core.problems import CarebookError
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
BLOCK_ENV = "CAREBOOK_PLUGINS_BLOCK"
TIMEOUT_ENV = "CAREBOOK_PLUGINS_TIMEOUT"
DEFAULT_TIMEOUT = 10.0          # seconds; a check that hangs must not hang the save with it
DIR_ENV = "CAREBOOK_PLUGINS_DIR"


@dataclass
class PluginInfo:
    name: str
    source: str                  # 内置 / 已安装包 / 本地目录
    version: str = ""
    hooks: list[str] = field(default_factory=list)
    location: str = ""


@dataclass
class FormsHost:
    """What the ``register_*`` hooks get as ``engine`` when no ledger is open
    (``carebook forms check``): the forms folder being checked."""

    forms_dir: Path
    data_dir: Path | None = None


def how_to_block(plugin: str) -> str:
    """The one sentence every plugin error ends with: how staff switch the plugin off."""
    return f"如需先停用该插件，请设置环境变量 {BLOCK_ENV}={plugin} 后重新启动"


class PluginFailed(CarebookError):
    """A plugin's hook raised or answered nonsense where carebook cannot go on without it.

    The message names the action, the plugin, the hook and how to block the plugin; checks
    never pass silently because a plugin broke (fail closed).
    """

    def __init__(self, plugin: str, hook: str, detail: str, action: str = ""):
        self.plugin, self.hook, self.detail, self.action = plugin, hook, detail, action
        lead = f"{action}：" if action else ""
        super().__init__(f"{lead}插件 {plugin} 的 {hook} 出错：{detail}。{how_to_block(plugin)}")

    def __reduce__(self) -> tuple[type, tuple[str, str, str, str]]:
        # rebuilt from its parts, not its message: it crosses to another process (a forked
        # bulk checker, `core.transfer.bulkfork`) and must arrive as itself, Chinese message and all
        return type(self), (self.plugin, self.hook, self.detail, self.action)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class HookTimeout(Exception):
    """A strict hook did not finish in time (its thread is left to end on its own)."""

    def __str__(self) -> str:
        return f"超过 {self.args[0]:g} 秒没有完成（{TIMEOUT_ENV} 可调整）"


def hook_timeout() -> float:
    try:
        return max(float(os.environ.get(TIMEOUT_ENV, DEFAULT_TIMEOUT)), 0.01)
    except ValueError:
        return DEFAULT_TIMEOUT


def _within(timeout: float, fn: Callable[..., Any], args: dict[str, Any]) -> Any:
    """``fn(**args)`` in a helper thread, given up after ``timeout`` seconds: Python cannot
    stop a running function, but the save need not wait for it."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn(**args)
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=run, name="carebook-hook", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise HookTimeout(timeout)
    if "error" in box:
        raise box["error"]
    return box["value"]


@dataclass
class PluginSet:
    """The plugin manager plus what loading it said."""

    pm: pluggy.PluginManager
    infos: dict[str, PluginInfo] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def impls(self, hook_name: str) -> list[Any]:
        """The implementations of a hook in the order pluggy itself calls them.

        pluggy's ``_multicall`` walks ``reversed(get_hookimpls())``: tryfirst ones, then the
        latest registration first, trylast ones at the end (``tests/test_plugin_order.py``
        checks this against a real ``pm.hook`` call). Wrappers are pluggy's business and are
        not called here.
        """
        hook = getattr(self.pm.hook, hook_name)
        return [i for i in reversed(hook.get_hookimpls()) if not (i.hookwrapper or i.wrapper)]

    def each(self, hook_name: str, *, action: str = "", strict: bool = True,
             bind: Callable[[str], dict[str, Any]] | None = None, **kwargs: Any) -> Iterator[tuple[str, Any]]:
        """Call each implementation of a hook, in pluggy's order, yielding ``(plugin, result)``.

        Each implementation is called on its own so an error names its plugin. ``strict``
        (checks, saves): an error, or taking longer than ``CAREBOOK_PLUGINS_TIMEOUT`` seconds,
        raises `PluginFailed` — a record is never saved without a check that broke. Not strict (registering things at start-up): the error is noted in
        ``problems`` with the action and the plugin, and the others still run. ``bind(plugin)``
        adds arguments made for each call (a ``register`` that knows who calls; the value a
        ``before_save`` chain has reached): it runs just before that implementation.
        """
        trace = self.pm.trace.root.get("hook")
        timeout = hook_timeout() if strict else None
        for impl in self.impls(hook_name):
            plugin = impl.plugin_name
            trace(hook_name, "→", plugin)          # CAREBOOK_PLUGINS_TRACE
            args = {**kwargs, **bind(plugin)} if bind else kwargs
            args = {k: v for k, v in args.items() if k in impl.argnames}
            try:
                res = impl.function(**args) if timeout is None else _within(timeout, impl.function, args)
            except Exception as exc:  # noqa: BLE001 - named and reported, never a bare traceback
                if strict:
                    raise PluginFailed(plugin, hook_name, _describe(exc), action) from exc
                lead = f"{action}：" if action else ""
                self.problems.append(f"{lead}插件 {plugin} 的 {hook_name} 出错，已跳过它的结果："
                                     f"{_describe(exc)}。{how_to_block(plugin)}")
                continue
            yield plugin, res

    def call(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """`each`, collected: ``[(plugin name, result)]`` in call order."""
        return list(self.each(hook_name, **kwargs))

    def call_each(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """`call` without stopping at an error (kept for callers that only report)."""
        return self.call(hook_name, strict=False, **kwargs)


def _env_list(name: str) -> set[str]:
    return {p.strip() for p in os.environ.get(name, "").split(",") if p.strip()}


def _hooks_of(pm: pluggy.PluginManager, plugin: object) -> list[str]:
    return sorted(c.name for c in pm.get_hookcallers(plugin) or [])


def unknown_hooks(pm: pluggy.PluginManager) -> list[str]:
    """Every implementation whose name is not a hook, each reported (pluggy's
    ``check_pending`` stops at the first one)."""
    known = [n for n, c in vars(pm.hook).items() if isinstance(c, pluggy.HookCaller) and c.has_spec()]
    out = []
    for name, caller in sorted(vars(pm.hook).items()):
        if not isinstance(caller, pluggy.HookCaller) or caller.has_spec():
            continue
        for impl in caller.get_hookimpls():
            if impl.optionalhook:
                continue
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"，是不是 {close[0]}？" if close else ""
            out.append(f"插件 {impl.plugin_name} 实现了不存在的钩子 {name}（拼写错误？{hint}）"
                       f"这个函数不会被调用")
    return out


def load_plugins(local_dir: Path | None = None, extra: list[object] | None = None) -> PluginSet:
    """Build the plugin manager: built-ins, entry points, the local folder, then ``extra``.

    ``local_dir`` is the configured plugins folder; without it, ``CAREBOOK_PLUGINS_DIR``.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    ps = PluginSet(pm)
    allow, block = _env_list("CAREBOOK_PLUGINS_ALLOW"), _env_list(BLOCK_ENV)

    def add(name: str, obj: object, source: str, version: str = "", location: str = "") -> None:
        if name in block:
            ps.infos[name] = PluginInfo(name, source + "（已屏蔽）", version, [], location)
            return
        try:
            pm.register(obj, name=name)
        except Exception as exc:  # noqa: BLE001 - e.g. a hookimpl whose arguments do not fit
            ps.problems.append(f"插件 {name} 无法注册：{exc}。{how_to_block(name)}")
            return
        ps.infos[name] = PluginInfo(name, source, version, _hooks_of(pm, obj), location)

    for modname in BUILTIN_PLUGINS:
        try:
            mod = importlib.import_module(modname)
        except Exception as exc:  # noqa: BLE001
            ps.problems.append(f"内置插件 {modname} 加载失败：{_describe(exc)}")
            continue
        add(modname, mod, "内置")

    for ep in md.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in block or (allow and ep.name not in allow):
            ps.infos[ep.name] = PluginInfo(ep.name, "已安装包（未启用）")
            continue
        try:
            obj = ep.load()
        except Exception as exc:  # noqa: BLE001
            ps.problems.append(f"插件 {ep.name} 加载失败，已跳过：{_describe(exc)}。{how_to_block(ep.name)}")
            continue
        dist = getattr(ep, "dist", None)
        add(ep.name, obj, "已安装包", dist.version if dist else "", ep.value)

    folder = local_dir or os.environ.get(DIR_ENV)
    if folder and Path(folder).is_dir():
        _load_folder(Path(folder).resolve(), ps, add, allow, block)

    for i, obj in enumerate(extra or []):
        add(getattr(obj, "__name__", f"extra{i}"), obj, "程序传入")

    ps.problems.extend(unknown_hooks(pm))
    if os.environ.get("CAREBOOK_PLUGINS_TRACE"):
        pm.trace.root.setwriter(sys.stderr.write)
        pm.enable_tracing()
    return ps


def _load_folder(folder: Path, ps: PluginSet, add: Callable[..., None], allow: set[str], block: set[str]) -> None:
    """Every ``*.py`` of the local plugins folder, each imported on its own."""
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
            assert spec is not None and spec.loader is not None
            mod = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = mod
            spec.loader.exec_module(mod)
        except Exception as exc:  # noqa: BLE001
            ps.problems.append(f"本地插件 {path.name} 加载失败，已跳过：{_describe(exc)}。{how_to_block(name)}")
            continue
        add(name, mod, "本地目录", "", str(path))


REGISTRIES: tuple[tuple[str, Callable[[Registry], Callable[..., None]]], ...] = (
    ("register_field_types", lambda reg: reg.add_field_type),
    ("register_formats", lambda reg: reg.add_format),
    ("register_functions", lambda reg: reg.add_function),
    ("register_data", lambda reg: reg.add_data),
    ("register_exporters", lambda reg: reg.add_exporter),
    ("register_reports", lambda reg: reg.add_report),
)


def build_registry(ps: PluginSet, engine: Any = None) -> Registry:
    """Ask every plugin for its field types, formats, functions, data, exporters and reports.

    ``engine`` is handed to the hooks that take it, so what a plugin registers can read that
    engine's own files (its division list) and nothing is shared between two engines.
    Implementations are called in pluggy's order and the registry keeps the first of each
    name: the later-registered plugin wins.
    """
    reg = Registry()
    for hook, adder in REGISTRIES:
        def bind(plugin: str, hook: str = hook, add: Callable[..., None] = adder(reg)) -> dict[str, Any]:
            return {"register": partial(_registering, add, plugin, hook)}    # knows who registers
        for plugin, res in ps.call(hook, action="加载插件时", strict=False, bind=bind, engine=engine):
            if res is not None:
                reg.problems.append(f"插件 {plugin} 的 {hook} 应通过 register(...) 登记，不要返回值"
                                    f"（返回了 {type(res).__name__}，已忽略）")
    reg.problems[:0] = ps.problems
    ps.problems.clear()
    return reg


def _registering(add: Callable[..., None], plugin: str, hook: str, *args: Any) -> None:
    try:
        add(*args, plugin=plugin)
    except TypeError as exc:
        raise TypeError(f"{hook} 的 register 参数不对：{exc}") from None
