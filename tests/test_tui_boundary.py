"""The terminal UI reaches the engine only through the facade and the public API.

`tui/` may import `core.engine` (the facade, which re-exports the errors the UI shows) and the
public `carebook` package — not `core.paths`, `core.transfer.*`, `core.problems` or any other
internal module, so the engine's insides can move without the UI following. `tui/launch.py`,
the entry point that joins the command line and the UI, may also import `core.cli`. Checked on
the source (imports inside functions count too), like the import hygiene of `core/`.
"""
from __future__ import annotations

from pathlib import Path

import importlib

from binhai_support import copy_forms
from core import engine as facade
from core.engine import Engine

ROOT = Path(__file__).resolve().parents[1]


def test_facade_doors_the_ui_uses(tmp_path):
    with Engine.open(tmp_path / "demo", copy_forms(tmp_path), operator="测试员") as eng:
        assert not eng.is_demo
        counts = eng.fill_demo(persons=5, village_days=30, town_quarters=1)
        assert counts["registration"] == 5 and eng.is_demo
        form = eng.form("registration")
        assert facade.pii_kind(form.field("id_number")) == "id"
    from core import paths

    assert Engine.demo_folder() == paths.demo_data_dir()


def test_every_name_the_facade_hands_the_ui_exists():
    for name, module in facade.UI_NAMES.items():
        assert getattr(facade, name) is getattr(importlib.import_module(module), name)
