"""End to end: installed with pip, the package is found through the ``carebook`` entry point
and exports a real ledger built with ``carebook.testing``.

These tests only mean something when the package is installed (``pip install``); run from a
bare checkout they are skipped rather than pretending. They import nothing but ``carebook``.
"""
from __future__ import annotations

import importlib.metadata as md

import pytest

from carebook.testing import ProgressLog, make_ledger, run_export

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


def test_discovered_and_registered(tmp_path):
    with make_ledger(tmp_path, persons=0) as ledger:
        info = {i.name: i for i in ledger.plugins()}["export_markdown"]
        exporter = {e.name: e for e in ledger.exporters()}["markdown"]
        problems = ledger.plugin_problems()
    assert info.source == "已安装包"
    assert info.version == DIST.version
    assert info.hooks == ["register_exporters"]
    assert type(exporter).__module__ == "carebook_export_markdown.markdown"
    assert not [p for p in problems if "export_markdown" in p]


def test_blocked_by_name(tmp_path, monkeypatch):
    monkeypatch.setenv("CAREBOOK_PLUGINS_BLOCK", "export_markdown")
    with make_ledger(tmp_path, persons=0) as ledger:
        assert "markdown" not in {e.name for e in ledger.exporters()}


def test_roster_and_summary_exported_from_a_real_ledger(tmp_path):
    """The real path staff take: the engine builds the report and hands the job over."""
    progress = ProgressLog()
    with make_ledger(tmp_path, persons=20) as ledger:
        [roster] = run_export(ledger, "markdown", "roster", tmp_path / "out", progress=progress)
        [summary] = run_export(ledger, "markdown", "summary", tmp_path / "out")
    text = roster.read_text(encoding="utf-8")
    assert text.startswith("# ") and "| --- " in text
    assert "********" in text                       # ID numbers masked
    assert "| 合计 |" in summary.read_text(encoding="utf-8")     # the total row kept
