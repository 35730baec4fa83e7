"""Every hook is documented in docs/plugins.md under a heading with its exact signature.

Plugin authors read the guide, not ``core/hookspecs.py``; a hook added, renamed or given a new
argument without the guide following would send them the wrong way. The hooks are found by
pluggy's own marker on the functions, so nothing has to be listed twice.
"""
from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

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
