"""Which plugin wins: pluggy's own call order, and the documented override rule.

Hooks are called in pluggy's order (tryfirst, then the latest registration first, then
trylast); for a name several plugins give, the first called keeps it. Registration order is
built-ins, installed packages, the local plugins folder — so local folder > package > built-in.
Every case runs real plugin files through ``load_plugins()`` in a fresh interpreter
(``test_plugin_discovery.probe``).
"""
from __future__ import annotations

import textwrap

import pluggy
import pytest

from core import hookspecs
from core.plugins import PluginSet
from test_plugin_discovery import install, plugin_source, probe


def exporter_plugin(name: str, label: str, tryfirst: bool = False) -> str:
    marker = "@hookimpl(tryfirst=True)" if tryfirst else "@hookimpl"
    return textwrap.dedent(f"""
        from carebook import hookimpl

        class E:
            name = {name!r}
            label = {label!r}
            extension = ".txt"
            supports = {{"roster"}}

            def export(self, job):
                return []

        {marker}
        def register_exporters(register):
            register(E())
        """)


@pytest.fixture
def folders(tmp_path):
    local, site = tmp_path / "local", tmp_path / "site"
    local.mkdir()
    site.mkdir()
    return local, site


def test_package_replaces_a_builtin_exporter(folders):
    _, site = folders
    install(site, "pkg_csv", "cb_pkg_csv", exporter_plugin("csv", "包"))
    report, _ = probe(pythonpath=site)
    assert report["provided_by"]["exporter:csv"] == "pkg_csv"
    assert any("pkg_csv 替换了 plugins.export_tabular" in n for n in report["notes"])
    assert not report["problems"]        # a replacement is a note, not a failure


def test_local_file_replaces_a_builtin_exporter(folders):
    local, _ = folders
    (local / "my_csv.py").write_text(exporter_plugin("csv", "本地"), encoding="utf-8")
    report, _ = probe({"CAREBOOK_PLUGINS_DIR": str(local)})
    assert report["provided_by"]["exporter:csv"] == "my_csv"


def test_local_file_replaces_a_package(folders):
    local, site = folders
    install(site, "pkg_dup", "cb_pkg_dup", exporter_plugin("dup", "包"))
    (local / "local_dup.py").write_text(exporter_plugin("dup", "本地"), encoding="utf-8")
    report, _ = probe({"CAREBOOK_PLUGINS_DIR": str(local)}, pythonpath=site)
    assert report["provided_by"]["exporter:dup"] == "local_dup"
    assert any("local_dup 替换了 pkg_dup" in n for n in report["notes"])


def test_package_alone_keeps_its_name_and_builtins_keep_theirs(folders):
    _, site = folders
    install(site, "pkg_only", "cb_pkg_only", exporter_plugin("only", "包"))
    report, _ = probe(pythonpath=site)
    assert report["provided_by"]["exporter:only"] == "pkg_only"
    assert report["provided_by"]["exporter:csv"] == "plugins.export_tabular"
    assert report["provided_by"]["field_type:phone"] == "plugins.cn_types"


def test_tryfirst_on_an_earlier_plugin_wins_over_a_later_one(folders):
    """pluggy's own options still count: tryfirst moves a package ahead of a local file."""
    local, site = folders
    install(site, "pkg_first", "cb_pkg_first", exporter_plugin("dup", "包", tryfirst=True))
    (local / "local_dup.py").write_text(exporter_plugin("dup", "本地"), encoding="utf-8")
    report, _ = probe({"CAREBOOK_PLUGINS_DIR": str(local)}, pythonpath=site)
    assert report["provided_by"]["exporter:dup"] == "pkg_first"


def test_local_field_type_replaces_the_builtin_type(folders):
    local, _ = folders
    (local / "my_phone.py").write_text(textwrap.dedent("""
        from carebook import hookimpl

        class Phone:
            name = "phone"
            widget = "text"
            def json_schema(self, field):
                return {"type": "string"}
            def normalize(self, value, field):
                return value

        @hookimpl
        def register_field_types(register):
            register(Phone())
        """), encoding="utf-8")
    report, _ = probe({"CAREBOOK_PLUGINS_DIR": str(local)})
    assert report["provided_by"]["field_type:phone"] == "my_phone"


def test_every_misspelled_hook_is_reported(folders):
    local, _ = folders
    (local / "typo1.py").write_text(plugin_source("t1", hook="register_exporter"), encoding="utf-8")
    (local / "typo2.py").write_text(plugin_source("t2", hook="validate_records"), encoding="utf-8")
    report, _ = probe({"CAREBOOK_PLUGINS_DIR": str(local)})
    typos = [p for p in report["problems"] if "不存在的钩子" in p]
    assert len(typos) == 2
    assert any("typo1" in p and "register_exporter" in p and "register_exporters" in p for p in typos)
    assert any("typo2" in p and "validate_records" in p and "validate_record？" in p for p in typos)


# --- the helper's order is pluggy's ------------------------------------------------------


class Named:
    def __init__(self, name: str, **opts):
        self.name = name

        @hookspecs.hookimpl(**opts)
        def validate_record(form_id, data, record_id):
            return self.name

        self.validate_record = validate_record


def test_helper_calls_in_the_order_pluggy_calls():
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for name, opts in [("builtin", {}), ("last", {"trylast": True}), ("package", {}),
                       ("first", {"tryfirst": True}), ("local", {})]:
        pm.register(Named(name, **opts), name=name)
    pluggy_order = pm.hook.validate_record(form_id="f", data={}, record_id=None)
    ours = [res for _, res in PluginSet(pm).call("validate_record", form_id="f", data={}, record_id=None)]
    assert ours == pluggy_order == ["first", "local", "package", "builtin", "last"]
