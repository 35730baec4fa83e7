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


ALLOWED = {"core.engine"}                      # the facade; `carebook` is the public API
ENTRY_POINT = {"tui/launch.py": {"core.cli"}}  # joins the command line and the UI


def core_imports(path: Path) -> list[tuple[int, str]]:
    """Every `core` module a file imports (`from core import x` counts as `core.x`)."""
    import ast

    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "core"]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "core":
            if node.module == "core":
                found += [(node.lineno, f"core.{a.name}") for a in node.names]
            else:
                found.append((node.lineno, node.module))
    return found


def test_tui_imports_only_the_facade_and_the_public_api():
    offenders = []
    for path in sorted((ROOT / "tui").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        allowed = ALLOWED | ENTRY_POINT.get(rel, set())
        offenders += [f"{rel}:{line}: import {name}" for line, name in core_imports(path) if name not in allowed]
    assert not offenders, ("tui/ 只能通过 core.engine（门面）和 carebook 使用引擎；请在 core.engine.UI_NAMES "
                           "或 Engine 上开一个口：\n" + "\n".join(offenders))


def test_the_check_sees_from_core_import_inside_a_function(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from core import paths\n    import core.transfer.demo\n", encoding="utf-8")
    assert core_imports(sample) == [(2, "core.paths"), (3, "core.transfer.demo")]


def test_a_failed_after_save_is_shown_after_the_form_saves(tmp_path, monkeypatch):
    """The record is saved; the clerk sees that a plugin's follow-up did not happen."""
    from tui_support import SIZE, drive, make_app, save_person, screen_names, screen_text, until

    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "notify.py").write_text(
        "from carebook import hookimpl\n\n@hookimpl\ndef after_save(form_id, record):\n"
        "    raise OSError('通知服务不可用')\n", encoding="utf-8")
    monkeypatch.setenv("CAREBOOK_PLUGINS_DIR", str(folder))

    @drive
    async def scenario():
        app = make_app(tmp_path / "data")
        person = save_person(app.engine)
        assert person.plugin_errors                       # the engine said so on the first save too
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            app.open_person(person.id)
            await until(pilot, lambda: screen_names(app)[-1] == "PersonScreen")
            await pilot.press("f2")
            await until(pilot, lambda: screen_names(app)[-1] == "FormEntryScreen")
            await pilot.press("ctrl+s")
            await until(pilot, lambda: screen_names(app)[-1] == "PersonScreen")
            shown = [n.message for n in app._notifications]    # toasts live outside the screen's strips
            assert shown[0].startswith("已保存")
            assert any("插件 notify 的 after_save" in m and "CAREBOOK_PLUGINS_BLOCK=notify" in m for m in shown)
            assert screen_text(app)                           # and the app is still on its feet
    scenario()
