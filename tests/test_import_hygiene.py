"""``core`` and every plugin stay free of the terminal UI.

Plugins and the engine must work from the CLI, from scripts and in CI without Textual, and a
plugin carrying a Textual widget would tie the form engine to one front end. So every module
under ``core/`` and ``plugins/`` (and the example plugins) is imported in a fresh interpreter,
one after the other, and any ``textual`` or ``tui`` module that appears is pinned on the
module whose import brought it in.
"""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = ("textual", "tui")

CHECK = r"""
import importlib, importlib.util, json, sys
forbidden = tuple(sys.argv[1].split(","))

def ui_modules():
    return {m for m in sys.modules if m.split(".")[0] in forbidden}

result = {}
for target in sys.argv[2:]:
    before = ui_modules()
    try:
        if target.endswith(".py"):          # a local-folder plugin file, loaded as carebook does
            spec = importlib.util.spec_from_file_location("hygiene_" + target.rsplit("/", 1)[-1][:-3], target)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        else:
            importlib.import_module(target)
        error = None
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
    result[target] = {"error": error, "ui": sorted(ui_modules() - before)}
print(json.dumps(result, ensure_ascii=False))
"""


def module_names(package: str) -> list[str]:
    """Every module of a package, found from the files so nothing registers itself away."""
    names = []
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if "__pycache__" in parts:
            continue
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def targets() -> list[str]:
    found = module_names("core") + module_names("plugins")
    found += [str(p) for p in sorted((ROOT / "examples").glob("*/*.py"))]   # local-folder plugins
    if importlib.util.find_spec("carebook_export_markdown"):   # installed example package
        found.append("carebook_export_markdown")
    return found


@pytest.fixture(scope="module")
def imported() -> dict:
    proc = subprocess.run([sys.executable, "-c", CHECK, ",".join(FORBIDDEN), *targets()], cwd=ROOT,
                          capture_output=True, text=True, encoding="utf-8", timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_every_module_was_found(imported):
    assert "core" in imported and "core.plugins" in imported and "plugins" in imported


def test_no_module_loads_the_terminal_ui(imported):
    offenders = {mod: r["ui"] for mod, r in imported.items() if r["ui"]}
    assert not offenders, f"这些模块引入了界面模块（core/plugins 不得导入 textual 或 tui）：{offenders}"


def test_every_module_imports(imported):
    broken = {mod: r["error"] for mod, r in imported.items() if r["error"]}
    assert not broken, f"这些模块无法导入，导入检查对它们无效：{broken}"


# --- core never imports a plugin ---------------------------------------------------------
# The engine reaches plugins only through pluggy (`core.plugins` imports the built-ins by name
# at load time); a direct import would tie core to one plugin and share its state between
# engines. Checked on the source, so an import inside a function is caught too.

def imports_of(path: Path) -> list[tuple[int, str]]:
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def offending_imports(package: str, forbidden: tuple[str, ...]) -> list[str]:
    out = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for line, name in imports_of(path):
            if name.split(".")[0] in forbidden:
                out.append(f"{path.relative_to(ROOT)}:{line}: import {name}")
    return out


def test_core_never_imports_a_plugin_module():
    offenders = offending_imports("core", ("plugins", "carebook", *FORBIDDEN))
    assert not offenders, "core/ 不得导入 plugins、carebook 或界面模块：\n" + "\n".join(offenders)


def test_the_check_catches_an_import_inside_a_function(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from plugins.cn.divisions import current\n", encoding="utf-8")
    assert imports_of(sample) == [(2, "plugins.cn.divisions")]


def test_importing_every_core_module_loads_no_plugin():
    probe = ("import importlib, sys\n"
             "for m in sys.argv[1:]: importlib.import_module(m)\n"
             "print(sorted(m for m in sys.modules if m.split('.')[0] == 'plugins'))")
    proc = subprocess.run([sys.executable, "-c", probe, *module_names("core")], cwd=ROOT,
                          capture_output=True, text=True, encoding="utf-8", timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
