"""A long report is written by a second process while the engine reads rows (core.transfer.exportpipe):
the file must be the same as written in-process, masking included, and every failure — the
writer's, the reader's, a writer that dies — must come back as an error, never a hang or a
half-written file."""
from __future__ import annotations

import subprocess

import openpyxl
import pytest

from core.transfer import exportpipe
from core.transfer.exportpipe import ExportFailed, write_report
from core.reporting.reportmodel import Column, Report


@pytest.fixture(scope="module")
def demo_eng(engine):
    from core.transfer import demo

    demo.generate(engine, persons=40, seed=7)
    return engine


@pytest.fixture
def children(monkeypatch):
    """Every writing process started (the real one is still started)."""
    started = []
    real = subprocess.Popen

    def spy(*args, **kwargs):
        proc = real(*args, **kwargs)
        started.append(proc)
        return proc
    monkeypatch.setattr(exportpipe.subprocess, "Popen", spy)
    return started


def cells(path) -> tuple[list, list]:
    ws = openpyxl.load_workbook(path).active
    return [[c.value for c in row] for row in ws.iter_rows()], sorted(str(r) for r in ws.merged_cells.ranges)


@pytest.mark.parametrize("full", [False, True])
def test_roster_written_by_a_second_process_is_the_same_file(demo_eng, tmp_path, monkeypatch, children, full):
    monkeypatch.setenv("CAREBOOK_EXPORT_PROCESS", "off")
    [here] = demo_eng.export("roster", "xlsx", tmp_path / "here.xlsx", full=full)
    assert children == []
    monkeypatch.delenv("CAREBOOK_EXPORT_PROCESS")
    monkeypatch.setenv("CAREBOOK_EXPORT_PROCESS_ROWS", "1")
    [there] = demo_eng.export("roster", "xlsx", tmp_path / "there.xlsx", full=full)
    assert len(children) == 1 and children[0].returncode == 0
    rows, merges = cells(there)
    assert (rows, merges) == cells(here)
    ids = [r[5] for r in rows if isinstance(r[0], int)]
    assert len(ids) > 10 and all(("*" in i) != full for i in ids)


def roster(rows, n=None) -> Report:
    cols = [Column("seq", "序号", kind="int"), Column("id_number", "公民身份号码", pii="id")]
    return Report(name="roster", title="花名册", columns=cols, rows=rows, row_count=n, notes=[])


def people(n):
    for i in range(n):
        yield {"seq": i + 1, "id_number": f"12010719380101{i:04d}"}


def test_rows_cross_in_batches_and_the_tail_arrives_after_them(tmp_path, children):
    from export_pipe_support import counting_writer

    def rows():
        yield from people(1203)
        report.notes.append("读完才知道的说明")      # set while rows stream, as builders may
    report = roster(rows(), 1203)
    done = []
    assert write_report(counting_writer, report, tmp_path / "r.txt", full=False, min_rows=1,
                        progress=done.append) == 1203
    lines = (tmp_path / "r.txt").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "花名册" and lines[1] == "1\t120107********0000" and lines[-1] == "合计 1203; notes 1"
    assert done == [500, 1000] and len(children) == 1


def test_short_reports_and_local_writers_stay_in_this_process(tmp_path, children):
    from export_pipe_support import counting_writer

    assert write_report(counting_writer, roster(people(10), 10), tmp_path / "a.txt", full=True) == 10

    def local(report, path, mask, progress):
        return sum(1 for _ in report.rows)
    assert write_report(local, roster(people(10), 10), tmp_path / "b.txt", full=True, min_rows=1) == 10
    assert children == []


def test_the_writers_error_comes_back_in_its_own_words(tmp_path):
    from export_pipe_support import failing_writer

    with pytest.raises(ExportFailed, match="ValueError: 第 4 行写不下去"):
        write_report(failing_writer, roster(people(5000), 5000), tmp_path / "x", full=False, min_rows=1)


def test_a_writer_that_dies_is_an_error_not_a_hang(tmp_path):
    from export_pipe_support import dying_writer

    with pytest.raises(ExportFailed, match="写文件的进程意外退出"):
        write_report(dying_writer, roster(people(5000), 5000), tmp_path / "x", full=False, min_rows=1)


def test_a_reading_error_stops_the_writer_and_leaves_no_file(tmp_path, children):
    from plugins.xlsx_report import write_report_xlsx

    def broken():
        yield from people(2000)
        raise OSError("村文件读不出来")
    with pytest.raises(OSError, match="村文件读不出来"):
        write_report(write_report_xlsx, roster(broken(), 5000), tmp_path / "r.xlsx", full=False, min_rows=1)
    assert not (tmp_path / "r.xlsx").exists()
    assert children[0].poll() is not None
