"""The public `carebook` package: every exported name exists, carebook's own objects satisfy
the Protocols it publishes, and `carebook.testing` builds a real ledger and runs an export."""
from __future__ import annotations

from pathlib import Path

import pytest

import carebook
from carebook import types
from carebook.testing import ProgressLog, make_ledger, run_export, sample_report, shipped_forms
from carebook.testing import carebook_ledger, carebook_progress  # noqa: F401 - the fixtures


def test_every_exported_name_exists():
    missing = [n for n in carebook.__all__ if not hasattr(carebook, n)]
    assert not missing


def test_hookimpl_is_the_one_the_engine_reads():
    from core import hookspecs

    assert carebook.hookimpl is hookspecs.hookimpl and carebook.PROJECT == hookspecs.PROJECT


def test_carebook_ships_py_typed():
    assert (Path(carebook.__file__).parent / "py.typed").exists()


def test_builtin_objects_satisfy_the_published_protocols(tmp_path):
    with make_ledger(tmp_path, persons=0) as ledger:
        assert isinstance(ledger, types.Ledger) and isinstance(ledger, types.Host)
        for ft in ledger.registry.field_types.values():
            assert isinstance(ft, types.FieldType), ft
        for exp in ledger.exporters():
            assert isinstance(exp, types.Exporter), exp
        job = carebook.ExportJob(what="roster", output=tmp_path, engine=ledger)
        assert isinstance(job, types.Job)
        form = ledger.form("registration")
        assert isinstance(form.field("name"), types.FormField)


def test_make_ledger_and_run_export_give_a_real_masked_roster(tmp_path):
    progress = ProgressLog()
    with make_ledger(tmp_path, persons=20) as ledger:
        assert ledger.count("registration") == 20
        assert (tmp_path / "forms" / "registration.yaml").exists()      # the test's own copy
        [path] = run_export(ledger, "csv", "roster", progress=progress)
    text = path.read_text(encoding="utf-8-sig")
    assert "********" in text and path.parent == tmp_path / "export"


def test_sample_report_streams_its_rows_once():
    report = sample_report(rows=2)
    assert [r["seq"] for r in report.rows] == [1, 2]
    assert list(report.rows) == []
    assert {c.pii for c in report.columns} >= {"id", "phone"}


def test_shipped_forms_are_the_checkout_forms_here():
    assert shipped_forms() == Path(__file__).resolve().parents[1] / "forms"


def test_fixture_gives_a_ledger(carebook_ledger, carebook_progress):
    assert carebook_ledger.count("registration") == 20
    carebook_progress(5, 10)
    assert carebook_progress.calls == [(5, 10)]
