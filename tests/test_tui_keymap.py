"""One keymap on every screen: a key means one thing wherever it is pressed.

Read from the real `BINDINGS` of every screen and widget class in `tui/` (imported, not parsed),
so a binding added anywhere without `tui.keymap.bind`, or a key that does one thing on one
screen and another elsewhere, fails here.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections import defaultdict
from pathlib import Path

from textual.binding import Binding
from textual.dom import DOMNode

import tui
from tui.keymap import BY_ID, KEYMAP, bind, staff_table

ROOT = Path(__file__).resolve().parents[1]


def tui_classes() -> list[type]:
    """Every class defined in a tui module that declares BINDINGS of its own."""
    found = []
    for info in pkgutil.walk_packages(tui.__path__, "tui."):
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and issubclass(cls, DOMNode) and "BINDINGS" in cls.__dict__:
                found.append(cls)
    return found


def keys_of(binding: Binding) -> list[str]:
    return [k.strip() for k in binding.key.split(",")]


def test_every_screen_binds_its_keys_from_the_keymap():
    classes = tui_classes()
    names = {c.__name__ for c in classes}
    # The walk through the screens below is only as good as the classes it finds.
    assert {"CarebookApp", "HomeScreen", "RosterScreen", "PersonScreen", "FormEntryScreen", "AdminScreen",
            "ImportScreen", "FollowupsScreen", "FollowupScreen", "QuickVisitScreen", "StartScreen",
            "HelpScreen", "RepeatTable", "PagedTable"} <= names, names
    wrong = []
    for cls in classes:
        for b in cls.__dict__["BINDINGS"]:
            where = f"{cls.__module__}.{cls.__name__}: {b!r}"
            if not isinstance(b, Binding) or b.id not in BY_ID:
                wrong.append(f"{where} is not made by tui.keymap.bind")
                continue
            entry = BY_ID[b.id]
            if not set(keys_of(b)) <= set(entry.key_list):
                wrong.append(f"{where} binds {b.key}, the keymap says {entry.keys}")
            if b.description not in entry.labels:
                wrong.append(f"{where} says {b.description!r}, the keymap says {entry.labels}")
    assert not wrong, "\n".join(wrong)


def test_a_key_means_one_thing_on_every_screen():
    meanings: dict[str, set[str]] = defaultdict(set)
    where: dict[str, list[str]] = defaultdict(list)
    for cls in tui_classes():
        for b in cls.__dict__["BINDINGS"]:
            for key in keys_of(b):
                meanings[key].add(b.id or b.action)
                where[key].append(f"{cls.__name__}: {b.description or b.action}")
    clashes = {k: where[k] for k, m in meanings.items() if len(m) > 1}
    assert not clashes, clashes
    # And the table itself gives every key one entry.
    owner: dict[str, str] = {}
    for entry in KEYMAP:
        for key in entry.key_list:
            assert key not in owner, f"{key} is both {owner[key]} and {entry.id}"
            owner[key] = entry.id


def test_the_check_can_fail():
    """What the tests above catch, on purpose: a key reused, a word the table does not have."""
    import pytest

    with pytest.raises(ValueError):
        bind("save", "run", "导入")          # Ctrl+S is 保存/确定/开始导出/开始导入, not a new word
    with pytest.raises(ValueError):
        bind("roster", "x", keys="f6")      # F6 is the roster's sort, not 花名册
    clash = Binding("f6", "run(True)", "检查")                   # what the importer had
    assert clash.id not in BY_ID


def test_the_staff_manual_prints_the_keymap():
    doc = (ROOT / "docs" / "staff-ui.md").read_text(encoding="utf-8")
    assert staff_table() in doc, "docs/staff-ui.md: paste tui.keymap.staff_table() under 按键一览"
    for entry in KEYMAP:
        assert all(ord(ch) < 128 for ch in entry.id)
        assert any("\u4e00" <= ch <= "\u9fff" for ch in entry.label + entry.meaning), entry
