"""Every hook is documented in docs/plugins.md under a heading with its exact signature.

Plugin authors read the guide, not ``core/hookspecs.py``; a hook added, renamed or given a new
argument without the guide following would send them the wrong way. The hooks are found by
pluggy's own marker on the functions, so nothing has to be listed twice. The second half keeps
the guide to the public API: its examples import only ``carebook`` and run, every name it
mentions exists, every public name is documented, and the `Report` and export-job tables list
exactly the fields the code has.
"""
from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import re
import types as pytypes
from pathlib import Path

import pluggy
import pytest

import carebook
import carebook.testing
from core import hookspecs

DOC = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"
HEADING = re.compile(r"^### (\w+)\((.*)\)\s*$", re.MULTILINE)


def hook_signatures() -> dict[str, str]:
    """``{"extend_form": "extend_form(form_id, town)", ...}`` from the hookspec module."""
    marker = f"{hookspecs.PROJECT}_spec"
    return {
        name: f"{name}({', '.join(inspect.signature(fn).parameters)})"
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(fn, marker)
    }


def documented() -> dict[str, tuple[str, str]]:
    """Heading signature and the section text below it, per documented hook name."""
    text = DOC.read_text(encoding="utf-8")
    found = {}
    matches = list(HEADING.finditer(text))
    for m, nxt in zip(matches, matches[1:] + [None]):
        end = nxt.start() if nxt else len(text)
        section = text[m.end():end].split("\n## ", 1)[0]      # stop at the next chapter
        args = ", ".join(a.strip() for a in m.group(2).split(",") if a.strip())
        found[m.group(1)] = (f"{m.group(1)}({args})", section)
    return found


def test_hookspecs_are_found():
    assert {"register_exporters", "extend_form", "after_save"} <= set(hook_signatures())


@pytest.mark.parametrize("name", sorted(hook_signatures()))
def test_hook_has_heading_with_its_signature(name):
    expected = hook_signatures()[name]
    docs = documented()
    assert name in docs, f"docs/plugins.md 缺少钩子 {name} 的说明，请加标题：### {expected}"
    assert docs[name][0] == expected, f"docs/plugins.md 中 {name} 的签名与 core/hookspecs.py 不符"


@pytest.mark.parametrize("name", sorted(hook_signatures()))
def test_hook_section_has_an_example(name):
    section = documented().get(name, ("", ""))[1]
    assert "@hookimpl" in section and f"def {name}(" in section, f"{name} 的说明缺少示例"


def test_no_heading_for_a_hook_that_does_not_exist():
    stale = set(documented()) - set(hook_signatures())
    assert not stale, f"docs/plugins.md 说明了不存在的钩子：{sorted(stale)}"


# --- the guide cannot drift from the public API ---------------------------------------------

BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)
INTERNAL = ("core", "plugins", "tui", "textual")


def python_blocks() -> list[str]:
    return BLOCK.findall(DOC.read_text(encoding="utf-8"))


def imports_in(code: str) -> list[tuple[str, list[str]]]:
    """``[(module, [names])]`` of every import in a code block (``import x``: ``(x, [])``)."""
    out = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.ImportFrom) and node.level == 0:
            out.append((node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names]
    return out


def test_examples_import_only_the_public_api():
    internal = [(mod, names) for code in python_blocks() for mod, names in imports_in(code)
                if mod.split(".")[0] in INTERNAL]
    assert not internal, f"docs/plugins.md 的示例导入了内部模块（应只用 carebook）：{internal}"


def test_every_name_the_examples_import_from_carebook_exists():
    missing = [f"{mod}.{name}" for code in python_blocks() for mod, names in imports_in(code)
               if mod in ("carebook", "carebook.testing") for name in names
               if not hasattr(importlib.import_module(mod), name)]
    assert not missing, f"docs/plugins.md 导入了不存在的名字：{missing}"


def test_every_carebook_name_mentioned_in_the_text_exists():
    text = DOC.read_text(encoding="utf-8")
    missing = []
    for dotted in set(re.findall(r"`(carebook(?:\.testing)?\.[A-Za-z_]\w*)", text)):
        mod, _, name = dotted.rpartition(".")
        if not hasattr(importlib.import_module(mod), name):
            missing.append(dotted)
    assert not missing, f"docs/plugins.md 提到了不存在的名字：{sorted(missing)}"


def test_every_public_name_is_documented():
    text = DOC.read_text(encoding="utf-8")
    undocumented = [n for n in carebook.__all__ if f"`{n}`" not in text]
    undocumented += [n for n in carebook.testing.__all__ if f"`{n}`" not in text]
    assert not undocumented, f"docs/plugins.md 没有说明这些公开名字：{undocumented}"


@pytest.mark.parametrize("name", sorted(hook_signatures()))
def test_hook_examples_run_and_fit_the_hookspec(name):
    """Each example of a hook runs as a module and registers with pluggy (which refuses an
    implementation taking an argument the hook does not offer)."""
    section = documented()[name][1]
    [code] = [c for c in BLOCK.findall(section) if f"def {name}(" in c]
    module = pytypes.ModuleType(f"doc_example_{name}")
    exec(compile(code, f"docs/plugins.md:{name}", "exec"), module.__dict__)
    assert hasattr(getattr(module, name), f"{hookspecs.PROJECT}_impl")
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    pm.register(module, name="example")
    pm.check_pending()


def test_every_example_runs():
    """Every code block runs as a module (one with a relative import belongs to its package)."""
    for i, code in enumerate(python_blocks()):
        if "from ." not in code:
            exec(compile(code, f"docs/plugins.md block {i + 1}", "exec"), pytypes.ModuleType("doc_example").__dict__)


def documented_members(heading: str) -> set[str]:
    """The names in the first column of the table under a bold heading like ``**A `Report`**``."""
    text = DOC.read_text(encoding="utf-8")
    start = text.index(heading)
    table = text[start:].split("\n\n", 2)[1]
    return set(re.findall(r"^\| `(\w+)(?:\(.*?\))?` \|", table, re.MULTILINE))


def test_report_fields_are_documented_exactly():
    fields = {f.name for f in dataclasses.fields(carebook.Report)}
    assert documented_members("**A `Report`**") == fields


def test_column_fields_are_documented():
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("**A `Column`**"):].split("\n\n", 1)[0]
    assert {f.name for f in dataclasses.fields(carebook.Column)} <= set(re.findall(r"`(\w+)`", section))


def test_export_job_members_are_documented_exactly():
    documented_job = documented_members("**The job**")
    public = {f.name for f in dataclasses.fields(carebook.ExportJob)} - {"engine"}   # internal: use report()
    public |= {n for n in ("report", "records", "mask", "tick", "write_report")}
    assert documented_job == public
    for name in documented_job:
        assert hasattr(carebook.ExportJob, name) or name in {f.name for f in dataclasses.fields(carebook.ExportJob)}
