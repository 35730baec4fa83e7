"""The Markdown writer on real carebook reports: masking, headers, totals, streaming."""
from __future__ import annotations

from pathlib import Path

from carebook_export_markdown import render
from carebook import Column, ExportJob, Problem, Report

ID = "120107194803150032"
PHONE = "13812345678"


def roster(rows):
    return Report(
        name="roster",
        title="天津市滨海新区农村留守老年人花名册",
        columns=[
            Column("seq", "序号", kind="int"),
            Column("name", "姓名", pii="name"),
            Column("id_number", "公民身份号码", pii="id"),
            Column("phone", "联系电话", pii="phone"),
            Column("male", "男", groups=("性别",), number="2", kind="int"),
            Column("needs", "关爱服务需求"),
        ],
        rows=rows,
        unit="太平镇",
        date="2026-11-30",
        checks=[Problem("身份证号码校验位不符", path="id_number")],
        notes=["按街镇、村、姓名排序"],
    )


def people():
    yield {"seq": 1, "name": "王秀兰", "id_number": ID, "phone": PHONE, "male": 0,
           "needs": ["生活照料", "精神慰藉"]}
    yield {"seq": 2, "name": "李|四", "id_number": None, "phone": "", "male": 1, "needs": "住在\n东头"}


def job(tmp_path: Path, full: bool) -> ExportJob:
    return ExportJob(what="roster", output=tmp_path, engine=None, full=full)


def test_personal_values_are_masked_by_default(tmp_path):
    text = "\n".join(render(roster(people()), job(tmp_path, full=False).mask))
    assert ID not in text and PHONE not in text
    assert "120107********0032" in text
    assert "138****5678" in text
    assert "王秀兰" in text                      # names are not masked (kind "name")


def test_full_export_shows_personal_values(tmp_path):
    text = "\n".join(render(roster(people()), job(tmp_path, full=True).mask))
    assert ID in text and PHONE in text


def test_table_shape(tmp_path):
    lines = list(render(roster(people()), job(tmp_path, full=False).mask))
    assert lines[0] == "# 天津市滨海新区农村留守老年人花名册"
    header = next(line for line in lines if line.startswith("| 序号"))
    assert "性别／男（2）" in header
    rule = lines[lines.index(header) + 1]
    assert rule.startswith("| ---: | --- |")     # integer columns right-aligned
    rows = [line for line in lines if line.startswith("| 1 ") or line.startswith("| 2 ")]
    assert len(rows) == 2
    assert "生活照料、精神慰藉" in rows[0]
    assert "李\\|四" in rows[1] and "住在<br>东头" in rows[1]   # the table stays one row
    assert all(r.count(" | ") == 5 for r in rows)               # six cells each
    assert "共 2 行。" in lines
    assert "- id_number: 身份证号码校验位不符" in lines
    assert lines[-1].startswith("单位负责人：")


def test_summary_total_row_and_progress(tmp_path):
    seen = []
    summary = Report(
        name="summary",
        title="天津市滨海新区农村留守老年人基本情况排查汇总表",
        columns=[Column("unit", "单位"), Column("total", "留守老年人总数", number="1", kind="int")],
        rows=iter([{"unit": "太平镇", "total": 3}, {"unit": "小王庄镇", "total": 4}]),
        total={"total": 7},
        period="2026Q4",
        late=True,
        row_count=2,
    )
    lines = list(render(summary, job(tmp_path, full=False).mask, lambda done, total: seen.append((done, total))))
    assert "| **合计** | 7 |" in lines
    assert "统计期：2026Q4　（逾期）" in lines
    assert seen == [(1, 2), (2, 2)]
