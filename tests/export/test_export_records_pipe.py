"""A long records export is written by a second process (core.transfer.exportpipe.write_rows)
while this one reads the villages and builds the rows: the workbook must be the same as written
in one process — every sheet, cell for cell, masking both ways — and the rows must be masked
before they leave this process (the writing process never sees a full ID number it was not
asked for)."""
from __future__ import annotations

import pickle
import subprocess

import openpyxl
import pytest

from core.transfer import exportpipe
from core.transfer.exportpipe import write_rows


@pytest.fixture(scope="module")
def demo_eng(engine):
    from core.transfer import demo

    demo.generate(engine, persons=60, seed=11)
    return engine


@pytest.fixture
def children(monkeypatch):
    """Every writing process started, and every message sent to one (the real one is started)."""
    started, sent = [], []
    real, real_dump = subprocess.Popen, exportpipe.pickle.dump

    def spy(*args, **kwargs):
        proc = real(*args, **kwargs)
        started.append(proc)
        return proc

    def dump(message, stream, *args, **kwargs):
        sent.append(message)
        return real_dump(message, stream, *args, **kwargs)
    monkeypatch.setattr(exportpipe.subprocess, "Popen", spy)
    monkeypatch.setattr(exportpipe.pickle, "dump", dump)
    return started, sent


def sheets(path) -> dict[str, list[list]]:
    wb = openpyxl.load_workbook(path)
    out = {ws.title: [[c.value for c in row] for row in ws.iter_rows()] for ws in wb.worksheets}
    out["_widths"] = [[k, round(d.width, 1)] for k, d in sorted(wb.worksheets[0].column_dimensions.items())]
    return out


@pytest.mark.parametrize("full", [False, True])
def test_records_written_by_a_second_process_are_the_same_workbook(demo_eng, tmp_path, monkeypatch, children, full):
    started, sent = children
    monkeypatch.setenv("CAREBOOK_EXPORT_PROCESS", "off")
    [here] = demo_eng.export("records", "xlsx", tmp_path / "here.xlsx", full=full)
    assert started == []
    monkeypatch.delenv("CAREBOOK_EXPORT_PROCESS")
    monkeypatch.setenv("CAREBOOK_EXPORT_PROCESS_ROWS", "7")
    [there] = demo_eng.export("records", "xlsx", tmp_path / "there.xlsx", full=full)
    assert len(started) == 1 and started[0].returncode == 0
    assert sheets(there) == sheets(here)

    rows = [r for message in sent if message[0] == "rows" for r in message[1]]
    assert len(rows) == 60
    head = sheets(there)[openpyxl.load_workbook(there).sheetnames[0]][0]
    ids = [row[head.index("公民身份号码")] for row, _groups in rows]
    assert len(ids) == 60 and all(("*" in i) != full for i in ids)
    if not full:                       # not one full ID number crossed to the writing process
        full_ids = {rec["data"]["id_number"] for rec in demo_eng.iter_records("registration")}
        assert not any(i.encode() in pickle.dumps(sent) for i in full_ids)


def test_few_rows_stay_in_this_process(tmp_path, children):
    from export_pipe_support import row_writer

    started, _ = children
    assert write_rows(row_writer, "表头", iter([["a"], ["b"]]), tmp_path / "a.txt", min_rows=3) == 2
    assert started == [] and (tmp_path / "a.txt").read_text(encoding="utf-8") == "表头\na\nb\n"
    assert write_rows(row_writer, "表头", iter([["a"], ["b"], ["c"]]), tmp_path / "b.txt", min_rows=3) == 3
    assert len(started) == 1 and (tmp_path / "b.txt").read_text(encoding="utf-8") == "表头\na\nb\nc\n"


def test_a_reading_error_after_the_rows_read_ahead_stops_the_writer(tmp_path, children):
    from export_pipe_support import row_writer

    started, _ = children

    def broken():
        yield from (["行"] for _ in range(1200))
        raise OSError("村文件读不出来")
    with pytest.raises(OSError, match="村文件读不出来"):
        write_rows(row_writer, "表头", broken(), tmp_path / "r.txt", min_rows=10)
    assert len(started) == 1 and started[0].poll() is not None
