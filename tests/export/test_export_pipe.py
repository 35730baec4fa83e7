"""A long report, or a long records export, is written by a second process while the engine reads
rows (core.transfer.exportpipe): the file must be the same as written in-process, masking
included (a records export's rows masked before they leave this process), and every failure —
the writer's, the reader's, a writer that dies — must come back as an error, never a hang or a
half-written file."""
from __future__ import annotations

import pickle
import subprocess

import openpyxl
import pytest

from core.transfer import exportpipe
from core.transfer.exportpipe import ExportFailed, write_report, write_rows
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


@pytest.fixture
def sent(monkeypatch):
    """Every message sent to a writing process."""
    messages = []
    real = exportpipe.pickle.dump

    def dump(message, stream, *args, **kwargs):
        messages.append(message)
        return real(message, stream, *args, **kwargs)
    monkeypatch.setattr(exportpipe.pickle, "dump", dump)
    return messages


def cells(path) -> tuple[list, list]:
    ws = openpyxl.load_workbook(path).active
    return [[c.value for c in row] for row in ws.iter_rows()], sorted(str(r) for r in ws.merged_cells.ranges)


def here_and_there(eng, what: str, tmp_path, monkeypatch, children, full: bool):
    """(the export written in this process, the same export written by a second process)."""
    monkeypatch.setenv("CAREBOOK_EXPORT_PROCESS", "off")
    [here] = eng.export(what, "xlsx", tmp_path / "here.xlsx", full=full)
    assert children == []
    monkeypatch.delenv("CAREBOOK_EXPORT_PROCESS")
    monkeypatch.setenv("CAREBOOK_EXPORT_PROCESS_ROWS", "1")
    [there] = eng.export(what, "xlsx", tmp_path / "there.xlsx", full=full)
    assert len(children) == 1 and children[0].returncode == 0
    return here, there


@pytest.mark.parametrize("full", [False, True])
def test_roster_written_by_a_second_process_is_the_same_file(demo_eng, tmp_path, monkeypatch, children, full):
    here, there = here_and_there(demo_eng, "roster", tmp_path, monkeypatch, children, full)
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


def sheets(path) -> dict[str, list[list]]:
    wb = openpyxl.load_workbook(path)
    out = {ws.title: [[c.value for c in row] for row in ws.iter_rows()] for ws in wb.worksheets}
    out["_widths"] = [[k, round(d.width, 1)] for k, d in sorted(wb.worksheets[0].column_dimensions.items())]
    return out


@pytest.mark.parametrize("full", [False, True])
def test_records_written_by_a_second_process_are_the_same_workbook(demo_eng, tmp_path, monkeypatch, children, sent,
                                                                  full):
    """A long records export (`write_rows`): the rows are built and masked here, and the
    workbook written by a second process is the one written in this process."""
    here, there = here_and_there(demo_eng, "records", tmp_path, monkeypatch, children, full)
    assert sheets(there) == sheets(here)

    rows = [r for message in sent if message[0] == "rows" for r in message[1]]
    assert len(rows) == 40
    head = sheets(there)[openpyxl.load_workbook(there).sheetnames[0]][0]
    ids = [row[head.index("公民身份号码")] for row, _groups in rows]
    assert len(ids) == 40 and all(("*" in i) != full for i in ids)
    if not full:                       # not one full ID number crossed to the writing process
        full_ids = {rec["data"]["id_number"] for rec in demo_eng.iter_records("registration")}
        assert not any(i.encode() in pickle.dumps(sent) for i in full_ids)


def test_few_finished_rows_stay_in_this_process(tmp_path, children):
    from export_pipe_support import row_writer

    started = children
    assert write_rows(row_writer, "表头", iter([["a"], ["b"]]), tmp_path / "a.txt", min_rows=3) == 2
    assert started == [] and (tmp_path / "a.txt").read_text(encoding="utf-8") == "表头\na\nb\n"
    assert write_rows(row_writer, "表头", iter([["a"], ["b"], ["c"]]), tmp_path / "b.txt", min_rows=3) == 3
    assert len(started) == 1 and (tmp_path / "b.txt").read_text(encoding="utf-8") == "表头\na\nb\nc\n"
    # told how many rows there are: decided by that, before any row is read
    assert write_rows(row_writer, "表头", iter([["a"], ["b"], ["c"]]), tmp_path / "c.txt", min_rows=3, count=2) == 3
    assert len(started) == 1
    assert write_rows(row_writer, "表头", iter([["a"]]), tmp_path / "d.txt", min_rows=3, count=3) == 1
    assert len(started) == 2 and (tmp_path / "d.txt").read_text(encoding="utf-8") == "表头\na\n"


def test_a_reading_error_after_the_rows_read_ahead_stops_the_writer(tmp_path, children):
    from export_pipe_support import row_writer

    started = children

    def broken():
        yield from (["行"] for _ in range(1200))
        raise OSError("村文件读不出来")
    with pytest.raises(OSError, match="村文件读不出来"):
        write_rows(row_writer, "表头", broken(), tmp_path / "r.txt", min_rows=10)
    assert len(started) == 1 and started[0].poll() is not None
