"""End to end: installed with pip, the package is found through the ``carebook`` entry point.

These tests only mean something when the package is installed (``pip install -e``); run from a
bare checkout they are skipped rather than pretending.
"""
from __future__ import annotations

import importlib.metadata as md

import pytest

from core.plugins import build_registry, load_plugins

try:
    DIST = md.distribution("carebook-export-markdown")
except md.PackageNotFoundError:  # pragma: no cover - depends on the environment
    pytest.skip("carebook-export-markdown 未安装（pip install -e 后再测）", allow_module_level=True)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for var in ("CAREBOOK_PLUGINS_ALLOW", "CAREBOOK_PLUGINS_BLOCK", "CAREBOOK_PLUGINS_DIR",
                "CAREBOOK_PLUGINS_TRACE"):
        monkeypatch.delenv(var, raising=False)


def test_entry_point_is_declared():
    eps = [ep for ep in DIST.entry_points if ep.group == "carebook"]
    assert [(ep.name, ep.value) for ep in eps] == [("export_markdown", "carebook_export_markdown")]


def test_discovered_and_registered():
    ps = load_plugins()
    info = ps.infos["export_markdown"]
    assert info.source == "已安装包"
    assert info.version == DIST.version
    assert info.hooks == ["register_exporters"]
    reg = build_registry(ps)
    exporter = reg.exporters["markdown"]
    assert type(exporter).__module__ == "carebook_export_markdown.markdown"
    assert reg.provided_by["exporter:markdown"] == "export_markdown"
    assert not [p for p in reg.problems if "export_markdown" in p]


def test_blocked_by_name(monkeypatch):
    monkeypatch.setenv("CAREBOOK_PLUGINS_BLOCK", "export_markdown")
    reg = build_registry(load_plugins())
    assert "markdown" not in reg.exporters


def test_export_through_the_engine(tmp_path):
    """The real path staff take: the engine builds the roster and hands the job over."""
    engine_mod = pytest.importorskip("core.engine", exc_type=ImportError)
    pytest.importorskip("core.reporting.reports", exc_type=ImportError)    # the roster builder
    eng = engine_mod.Engine.open(tmp_path / "data")
    try:
        assert "markdown" in eng.registry.exporters
        paths = eng.export("roster", "markdown", tmp_path / "out")
    finally:
        eng.close()
    [path] = paths
    assert path.suffix == ".md"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# ") and ("| --- " in text or "| ---: " in text)
